"""Daily event counters per customer, kept as events arrive.

Segments ask "did X at least N times in the last 30 days" of these rows instead of the
raw events: one row per (type, dimension, local day, customer). Dimension "" counts all
events of the type; "<property>=<value>" counts those with that value of a property the
type lists in `counted_properties` (e.g. product_view by category).
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Table, and_, cast, delete, func, literal, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.db.bulk import upsert
from siyu.models import Event, EventCounter, EventType, Workspace

MAX_VALUE = 120
RECOUNT_JOB = "events.recount"
RECOUNT_CHUNK = 20_000
CounterKey = tuple[str, str, date, int]


def dimension(name: str, value: object) -> str | None:
    """The dimension of a counted property value; None for values that are not counted."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    if not text or len(text) > MAX_VALUE:
        return None
    return f"{name}={text}"


def counted_properties(
    session: Session, workspace_id: int, types: Iterable[str]
) -> dict[str, list[str]]:
    rows = session.execute(
        select(EventType.name, EventType.counted_properties).where(
            EventType.workspace_id == workspace_id, EventType.name.in_(sorted(set(types)))
        )
    )
    return {name: list(props or []) for name, props in rows}


def tally(
    events: Iterable[tuple[int, str, datetime, Mapping[str, Any]]],
    counted: Mapping[str, list[str]],
    zone: ZoneInfo,
) -> Counter[CounterKey]:
    """(type, dimension, local day, customer) -> events, for (customer, type, time, properties)."""
    counts: Counter[CounterKey] = Counter()
    for customer_id, event_type, occurred_at, properties in events:
        day = occurred_at.astimezone(zone).date()
        counts[(event_type, "", day, customer_id)] += 1
        for name in counted.get(event_type, ()):
            dim = dimension(name, properties.get(name))
            if dim is not None:
                counts[(event_type, dim, day, customer_id)] += 1
    return counts


def add(session: Session, workspace_id: int, counts: Counter[CounterKey]) -> None:
    """Add the counts to the stored counters: one upsert for the batch."""
    if not counts:
        return
    table: Table = EventCounter.__table__  # type: ignore[assignment]
    upsert(
        session,
        table,
        [
            {
                "workspace_id": workspace_id,
                "event_type": event_type,
                "dimension": dim,
                "day": day,
                "customer_id": customer_id,
                "count": n,
            }
            for (event_type, dim, day, customer_id), n in sorted(counts.items())
        ],
        conflict=["workspace_id", "event_type", "dimension", "day", "customer_id"],
        update=[],
        add=["count"],
    )


def record(
    session: Session,
    workspace_id: int,
    events: Sequence[tuple[int, str, datetime, Mapping[str, Any]]],
) -> None:
    """Count a batch of newly stored events."""
    if not events:
        return
    zone = ZoneInfo(
        session.scalar(select(Workspace.timezone).where(Workspace.id == workspace_id))
        or "Asia/Shanghai"
    )
    counted = counted_properties(session, workspace_id, {e[1] for e in events})
    add(session, workspace_id, tally(events, counted, zone))


