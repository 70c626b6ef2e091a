"""Customer stats kept current as orders and events arrive (bulk, per batch)."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Table
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from siyu.db.bulk import sqlite_datetime, update_by_id
from siyu.db.types import UTCDateTime
from siyu.kit.time import utcnow
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
    _update_customers(
        session,
        workspace_id,
        [
            ("order_count", BigInteger()),
            ("total_paid_fen", BigInteger()),
            ("first_order_at", UTCDateTime()),
            ("last_order_at", UTCDateTime()),
        ],
        [
            (customer_id, s.order_count, s.total_paid_fen, s.first_order_at, s.last_order_at)
            for customer_id, s in sorted(stats.items())
        ],
    )


def touch_last_active(
    session: Session, workspace_id: int, last_active: Mapping[int, datetime]
) -> None:
    """Move each customer's last_active_at forward to the given time, never backward."""
    _update_customers(
        session,
        workspace_id,
        [("last_active_at", UTCDateTime())],
        sorted(last_active.items()),
        forward_only="last_active_at",
    )


def _update_customers(
    session: Session,
    workspace_id: int,
    columns: Sequence[tuple[str, TypeEngine[Any]]],
    rows: Sequence[tuple[Any, ...]],
    *,
    forward_only: str | None = None,
) -> None:
    """Set `columns` from rows of (customer id, *values): one statement per batch on
    PostgreSQL (`unnest` of arrays), an executemany of cheap in-process calls on SQLite."""
    if not rows:
        return
    table: Table = Customer.__table__  # type: ignore[assignment]
    names = [name for name, _ in columns]
    if session.get_bind().dialect.name == "postgresql":
        now = utcnow()
        update_by_id(
            session,
            table,
            [
                {"id": row[0], **dict(zip(names, row[1:], strict=True)), "updated_at": now}
                for row in rows
            ],
            workspace_id=workspace_id,
            forward_only=forward_only,
        )
    else:
        # A raw executemany: SQLAlchemy's per-row parameter processing costs more than
        # SQLite's update.
        assignments = ", ".join(f"{name} = ?" for name in [*names, "updated_at"])
        sql = f"UPDATE customer SET {assignments} WHERE workspace_id = ? AND id = ?"  # noqa: S608
        if forward_only is not None:
            sql += f" AND ({forward_only} IS NULL OR {forward_only} < ?)"
        moved = names.index(forward_only) if forward_only is not None else None
        converters: list[Callable[[Any], Any]] = [
            sqlite_datetime if isinstance(t, UTCDateTime) else _same for _, t in columns
        ]
        stamp = sqlite_datetime(utcnow())
        params: list[tuple[Any, ...]] = []
        for customer_id, *values in rows:
            converted = [convert(v) for convert, v in zip(converters, values, strict=True)]
            extra = [] if moved is None else [converted[moved]]
            params.append((*converted, stamp, workspace_id, customer_id, *extra))
        session.connection().exec_driver_sql(sql, params)
    expire_customers(session, workspace_id, [row[0] for row in rows])


def expire_customers(session: Session, workspace_id: int, customer_ids: Iterable[int]) -> None:
    """Loaded Customer objects must not keep the stats the Core UPDATE just replaced."""
    wanted = set(customer_ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Customer) and obj.workspace_id == workspace_id and obj.id in wanted:
            session.expire(obj)


def _same(value: Any) -> Any:
    return value
