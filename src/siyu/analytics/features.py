"""Per-customer order features over rolling calendar windows, kept for segments and RFM.

Windows are calendar days in the workspace time zone ending today (as segment rules
count them), so a row is exact for the day it was computed on: new orders refresh their
customers at once (through the changed-customer refresh) and a daily job rolls everyone.
Orders count as customer stats do: paid, shipped and completed orders count; money is
what was paid less refunds over paid, shipped, completed and refunded orders.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, case, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.commerce.repository import COUNTED_STATUSES, PAID_STATUSES
from siyu.db.bulk import among
from siyu.db.types import UTCDateTime
from siyu.models import Customer, CustomerFeature, Order
from siyu.segments.context import CompileContext

WINDOWS = (30, 90, 365)
CHUNK = 20_000


def _features_select(ctx: CompileContext, customers: Select[Any]) -> Select[Any]:
    starts = {days: ctx.window_start(days) for days in WINDOWS}
    columns = []
    for days in WINDOWS:
        inside = Order.ordered_at >= starts[days]
        columns.append(
            func.coalesce(
                func.sum(case((inside & Order.status.in_(COUNTED_STATUSES), 1), else_=0)), 0
            ).label(f"orders_{days}d")
        )
    for days in WINDOWS:
        inside = Order.ordered_at >= starts[days]
        columns.append(
            func.coalesce(
                func.sum(case((inside, Order.paid_fen - Order.refunded_fen), else_=0)), 0
            ).label(f"paid_{days}d_fen")
        )
    picked = customers.subquery("picked")
    return (
        select(
            literal(ctx.workspace_id).label("workspace_id"),
            picked.c.id.label("customer_id"),
            *columns,
            literal(ctx.now, UTCDateTime()).label("computed_at"),
        )
        .select_from(picked)
        .outerjoin(
            Order,
            (Order.customer_id == picked.c.id)
            & (Order.workspace_id == ctx.workspace_id)
            & (Order.status.in_(PAID_STATUSES))
            & (Order.ordered_at >= starts[max(WINDOWS)]),
        )
        .group_by(picked.c.id)
    )


def _upsert(session: Session, ctx: CompileContext, customers: Select[Any]) -> None:
    names = [f"orders_{d}d" for d in WINDOWS] + [f"paid_{d}d_fen" for d in WINDOWS]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(CustomerFeature).from_select(
        ["workspace_id", "customer_id", *names, "computed_at"],
        _features_select(ctx, customers),
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={name: getattr(stmt.excluded, name) for name in [*names, "computed_at"]},
        )
    )


def refresh_customers(session: Session, ctx: CompileContext, customer_ids: Sequence[int]) -> None:
    """Recompute the order windows of these customers (set-based, one statement a chunk)."""
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        _upsert(
            session,
            ctx,
            select(Customer.id).where(
                Customer.workspace_id == ctx.workspace_id,
                Customer.merged_into_id.is_(None),
                among(session, Customer.id, chunk),
            ),
        )


def id_ranges(session: Session, workspace_id: int, size: int = CHUNK) -> list[tuple[int, int]]:
    """Inclusive (first, last) customer-id ranges of about `size` live customers each."""
    low, high = session.execute(
        select(func.min(Customer.id), func.max(Customer.id)).where(
            Customer.workspace_id == workspace_id
        )
    ).one()
    if low is None:
        return []
    return [(start, min(start + size - 1, high)) for start in range(low, high + 1, size)]


def ids_between(session: Session, workspace_id: int, first: int, last: int) -> list[int]:
    return list(
        session.scalars(
            select(Customer.id).where(
                Customer.workspace_id == workspace_id,
                Customer.merged_into_id.is_(None),
                Customer.id.between(first, last),
            )
        )
    )


def refresh_range(session: Session, ctx: CompileContext, first: int, last: int) -> None:
    """Recompute every live customer with an id in [first, last]."""
    _upsert(
        session,
        ctx,
        select(Customer.id).where(
            Customer.workspace_id == ctx.workspace_id,
            Customer.merged_into_id.is_(None),
            Customer.id.between(first, last),
        ),
    )