def rebuild_for(session: Session, workspace_id: int, customer_ids: Iterable[int]) -> None:
    """Recount these customers' counters from their stored events (after their events moved)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    session.execute(
        delete(EventCounter).where(
            EventCounter.workspace_id == workspace_id, EventCounter.customer_id.in_(ids)
        )
    )
    events = [
        (customer_id, event_type, occurred_at, properties)
        for customer_id, event_type, occurred_at, properties in session.execute(
            select(Event.customer_id, Event.event_type, Event.occurred_at, Event.properties).where(
                Event.workspace_id == workspace_id, Event.customer_id.in_(ids)
            )
        )
    ]
    record(session, workspace_id, events)


def recount_type(session: Session, workspace_id: int, event_type: str, after_id: int) -> int | None:
    """Recount one chunk of a type's events (ids above `after_id`); the first chunk clears
    the type's counters. Returns the last event id done, or None when finished."""
    if after_id == 0:
        session.execute(
            delete(EventCounter).where(
                EventCounter.workspace_id == workspace_id, EventCounter.event_type == event_type
            )
        )
    zone = _zone(session, workspace_id)
    last = session.scalar(
        select(func.max(Event.id)).where(
            Event.id.in_(
                select(Event.id)
                .where(
                    Event.workspace_id == workspace_id,
                    Event.event_type == event_type,
                    Event.id > after_id,
                )
                .order_by(Event.id)
                .limit(RECOUNT_CHUNK)
            )
        )
    )
    if last is None:
        return None
    day = _local_day(session, zone)
    if day is None:  # a zone with daylight saving on SQLite: count in Python
        rows = session.execute(
            select(Event.customer_id, Event.event_type, Event.occurred_at, Event.properties).where(
                Event.workspace_id == workspace_id,
                Event.event_type == event_type,
                Event.id > after_id,
                Event.id <= last,
            )
        ).all()
        add(
            session,
            workspace_id,
            tally([tuple(r) for r in rows], _counted(session, workspace_id, event_type), zone),
        )
        return int(last)
    _count_in_sql(session, workspace_id, event_type, (after_id, last), day, literal(""), true())
    postgres = session.get_bind().dialect.name == "postgresql"
    for name in _counted(session, workspace_id, event_type).get(event_type, []):
        value = Event.properties[name].as_string()
        kind = (
            func.jsonb_typeof(Event.properties[name])
            if postgres
            else func.json_type(Event.properties, f"$.{name}")
        )
        countable = and_(
            kind.in_(("string", "number", "text", "integer", "real")),
            func.length(value) <= MAX_VALUE,
            func.length(value) > 0,
        )
        dim = literal(f"{name}=") + value
        _count_in_sql(session, workspace_id, event_type, (after_id, last), day, dim, countable)
    return int(last)


def _counted(session: Session, workspace_id: int, event_type: str) -> dict[str, list[str]]:
    return counted_properties(session, workspace_id, [event_type])


def _zone(session: Session, workspace_id: int) -> ZoneInfo:
    name = session.scalar(select(Workspace.timezone).where(Workspace.id == workspace_id))
    return ZoneInfo(name or "Asia/Shanghai")


def _local_day(session: Session, zone: ZoneInfo) -> Any:
    """SQL for an event's local day; None where SQL cannot say it (SQLite, shifting offsets)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(str(zone), Event.occurred_at), Date)
    offsets = {datetime(2026, month, 1, tzinfo=zone).utcoffset() for month in (1, 7)}
    if len(offsets) != 1:
        return None
    minutes = int(next(iter(offsets)).total_seconds() // 60)  # type: ignore[union-attr]
    return func.date(Event.occurred_at, f"{minutes:+d} minutes")


def _count_in_sql(
    session: Session,
    workspace_id: int,
    event_type: str,
    ids: tuple[int, int],
    day: Any,
    dim: Any,
    countable: Any,
) -> None:
    """Add one dimension's counts of the events with ids in (ids[0], ids[1]] in one upsert."""
    table: Table = EventCounter.__table__  # type: ignore[assignment]
    counted = (
        select(
            literal(workspace_id),
            literal(event_type),
            dim,
            day,
            Event.customer_id,
            func.count(),
        )
        .where(
            Event.workspace_id == workspace_id,
            Event.event_type == event_type,
            Event.id > ids[0],
            Event.id <= ids[1],
            countable,
        )
        .group_by(dim, day, Event.customer_id)
    )
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).from_select(
        ["workspace_id", "event_type", "dimension", "day", "customer_id", "count"], counted
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["workspace_id", "event_type", "dimension", "day", "customer_id"],
            set_={"count": table.c.count + stmt.excluded.count},
        )
    )
