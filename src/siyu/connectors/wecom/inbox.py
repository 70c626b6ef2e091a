"""Queries of the callback inbox and the refusal counters; every one filters by workspace."""

from dataclasses import dataclass
from datetime import date, datetime
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.models import WecomCallback, WecomCallbackRefusal, WecomConnection, Workspace


@dataclass(frozen=True)
class Receiver:
    """The workspace a callback URL names, and the version of its connection's keys."""

    workspace_id: int
    connection_id: int | None
    corp_id: str | None
    updated_at: datetime | None


# The callback path runs Core statements built once: it must stay fast under bursts.
_RECEIVER = (
    select(Workspace.id, WecomConnection.id, WecomConnection.corp_id, WecomConnection.updated_at)
    .outerjoin(WecomConnection, WecomConnection.workspace_id == Workspace.id)
    .where(Workspace.slug == bindparam("slug"))
)
_CALLBACK = WecomCallback.__table__
_REFUSAL = WecomCallbackRefusal.__table__


def _store_statement(dialect: ModuleType) -> Any:
    return (
        dialect.insert(_CALLBACK)
        .on_conflict_do_nothing(index_elements=["workspace_id", "dedupe_key"])
        .returning(_CALLBACK.c.id, _CALLBACK.c.workspace_id, _CALLBACK.c.dedupe_key)
    )


def _count_statement(dialect: ModuleType) -> Any:
    return dialect.insert(_REFUSAL).on_conflict_do_update(
        index_elements=["workspace_id", "day", "reason"],
        set_={"count": _REFUSAL.c.count + 1},
    )


_STORE = {"postgresql": _store_statement(postgresql), "sqlite": _store_statement(sqlite)}
_COUNT_REFUSAL = {"postgresql": _count_statement(postgresql), "sqlite": _count_statement(sqlite)}


def receiver(connection: Connection, slug: str) -> Receiver | None:
    row = connection.execute(_RECEIVER, {"slug": slug}).first()
    return None if row is None else Receiver(*row)


def load_connection(connection: Connection, connection_id: int) -> WecomConnection | None:
    with Session(bind=connection) as session:
        return session.get(WecomConnection, connection_id)


def mark_verified(connection: Connection, connection_id: int, at: datetime) -> None:
    connection.execute(
        update(WecomConnection)
        .where(WecomConnection.id == connection_id)
        .values(status="verified", callback_verified_at=at)
    )


@dataclass(frozen=True)
class NewCallback:
    workspace_id: int
    dedupe_key: str
    event: str
    change_type: str | None
    raw_xml: str
    received_at: datetime


def store_many(connection: Connection, callbacks: list[NewCallback]) -> dict[tuple[int, str], int]:
    """Insert callbacks in one statement; the ids of those that were not in the inbox yet,
    by (workspace id, dedupe key)."""
    rows = connection.execute(
        _STORE[connection.dialect.name],
        [
            {
                "workspace_id": c.workspace_id,
                "dedupe_key": c.dedupe_key,
                "event": c.event[:64],
                "change_type": None if c.change_type is None else c.change_type[:64],
                "raw_xml": c.raw_xml,
                "received_at": c.received_at,
                "status": "received",
            }
            for c in callbacks
        ],
    )
    return {(workspace_id, key): callback_id for callback_id, workspace_id, key in rows}


def count_refusal(connection: Connection, *, workspace_id: int, reason: str, day: date) -> None:
    connection.execute(
        _COUNT_REFUSAL[connection.dialect.name],
        {"workspace_id": workspace_id, "day": day, "reason": reason, "count": 1},
    )


def callback(session: Session, workspace_id: int, callback_id: int) -> WecomCallback | None:
    return session.scalar(
        select(WecomCallback).where(
            WecomCallback.workspace_id == workspace_id, WecomCallback.id == callback_id
        )
    )


def counts_by_status(session: Session, workspace_id: int) -> dict[str, int]:
    rows = session.execute(
        select(WecomCallback.status, func.count())
        .where(WecomCallback.workspace_id == workspace_id)
        .group_by(WecomCallback.status)
    ).all()
    return {str(status): int(count) for status, count in rows}


def last_received_at(session: Session, workspace_id: int) -> datetime | None:
    found: datetime | None = session.scalar(
        select(func.max(WecomCallback.received_at)).where(
            WecomCallback.workspace_id == workspace_id
        )
    )
    return found


def refusals(session: Session, workspace_id: int) -> list[WecomCallbackRefusal]:
    return list(
        session.scalars(
            select(WecomCallbackRefusal)
            .where(WecomCallbackRefusal.workspace_id == workspace_id)
            .order_by(WecomCallbackRefusal.day.desc(), WecomCallbackRefusal.reason)
        )
    )


def callbacks_query(workspace_id: int, status: str | None) -> Select[Any]:
    stmt = select(WecomCallback).where(WecomCallback.workspace_id == workspace_id)
    if status is not None:
        stmt = stmt.where(WecomCallback.status == status)
    return stmt


# -- retention ------------------------------------------------------------------------

DONE = ("processed", "ignored")


def workspace_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Workspace.id).order_by(Workspace.id)))


def old_callback_ids(
    session: Session, workspace_id: int, *, received_before: datetime, limit: int
) -> list[int]:
    """Processed (or ignored) callbacks received before the cutoff; failed ones are kept."""
    return list(
        session.scalars(
            select(WecomCallback.id)
            .where(
                WecomCallback.workspace_id == workspace_id,
                WecomCallback.status.in_(DONE),
                WecomCallback.received_at < received_before,
            )
            .order_by(WecomCallback.id)
            .limit(limit)
        )
    )


def delete_callbacks(session: Session, workspace_id: int, ids: list[int]) -> int:
    result = session.execute(
        delete(WecomCallback)
        .where(WecomCallback.workspace_id == workspace_id, WecomCallback.id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_refusals(session: Session, workspace_id: int, *, before: date) -> int:
    """The refused-callback counts of days before `before`."""
    result = session.execute(
        delete(WecomCallbackRefusal)
        .where(WecomCallbackRefusal.workspace_id == workspace_id, WecomCallbackRefusal.day < before)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
