"""Events API: batch ingest, the event-type registry and the events settings."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import TypeAdapter

from siyu.db.bulk import fewer_gc_passes
from siyu.db.dependencies import DbSession
from siyu.events import registry, service
from siyu.events.schemas import (
    EventSettings,
    EventTypeIn,
    EventTypeOut,
    EventTypeUpdate,
    IngestIn,
    IngestOut,
)
from siyu.kit.pagination import PageOut
from siyu.workspace.dependencies import Admin, Operator, Viewer

router = APIRouter(tags=["events"])

_INGEST_RESULT = TypeAdapter(service.IngestResult)

INGEST_DESCRIPTION = """
Store up to 1,000 events in one request. Each event is judged on its own: the response
lists every event's outcome in request order (`accepted`, `duplicate` or `rejected` with
reasons naming the field, e.g. `events[3].occurred_at`), and the good events are stored
even when others are rejected (HTTP 200).

- `id` is the sender's unique key: an id already stored, or repeated within the batch, is
  a `duplicate` and writes nothing, so a batch can safely be resent.
- `occurred_at` must carry a UTC offset (`+08:00` or `Z`); naive times are rejected. It
  may be at most one day in the future.
- `customer` names the person by `customer_id`, or by identities (see `CustomerRefIn`).
  Identities matching no customer create one (`unknown_customers: "create"`, the default)
  or reject the event (`"reject"`).
- `type` must be registered when the workspace's `unknown_types` setting is `reject`;
  with `register` (the default) a new type is registered with an empty schema.
  `properties` must satisfy the type's `properties_schema`.

More than 1,000 events: 413. A malformed envelope (not an object, no `events` list): 422.
"""


async def _fewer_gc_passes() -> AsyncIterator[None]:
    """From before the body is validated (1,000 events' models) until after the commit."""
    with fewer_gc_passes():
        yield


@router.post(
    "/events/batch",
    response_model=IngestOut,
    summary="Ingest a batch of events",
    description=INGEST_DESCRIPTION,
    responses={413: {"description": "more than 1,000 events"}},
    dependencies=[Depends(_fewer_gc_passes, scope="function")],
)
def ingest_events(body: IngestIn, session: DbSession, principal: Operator) -> Response:
    result = service.ingest(
        session,
        principal.workspace_id,
        body.events,
        unknown_customers=body.unknown_customers,
        actor=principal.actor,
    )
    # The result's dataclasses have IngestOut's fields: serialised as they are, without
    # building 1,000 response models (FastAPI would also validate them again and walk them
    # through jsonable_encoder).
    return Response(_INGEST_RESULT.dump_json(result), media_type="application/json")


@router.get("/events/settings", response_model=EventSettings)
def get_event_settings(session: DbSession, principal: Viewer) -> EventSettings:
    return registry.get_settings(session, principal.workspace_id)


@router.put("/events/settings", response_model=EventSettings)
def put_event_settings(body: EventSettings, session: DbSession, principal: Admin) -> EventSettings:
    return registry.update_settings(session, principal, body)


@router.get("/event-types", response_model=PageOut[EventTypeOut])
def list_event_types(
    session: DbSession,
    principal: Viewer,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageOut[EventTypeOut]:
    items, next_cursor = registry.list_types(
        session, principal.workspace_id, cursor=cursor, limit=limit
    )
    return PageOut[EventTypeOut](
        items=[EventTypeOut.model_validate(t) for t in items], next_cursor=next_cursor
    )


@router.post("/event-types", response_model=EventTypeOut, status_code=201)
def create_event_type(body: EventTypeIn, session: DbSession, principal: Operator) -> EventTypeOut:
    return EventTypeOut.model_validate(registry.create_type(session, principal, body))


@router.get("/event-types/{name}", response_model=EventTypeOut)
def get_event_type(name: str, session: DbSession, principal: Viewer) -> EventTypeOut:
    return EventTypeOut.model_validate(registry.get_type(session, principal.workspace_id, name))


@router.put("/event-types/{name}", response_model=EventTypeOut)
def put_event_type(
    name: str, body: EventTypeUpdate, session: DbSession, principal: Operator
) -> EventTypeOut:
    return EventTypeOut.model_validate(registry.put_type(session, principal, name, body))


@router.delete("/event-types/{name}", status_code=204)
def delete_event_type(name: str, session: DbSession, principal: Operator) -> Response:
    registry.delete_type(session, principal, name)
    return Response(status_code=204)
