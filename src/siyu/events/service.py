"""Event ingest and the customer timeline's event entries.

One batch costs a fixed number of statements whatever its size: one SELECT of the types'
schemas, one SELECT of already-stored keys, one `oneid.resolve_many` for every customer
reference, one INSERT … ON CONFLICT DO NOTHING RETURNING for the new events, one
registration of new types and one bulk `last_active_at` update.

Rules (documented in the API schema as well):
- `occurred_at` must carry a UTC offset (a naive time is rejected, not guessed) and may be
  at most one day in the future.
- An event whose `id` is already stored, or repeats an earlier valid event of the same
  batch, is a duplicate: nothing is written for it.
- An unregistered type is registered with an empty schema, or the event is rejected,
  per the workspace setting `events.unknown_types` (default "register").
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session

from siyu.customers import changes, identities, oneid
from siyu.customers import service as customers_service
from siyu.customers.stats import touch_last_active
from siyu.events import counters
from siyu.events.registry import property_error, unknown_types_policy, validator_for
from siyu.events.repository import EventRepository
from siyu.events.schemas import (
    MAX_BATCH,
    EventIn,
    FieldError,
    InvalidEvent,
    UnknownCustomers,
)
from siyu.exceptions import PayloadTooLarge, ValidationFailed
from siyu.kit.time import utcnow
from siyu.kit.timeline import TimelineCursor, TimelineEntry

FUTURE_TOLERANCE = timedelta(days=1)
INGEST_SOURCE = "events"

Status = Literal["accepted", "duplicate", "rejected"]


@dataclass(slots=True)
class EventResult:
    index: int
    id: str | None
    status: Status
    customer_id: int | None = None
    errors: list[FieldError] = field(default_factory=list)


@dataclass
class IngestResult:
    """Every event's outcome in request order, and how many ended each way."""

    results: list[EventResult]
    accepted: int
    duplicates: int
    rejected: int


@dataclass(slots=True)
class _Candidate:
    """A parsed event on its way in; `errors` non-empty means it will be rejected."""

    index: int
    event: EventIn
    # In datetime.UTC: pydantic's parsed offsets are several times slower to compare and
    # to convert for storage, which the batch does a few times per event.
    occurred_at: datetime
    identities: list[identities.IdentityRef]
    customer_id: int | None = None
    errors: list[FieldError] = field(default_factory=list)

    def reject(self, path: str, message: str) -> None:
        self.errors.append(FieldError(f"events[{self.index}]{path}", message))


def ingest(
    session: Session,
    workspace_id: int,
    events: Sequence[EventIn | InvalidEvent],
    *,
    unknown_customers: UnknownCustomers | str,
    actor: str,
) -> IngestResult:
    """Store the valid, new events; report every event's outcome in request order."""
    if len(events) > MAX_BATCH:
        raise PayloadTooLarge(
            f"a batch holds at most {MAX_BATCH} events; this one has {len(events)}",
            {"field": "events", "max": MAX_BATCH, "given": len(events)},
        )
    if unknown_customers not in ("create", "reject"):
        raise ValidationFailed("unknown_customers", "must be 'create' or 'reject'")
    repo = EventRepository(session, workspace_id)
    now = utcnow()
    latest = now + FUTURE_TOLERANCE
    results: list[EventResult | None] = [None] * len(events)
    candidates: list[_Candidate] = []
    for index, event in enumerate(events):
        if isinstance(event, InvalidEvent):
            errors = [_prefixed(index, e) for e in event.errors]
            results[index] = EventResult(index, event.id, "rejected", errors=errors)
        else:
            candidates.append(_parse(index, event, latest))

    new_types = _check_types(session, repo, workspace_id, candidates)
    live = [c for c in candidates if not c.errors]
    fresh = _drop_duplicates(repo, live, results)
    _resolve_customers(
        session, workspace_id, fresh, create=unknown_customers == "create", actor=actor
    )

    stored = [c for c in fresh if not c.errors]
    inserted = repo.insert_new(
        [
            {
                "event_key": c.event.id,
                "customer_id": c.customer_id,
                "event_type": c.event.type,
                "occurred_at": c.occurred_at,
                "properties": c.event.properties,
                "received_at": now,
            }
            for c in stored
        ]
    )
    repo.register_types({c.event.type for c in stored if c.event.type in new_types}, now=now)

    last_active: dict[int, datetime] = {}
    counted: list[tuple[int, str, datetime, dict[str, Any]]] = []
    for c in stored:
        key = c.event.id
        if key not in inserted:
            # Stored by a concurrent request between our SELECT and our INSERT.
            results[c.index] = EventResult(c.index, key, "duplicate")
            continue
        customer_id = c.customer_id
        assert customer_id is not None
        results[c.index] = EventResult(c.index, key, "accepted", customer_id)
        occurred_at = c.occurred_at
        counted.append((customer_id, c.event.type, occurred_at, c.event.properties))
        # An event may be dated up to a day ahead; activity is never in the future.
        active_at = occurred_at if occurred_at < now else now
        seen = last_active.get(customer_id)
        if seen is None or active_at > seen:
            last_active[customer_id] = active_at
    for c in candidates:
        if c.errors:
            results[c.index] = EventResult(c.index, c.event.id, "rejected", errors=c.errors)
    touch_last_active(session, workspace_id, last_active)
    counters.record(session, workspace_id, counted)
    changes.mark_changed(session, workspace_id, last_active)
    done = [r for r in results if r is not None]
    statuses = Counter(r.status for r in done)
    return IngestResult(done, statuses["accepted"], statuses["duplicate"], statuses["rejected"])


