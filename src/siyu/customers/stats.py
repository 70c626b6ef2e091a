"""Customer stats kept current as orders and events arrive (bulk, one statement per batch)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, or_, update
from sqlalchemy.orm import Session

from siyu.models import Customer


@dataclass(frozen=True)
class OrderStats:
    order_count: int
    total_paid_fen: int
    first_order_at: datetime | None
    last_order_at: datetime | None


def aov_fen(order_count: int, total_paid_fen: int) -> int:
    """Average order value in fen, rounded half up; 0 without orders."""
    if order_count <= 0:
        return 0
    return (2 * total_paid_fen + order_count) // (2 * order_count)


def apply_order_stats(session: Session, workspace_id: int, stats: Mapping[int, OrderStats]) -> None:
    """Set each customer's order stats to the given values (the caller computed them)."""
    if not stats:
        return
    table = cast("Table", Customer.__table__)
    stmt = (
        update(table)
        .where(table.c.workspace_id == workspace_id, table.c.id == bindparam("b_customer_id"))
        .values(
            order_count=bindparam("b_order_count"),
            total_paid_fen=bindparam("b_total_paid_fen"),
            first_order_at=bindparam("b_first_order_at"),
            last_order_at=bindparam("b_last_order_at"),
        )
    )
    session.execute(
        stmt,
        [
            {
                "b_customer_id": customer_id,
                "b_order_count": s.order_count,
                "b_total_paid_fen": s.total_paid_fen,
                "b_first_order_at": s.first_order_at,
                "b_last_order_at": s.last_order_at,
            }
            for customer_id, s in sorted(stats.items())
        ],
    )
    _expire(session, workspace_id, stats.keys())


def touch_last_active(
    session: Session, workspace_id: int, last_active: Mapping[int, datetime]
) -> None:
    """Move each customer's last_active_at forward to the given time, never backward."""
    if not last_active:
        return
    table = cast("Table", Customer.__table__)
    stmt = (
        update(table)
        .where(
            table.c.workspace_id == workspace_id,
            table.c.id == bindparam("b_customer_id"),
            or_(
                table.c.last_active_at.is_(None),
                table.c.last_active_at < bindparam("b_active_at"),
            ),
        )
        .values(last_active_at=bindparam("b_active_at"))
    )
    session.execute(
        stmt,
        [
            {"b_customer_id": customer_id, "b_active_at": at}
            for customer_id, at in sorted(last_active.items())
        ],
    )
    _expire(session, workspace_id, last_active.keys())


def _expire(session: Session, workspace_id: int, customer_ids: Iterable[int]) -> None:
    """Loaded Customer objects must not keep the stats the Core UPDATE just replaced."""
    wanted = set(customer_ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Customer) and obj.workspace_id == workspace_id and obj.id in wanted:
            session.expire(obj)
