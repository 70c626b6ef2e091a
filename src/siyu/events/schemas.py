"""Request and response shapes of the events API.

A batch is parsed event by event: an event that does not fit `EventIn` becomes an
`InvalidEvent` carrying its reasons, so one bad event never fails the whole request.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    InstanceOf,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import ErrorDetails

MAX_BATCH = 1000
MAX_IDENTITIES_PER_EVENT = 20

UnknownCustomers = Literal["create", "reject"]
UnknownTypes = Literal["register", "reject"]


@dataclass(frozen=True)
class FieldError:
    """A reason an input was refused; `field` is relative to the object it was found in."""

    field: str
    message: str


class EventIdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=40, examples=["mobile"])
    value: str = Field(min_length=1, max_length=200, examples=["13800138000"])


class CustomerRefIn(BaseModel):
    """Who did it: an internal `customer_id`, or identities in any of three spellings.

    - `{"customer_id": 123}` — a customer of this workspace (alone, no identities);
    - `{"mobile": "13800138000"}` — shorthand: an identity kind as the key;
    - `{"kind": "wechat_unionid", "value": "o6_bm…"}`;
    - `{"identities": [{"kind": "mobile", "value": "…"}, {"kind": "email", "value": "…"}]}`.

    Identity spellings may be combined; all of them must belong to the same person.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "additionalProperties": {"type": "string", "description": "identity kind → value"},
            "examples": [
                {"mobile": "13800138000"},
                {"kind": "wechat_unionid", "value": "o6_bmasdasdsad6_2sgVt7hMZOPfL"},
                {"identities": [{"kind": "mobile", "value": "13800138000"}]},
                {"customer_id": 123},
            ],
        },
    )

    customer_id: int | None = Field(default=None, gt=0)
    kind: str | None = Field(default=None, min_length=1, max_length=40)
    value: str | None = Field(default=None, min_length=1, max_length=200)
    identities: list[EventIdentityIn] | None = Field(
        default=None, max_length=MAX_IDENTITIES_PER_EVENT
    )

    @model_validator(mode="after")
    def _one_way_to_name_the_customer(self) -> "CustomerRefIn":
        extra = self.model_extra or {}
        for key, value in extra.items():
            if not isinstance(value, str) or not value:
                msg = f"identity {key!r} must be a non-empty string"
                raise ValueError(msg)
        if (self.kind is None) != (self.value is None):
            msg = "'kind' and 'value' go together"
            raise ValueError(msg)
        # As many as identity_pairs() lists, counted without building them (runs per event).
        named = len(extra) + (self.kind is not None) + len(self.identities or ())
        if self.customer_id is not None and named:
            msg = "give either customer_id or identities, not both"
            raise ValueError(msg)
        if self.customer_id is None and not named:
            msg = "name the customer by customer_id or by at least one identity"
            raise ValueError(msg)
        if named > MAX_IDENTITIES_PER_EVENT:
            msg = f"at most {MAX_IDENTITIES_PER_EVENT} identities per event"
            raise ValueError(msg)
        return self

    def identity_pairs(self) -> list[tuple[str, str, str]]:
        """Every identity given, as (kind, value, field path relative to the reference)."""
        pairs = [(str(k), str(v), str(k)) for k, v in (self.model_extra or {}).items()]
        if self.kind is not None and self.value is not None:
            pairs.append((self.kind, self.value, "value"))
        for i, identity in enumerate(self.identities or []):
            pairs.append((identity.kind, identity.value, f"identities[{i}].value"))
        return pairs


class EventIn(BaseModel):
    """One thing a customer did."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "web-7f3c2a91",
                    "type": "page_view",
                    "occurred_at": "2026-11-20T10:00:00+08:00",
                    "customer": {"mobile": "13800138000"},
                    "properties": {"url": "https://shop.example.com/p/42"},
                }
            ]
        },
    )

    id: str = Field(
        min_length=1,
        max_length=128,
        description="the sender's unique key; an id already stored is reported as duplicate",
    )
    type: str = Field(min_length=1, max_length=64, description="an event type name")
    occurred_at: AwareDatetime = Field(
        description="when it happened, with a UTC offset; at most one day in the future"
    )
    customer: CustomerRefIn
    properties: dict[str, Any] = Field(
        default_factory=dict, description="checked against the type's properties_schema"
    )


class InvalidEvent:
    """An event that did not parse; it is reported back as rejected with these reasons.

    A plain class, not a dataclass: pydantic cannot describe it, so it stays out of the
    OpenAPI schema, where only `EventIn` documents what an event is.
    """

    __slots__ = ("errors", "id")

    def __init__(self, id: str | None, errors: list[FieldError]) -> None:  # noqa: A002
        self.id = id
        self.errors = errors


def _render_loc(loc: tuple[int | str, ...]) -> str:
    rendered = ""
    for part in loc:
        rendered += f"[{part}]" if isinstance(part, int) else f".{part}"
    return rendered.lstrip(".")


def _message(error: ErrorDetails) -> str:
    """pydantic's message, without the "Value error, " it puts before our own reasons."""
    if error["type"] == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    return error["msg"]


