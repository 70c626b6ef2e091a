from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from siyu.customers.stats import OrderStats, apply_order_stats, touch_last_active
from siyu.models import Customer
from tests.conftest import MakeWorkspace, WorkspaceFixture


def _customers(db: Session, workspace_id: int, n: int) -> list[Customer]:
    customers = [Customer(workspace_id=workspace_id, name=f"客户{i}") for i in range(n)]
    db.add_all(customers)
    db.flush()
    return customers


def test_order_stats_apply_even_when_every_date_is_empty(
    db: Session, workspace: WorkspaceFixture
) -> None:
    first, second = _customers(db, workspace.id, 2)
    apply_order_stats(
        db,
        workspace.id,
        {
            first.id: OrderStats(0, 0, None, None),
            second.id: OrderStats(0, 500, None, None),
        },
    )
    db.commit()
    db.refresh(second)
    assert (second.order_count, second.total_paid_fen, second.first_order_at) == (0, 500, None)


def test_order_stats_replace_previous_values(db: Session, workspace: WorkspaceFixture) -> None:
    (customer,) = _customers(db, workspace.id, 1)
    at = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    apply_order_stats(db, workspace.id, {customer.id: OrderStats(3, 29_900, at, at)})
    apply_order_stats(db, workspace.id, {customer.id: OrderStats(2, 19_900, at, at)})
    db.commit()
    db.refresh(customer)
    assert (customer.order_count, customer.total_paid_fen, customer.last_order_at) == (
        2,
        19_900,
        at,
    )


def test_last_active_only_moves_forward(db: Session, workspace: WorkspaceFixture) -> None:
    early, late = _customers(db, workspace.id, 2)
    now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    touch_last_active(db, workspace.id, {early.id: now, late.id: now})
    touch_last_active(
        db, workspace.id, {early.id: now - timedelta(days=1), late.id: now + timedelta(hours=1)}
    )
    db.commit()
    db.refresh(early)
    db.refresh(late)
    assert early.last_active_at == now
    assert late.last_active_at == now + timedelta(hours=1)


def test_stats_never_touch_another_workspace(
    db: Session, workspace: WorkspaceFixture, make_workspace: MakeWorkspace
) -> None:
    other = make_workspace()
    (theirs,) = _customers(db, other.id, 1)
    apply_order_stats(db, workspace.id, {theirs.id: OrderStats(9, 9_999, None, None)})
    db.commit()
    db.refresh(theirs)
    assert theirs.order_count == 0