def _prefixed(index: int, error: FieldError) -> FieldError:
    path = f".{error.field}" if error.field and not error.field.startswith("[") else error.field
    return FieldError(f"events[{index}]{path}", error.message)


def _parse(index: int, event: EventIn, latest: datetime) -> _Candidate:
    """The event with its identities normalised; `latest` is the last acceptable time."""
    occurred_at = event.occurred_at.astimezone(UTC)
    candidate = _Candidate(index, event, occurred_at, [], event.customer.customer_id)
    if occurred_at > latest:
        candidate.reject(".occurred_at", "is more than one day in the future")
    for kind, value, path in event.customer.identity_pairs():
        try:
            candidate.identities.append(identities.normalize(kind, value))
        except ValidationFailed as exc:
            candidate.reject(f".customer.{path}", _reason(exc))
    return candidate


def _reason(exc: ValidationFailed) -> str:
    prefix = f"{exc.field}: "
    return exc.message[len(prefix) :] if exc.message.startswith(prefix) else exc.message


def _check_types(
    session: Session, repo: EventRepository, workspace_id: int, candidates: list[_Candidate]
) -> set[str]:
    """Validate properties against each type's schema; return the types to register."""
    names = {c.event.type for c in candidates}
    schemas = repo.schemas_of(names)
    unknown = names - schemas.keys()
    reject_unknown = bool(unknown) and unknown_types_policy(session, workspace_id) == "reject"
    validators = {name: validator_for(schema) for name, schema in schemas.items()}
    for c in candidates:
        if c.event.type not in schemas:
            if reject_unknown:
                c.reject(".type", f"unknown event type {c.event.type!r}; register it first")
            continue
        validate = validators[c.event.type]
        if validate is None:
            continue
        problem = property_error(validate, c.event.properties)
        if problem is not None:
            c.reject(f".properties{problem.path}", problem.message)
    return set() if reject_unknown else unknown


def _drop_duplicates(
    repo: EventRepository, live: list[_Candidate], results: list[EventResult | None]
) -> list[_Candidate]:
    """Mark repeats and already-stored keys as duplicates; return the events still to store."""
    stored = repo.existing_keys({c.event.id for c in live})
    seen: set[str] = set()
    fresh: list[_Candidate] = []
    for c in live:
        key = c.event.id
        if key in stored or key in seen:
            results[c.index] = EventResult(c.index, key, "duplicate")
            continue
        seen.add(key)
        fresh.append(c)
    return fresh


def _resolve_customers(
    session: Session,
    workspace_id: int,
    candidates: list[_Candidate],
    *,
    create: bool,
    actor: str,
) -> None:
    # A customer's events usually name them the same way: each distinct reference is
    # resolved once (resolving it again would find what the first resolution left).
    by_identities: dict[tuple[identities.IdentityRef, ...], list[_Candidate]] = {}
    by_id: list[_Candidate] = []
    for c in candidates:
        if c.identities:
            by_identities.setdefault(tuple(c.identities), []).append(c)
        else:
            by_id.append(c)
    if by_identities:
        resolutions = oneid.resolve_many(
            session,
            workspace_id,
            list(by_identities),
            create=create,
            source=INGEST_SOURCE,
            actor=actor,
        )
        for group, resolution in zip(by_identities.values(), resolutions, strict=True):
            for c in group:
                if resolution.customer_id is None:
                    c.reject(".customer", "matches no customer, and unknown_customers is 'reject'")
                else:
                    c.customer_id = resolution.customer_id
    if by_id:
        asked = sorted({c.customer_id for c in by_id if c.customer_id is not None})
        live = customers_service.live_customer_ids(session, workspace_id, asked)
        for c in by_id:
            current = live.get(c.customer_id) if c.customer_id is not None else None
            if current is None:
                c.reject(".customer.customer_id", "no such customer in this workspace")
            else:
                c.customer_id = current


def timeline_entries(
    session: Session,
    workspace_id: int,
    customer_id: int,
    *,
    before: TimelineCursor | None,
    limit: int,
) -> list[TimelineEntry]:
    """The customer's events, newest first, strictly older than `before` (kind "event")."""
    rows = EventRepository(session, workspace_id).timeline(customer_id, before=before, limit=limit)
    return [
        TimelineEntry(
            kind="event",
            id=row.id,
            occurred_at=row.occurred_at,
            title=row.display_name or row.event_type,
            data={"type": row.event_type, "key": row.event_key, "properties": row.properties},
        )
        for row in rows
    ]
