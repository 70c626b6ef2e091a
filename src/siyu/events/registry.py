"""The event-type registry: types, their property schemas, and the unknown-type policy.

Schemas are JSON Schema draft-07. `jsonschema` checks a schema against the draft-07
meta-schema when it is saved (precise messages naming the bad keyword); `fastjsonschema`
compiles it to a Python function that ingest calls per event (about 20 times faster than
an interpreted validator, which matters at thousands of events per second). Compiled
validators are cached by the schema's canonical JSON, so an edited schema simply compiles
anew and no cache needs invalidating.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import fastjsonschema
from jsonschema import Draft7Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy.orm import Session

from siyu.events import counters
from siyu.events.repository import EventRepository
from siyu.events.schemas import EventSettings, EventTypeIn, EventTypeUpdate, UnknownTypes
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import SortSpec, paginate
from siyu.models import EventType
from siyu.worker.queue import enqueue
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

SETTINGS_KEY = "events"

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")
NAME_RULE = "use 1–64 letters, digits, '_', '.', ':' or '-', starting with a letter"
PROPERTY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
DRAFT7_URIS = frozenset(
    {"http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-07/schema"}
)
MAX_SCHEMA_BYTES = 65_536

Validator = Callable[[Any], Any]


@dataclass(frozen=True)
class PropertyError:
    """Where in the properties document a schema rule failed: `path` like ".items[2].sku"."""

    path: str
    message: str


def check_name(name: str, *, field: str) -> str:
    if not NAME_PATTERN.match(name):
        raise ValidationFailed(field, NAME_RULE)
    return name


def canonical(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def check_properties_schema(schema: Any, *, field: str) -> dict[str, Any]:
    """Accept a draft-07 JSON Schema for an object, or raise naming the offending keyword."""
    if not isinstance(schema, dict):
        raise ValidationFailed(field, "must be a JSON Schema object")
    text = canonical(schema)
    if len(text.encode()) > MAX_SCHEMA_BYTES:
        raise ValidationFailed(field, f"is larger than {MAX_SCHEMA_BYTES} bytes")
    declared = schema.get("$schema")
    if declared is not None and declared not in DRAFT7_URIS:
        raise ValidationFailed(f"{field}.$schema", "only JSON Schema draft-07 is supported")
    if schema.get("type", "object") != "object":
        raise ValidationFailed(f"{field}.type", "event properties are an object: use 'object'")
    _refuse_external_references(schema, field)
    try:
        Draft7Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValidationFailed(field + _render_path(exc.path), exc.message) from exc
    try:
        _compiled(text)
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise ValidationFailed(field, str(exc)) from exc
    return schema


def _refuse_external_references(node: Any, field: str) -> None:
    """Only local references ("#/definitions/…"): a schema must never make us fetch a URL."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref", "$id") and isinstance(value, str) and not value.startswith("#"):
                raise ValidationFailed(f"{field}.{key}", "only local '#…' references are allowed")
            _refuse_external_references(value, f"{field}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _refuse_external_references(item, f"{field}[{i}]")


@lru_cache(maxsize=2048)
def _compiled(canonical_schema: str) -> Validator:
    # use_default=False: stored properties are exactly what the sender sent.
    return fastjsonschema.compile(json.loads(canonical_schema), handlers={}, use_default=False)


def validator_for(schema: dict[str, Any]) -> Validator | None:
    """The compiled validator for a stored schema; None when the schema constrains nothing."""
    if not schema or schema == {"type": "object"}:
        return None
    return _compiled(canonical(schema))


def property_error(validate: Validator, properties: dict[str, Any]) -> PropertyError | None:
    """The first rule `properties` breaks, or None when it satisfies the schema."""
    try:
        validate(properties)
    except fastjsonschema.JsonSchemaValueException as exc:
        # fastjsonschema names the document "data" ("data.items[1]") and starts its
        # message with that name.
        name = exc.name or ""
        path = name.removeprefix("data") if name.startswith("data") else ""
        message = exc.message.removeprefix(f"{name} ") if name else exc.message
        return PropertyError(path, message)
    return None


def _render_path(parts: Any) -> str:
    rendered = ""
    for part in parts:
        rendered += f"[{part}]" if isinstance(part, int) else f".{part}"
    return rendered


# -- event types ------------------------------------------------------------------


def list_types(
    session: Session, workspace_id: int, *, cursor: str | None, limit: int
) -> tuple[list[EventType], str | None]:
    repo = EventRepository(session, workspace_id)
    stmt, page = paginate(
        repo.event_types_stmt(),
        columns={"name": EventType.name.expression},
        id_column=EventType.id.expression,
        sort=SortSpec("name", descending=False),
        cursor=cursor,
        limit=limit,
    )
    return page.build(list(session.scalars(stmt)))


def get_type(session: Session, workspace_id: int, name: str) -> EventType:
    event_type = EventRepository(session, workspace_id).event_type(name)
    if event_type is None:
        raise NotFound("event type")
    return event_type


def create_type(session: Session, principal: Principal, data: EventTypeIn) -> EventType:
    name = check_name(data.name, field="name")
    schema = check_properties_schema(data.properties_schema, field="properties_schema")
    repo = EventRepository(session, principal.workspace_id)
    if repo.event_type(name) is not None:
        raise Conflict(f"event type {name!r} already exists", {"field": "name"})
    event_type = EventType(
        workspace_id=principal.workspace_id,
        name=name,
        display_name=data.display_name or name,
        properties_schema=schema,
        counted_properties=_counted(data.counted_properties),
    )
    session.add(event_type)
    session.flush()
    return event_type


def _counted(names: list[str]) -> list[str]:
    for index, name in enumerate(names):
        if not PROPERTY_NAME.fullmatch(name):
            raise ValidationFailed(
                f"counted_properties[{index}]", "must be a property name (letters, digits, _)"
            )
    return sorted(set(names))


def put_type(session: Session, principal: Principal, name: str, data: EventTypeUpdate) -> EventType:
    """Replace a type's definition, registering it if it does not exist yet."""
    check_name(name, field="name")
    schema = check_properties_schema(data.properties_schema, field="properties_schema")
    event_type = EventRepository(session, principal.workspace_id).event_type(name)
    if event_type is None:
        return create_type(
            session,
            principal,
            EventTypeIn(
                name=name,
                display_name=data.display_name,
                properties_schema=schema,
                counted_properties=data.counted_properties,
            ),
        )
    if event_type.properties_schema != schema:
        workspace_service.audit(
            session,
            principal,
            "event_type.schema_changed",
            target_type="event_type",
            target_id=name,
            details={"before": event_type.properties_schema, "after": schema},
        )
    event_type.display_name = data.display_name or name
    event_type.properties_schema = schema
    counted = _counted(data.counted_properties)
    if counted != list(event_type.counted_properties or []):
        event_type.counted_properties = counted
        enqueue(
            session,
            counters.RECOUNT_JOB,
            {"event_type": name},
            workspace_id=principal.workspace_id,
        )
    session.flush()
    return event_type


def delete_type(session: Session, principal: Principal, name: str) -> None:
    """Unregister a type. Its stored events stay; new ones follow the unknown-type policy."""
    event_type = get_type(session, principal.workspace_id, name)
    workspace_service.audit(
        session,
        principal,
        "event_type.deleted",
        target_type="event_type",
        target_id=name,
        details={"properties_schema": event_type.properties_schema},
    )
    session.delete(event_type)
    session.flush()


# -- settings ---------------------------------------------------------------------


def get_settings(session: Session, workspace_id: int) -> EventSettings:
    stored = workspace_service.get_workspace(session, workspace_id).settings.get(SETTINGS_KEY)
    return EventSettings.model_validate(stored or {})


def unknown_types_policy(session: Session, workspace_id: int) -> UnknownTypes:
    return get_settings(session, workspace_id).unknown_types


def update_settings(session: Session, principal: Principal, data: EventSettings) -> EventSettings:
    workspace = workspace_service.get_workspace(session, principal.workspace_id)
    before = workspace.settings.get(SETTINGS_KEY) or {}
    after = data.model_dump()
    # A new dict, so the JSON column sees the change.
    workspace.settings = {**workspace.settings, SETTINGS_KEY: after}
    workspace_service.audit(
        session,
        principal,
        "events.settings_changed",
        target_type="workspace",
        target_id=principal.workspace_id,
        details={"before": before, "after": after},
    )
    session.flush()
    return data