def _event_or_reasons(value: Any, _handler: ValidatorFunctionWrapHandler) -> EventIn | InvalidEvent:
    try:
        return EventIn.model_validate(value)
    except ValidationError as exc:
        errors = [FieldError(_render_loc(e["loc"]), _message(e)) for e in exc.errors()]
        raw_id = value.get("id") if isinstance(value, dict) else None
        return InvalidEvent(raw_id if isinstance(raw_id, str) else None, errors)


EventSlot = Annotated[
    EventIn | SkipJsonSchema[InstanceOf[InvalidEvent]], WrapValidator(_event_or_reasons)
]
_ALL_VALID = TypeAdapter(list[EventIn])


def _events_or_reasons(
    value: Any, handler: ValidatorFunctionWrapHandler
) -> list[EventIn | InvalidEvent]:
    """The whole list at once when every event is valid (no Python call per event), else
    event by event so each bad one carries its own reasons."""
    try:
        return list(_ALL_VALID.validate_python(value))
    except ValidationError:
        events: list[EventIn | InvalidEvent] = handler(value)
        return events


class IngestIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "id": "web-7f3c2a91",
                            "type": "page_view",
                            "occurred_at": "2026-11-20T10:00:00+08:00",
                            "customer": {"mobile": "13800138000"},
                            "properties": {"url": "https://shop.example.com/p/42"},
                        },
                        {
                            "id": "mp-0001",
                            "type": "coupon_claimed",
                            "occurred_at": "2026-11-20T02:05:00Z",
                            "customer": {"kind": "wechat_unionid", "value": "o6_bmasdasd"},
                            "properties": {"coupon": "NEW10"},
                        },
                    ],
                    "unknown_customers": "create",
                }
            ]
        },
    )

    events: Annotated[list[EventSlot], WrapValidator(_events_or_reasons)] = Field(
        description=f"1 to {MAX_BATCH} events; more is refused with 413",
        json_schema_extra={"maxItems": MAX_BATCH},
    )
    unknown_customers: UnknownCustomers = Field(
        default="create",
        description="identities matching no customer: 'create' one, or 'reject' the event",
    )


class FieldErrorOut(BaseModel):
    field: str = Field(examples=["events[3].occurred_at"])
    message: str


class EventResultOut(BaseModel):
    index: int = Field(description="position of the event in the request")
    id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    customer_id: int | None = Field(default=None, description="set for accepted events")
    errors: list[FieldErrorOut] = Field(default_factory=list)


class IngestOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResultOut]


class EventTypeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "page_view",
                    "display_name": "浏览页面",
                    "properties_schema": {
                        "type": "object",
                        "properties": {"url": {"type": "string", "maxLength": 2000}},
                        "required": ["url"],
                    },
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=64)
    display_name: str | None = Field(default=None, max_length=100)
    properties_schema: dict[str, Any] = Field(
        default_factory=dict, description="JSON Schema (draft-07) the properties must satisfy"
    )
    counted_properties: list[str] = Field(
        default_factory=list,
        max_length=5,
        description="properties counted per value and day, so segments can ask "
        '"viewed category X at least 3 times in 30 days" fast',
    )


class EventTypeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=100)
    properties_schema: dict[str, Any] = Field(default_factory=dict)
    counted_properties: list[str] = Field(
        default_factory=list,
        max_length=5,
        description="properties counted per value and day, so segments can ask "
        '"viewed category X at least 3 times in 30 days" fast',
    )


class EventTypeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    display_name: str
    properties_schema: dict[str, Any]
    counted_properties: list[str]
    created_at: datetime
    updated_at: datetime


class EventSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unknown_types: UnknownTypes = Field(
        default="register",
        description=(
            "events of an unregistered type: 'register' the type with an empty schema, "
            "or 'reject' the event"
        ),
    )
