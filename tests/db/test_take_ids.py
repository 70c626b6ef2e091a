"""Ids taken up front for bulk inserts: ascending, unused, never handed out twice."""

from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from siyu.db.bulk import take_ids
from siyu.models import Customer, Order
from tests.conftest import WorkspaceFixture


def test_taken_ids_ascend_above_the_stored_ones_and_never_repeat(
    db: Session, workspace: WorkspaceFixture
) -> None:
    db.add_all(Customer(workspace_id=workspace.id, name=f"客户{i}") for i in range(3))
    db.flush()
    stored = db.scalar(select(func.max(Customer.id)))
    assert stored is not None

    table = cast("Table", Customer.__table__)
    first = take_ids(db, table, 5)
    assert first == sorted(set(first))
    assert len(first) == 5
    assert first[0] > stored
    # Taken ids are used at once; the next batch starts after them.
    db.add_all(Customer(id=i, workspace_id=workspace.id, name="新客") for i in first)
    db.flush()
    second = take_ids(db, table, 2)
    assert second[0] > first[-1]
    assert take_ids(db, cast("Table", Order.__table__), 1)[0] >= 1
