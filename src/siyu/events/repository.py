"""Queries of the events domain; every one is filtered by the workspace."""

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Row, Select, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.db.bulk import among, insert_ignoring_conflicts, insert_rows
from siyu.kit.timeline import TimelineCursor, older_than
from siyu.models import Event, EventType

# Keeps IN lists well under every driver's bound-parameter limit.
CHUNK = 1000


def _chunks(values: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class EventRepository:
    def __init__(self, session: Session, workspace_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id

    def _insert_ignoring_conflicts(self, table: Any) -> Insert:
        """INSERT … ON CONFLICT DO NOTHING: concurrent writers of the same key never fail."""
        if self.session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        return sqlite.insert(table).on_conflict_do_nothing()

    # -- event types ------------------------------------------------------------

    def event_type(self, name: str) -> EventType | None:
        return self.session.scalar(
            select(EventType).where(
                EventType.workspace_id == self.workspace_id, EventType.name == name
            )
        )

    def schemas_of(self, names: Collection[str]) -> dict[str, dict[str, Any]]:
        """The properties schema of each registered type among `names`."""
        wanted = sorted(names)
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(wanted):
            rows = self.session.execute(
                select(EventType.name, EventType.properties_schema).where(
                    EventType.workspace_id == self.workspace_id, EventType.name.in_(chunk)
                )
            )
            for name, schema in rows:
                found[name] = schema
        return found

    def event_types_stmt(self) -> Select[EventType]:
        return select(EventType).where(EventType.workspace_id == self.workspace_id)

    def register_types(self, names: Collection[str], *, now: datetime) -> None:
        """Register each name with an empty schema unless it is registered already."""
        if not names:
            return
        rows = [
            {
                "workspace_id": self.workspace_id,
                "name": name,
                "display_name": name,
                "properties_schema": {},
                "created_at": now,
                "updated_at": now,
            }
            for name in sorted(names)
        ]
        self.session.execute(self._insert_ignoring_conflicts(EventType.__table__), rows)

    # -- events -----------------------------------------------------------------

    def existing_keys(self, keys: Collection[str]) -> set[str]:
        if not keys:
            return set()
        return set(
            self.session.scalars(
                select(Event.event_key).where(
                    Event.workspace_id == self.workspace_id,
                    among(self.session, Event.event_key, sorted(keys)),
                )
            )
        )

    def insert_new(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Insert the rows in one statement; return the keys actually stored.

        A key another transaction stored meanwhile is skipped, not an error, so the caller
        reports it as a duplicate.
        """
        if not rows:
            return set()
        for row in rows:
            row["workspace_id"] = self.workspace_id
        table: Table = Event.__table__  # type: ignore[assignment]
        if self.session.get_bind().dialect.name == "postgresql":
            return set(insert_ignoring_conflicts(self.session, table, rows, returning="event_key"))
        # SQLite: the rows a concurrent writer got in first are skipped; ours are the ones
        # with ids above the largest before the insert.
        before = self.session.scalar(select(func.max(Event.id))) or 0
        if insert_rows(self.session, table, rows, ignore_conflicts=True) == len(rows):
            return {row["event_key"] for row in rows}
        keys = [row["event_key"] for row in rows]
        stored: set[str] = set()
        for chunk in _chunks(keys):
            stored.update(
                self.session.scalars(
                    select(Event.event_key).where(
                        Event.workspace_id == self.workspace_id,
                        Event.id > before,
                        Event.event_key.in_(chunk),
                    )
                )
            )
        return stored

    def timeline(
        self, customer_id: int, *, before: TimelineCursor | None, limit: int
    ) -> Sequence[Row[tuple[int, datetime, str, str, dict[str, Any], str | None]]]:
        """The customer's events newest first, with their type's display name."""
        return self.session.execute(
            select(
                Event.id,
                Event.occurred_at,
                Event.event_type,
                Event.event_key,
                Event.properties,
                EventType.display_name,
            )
            .outerjoin(
                EventType,
                (EventType.workspace_id == Event.workspace_id)
                & (EventType.name == Event.event_type),
            )
            .where(
                Event.workspace_id == self.workspace_id,
                Event.customer_id == customer_id,
                older_than(before, "event", Event.occurred_at.expression, Event.id.expression),
            )
            .order_by(Event.occurred_at.desc(), Event.id.desc())
            .limit(limit)
        ).all()
