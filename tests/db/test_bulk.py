from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from siyu.db.bulk import insert_ignoring_conflicts, update_by_id
from siyu.models import Customer, Event
from tests.conftest import WorkspaceFixture

pytestmark = pytest.mark.postgres_only

EVENTS: Table = Event.__table__  # type: ignore[assignment]
CUSTOMERS: Table = Customer.__table__  # type: ignore[assignment]


def _event(workspace_id: int, customer_id: int, key: str) -> dict[str, object]:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    return {
        "workspace_id": workspace_id,
        "event_key": key,
        "customer_id": customer_id,
        "event_type": "page_view",
        "occurred_at": now,
        "properties": {"page": "首页", "n": 1},
        "received_at": now,
    }


def test_insert_skips_conflicting_rows_and_returns_the_stored_ones(
    db: Session, workspace: WorkspaceFixture
) -> None:
    customer = Customer(workspace_id=workspace.id, name="林晓")
    db.add(customer)
    db.flush()
    first = insert_ignoring_conflicts(
        db, EVENTS, [_event(workspace.id, customer.id, "a")], returning="event_key"
    )
    second = insert_ignoring_conflicts(
        db,
        EVENTS,
        [_event(workspace.id, customer.id, k) for k in ("a", "b")],
        returning="event_key",
    )
    db.commit()
    assert (first, second) == (["a"], ["b"])
    stored = db.scalars(select(Event.properties).where(Event.event_key == "b")).one()
    assert stored == {"page": "首页", "n": 1}


def test_update_moves_forward_only_and_stays_in_its_workspace(
    db: Session, workspace: WorkspaceFixture
) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    customer = Customer(workspace_id=workspace.id, name="周宁", last_active_at=now)
    db.add(customer)
    db.flush()
    update_by_id(
        db,
        CUSTOMERS,
        [{"id": customer.id, "last_active_at": now - timedelta(days=1)}],
        workspace_id=workspace.id,
        forward_only="last_active_at",
    )
    update_by_id(
        db,
        CUSTOMERS,
        [{"id": customer.id, "last_active_at": now + timedelta(days=1)}],
        workspace_id=workspace.id + 1,
    )
    db.commit()
    db.refresh(customer)
    assert customer.last_active_at == now


def test_unknown_column_names_never_reach_the_sql(db: Session) -> None:
    with pytest.raises(ValueError, match="no column"):
        update_by_id(db, CUSTOMERS, [{"id": 1, "name = 'x'; --": 1}], workspace_id=1)
