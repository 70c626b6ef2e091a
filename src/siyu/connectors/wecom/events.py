"""Decrypted WeCom callbacks as events, and the registry of their handlers.

A handler is registered with `@handles("change_external_contact", "add_external_contact")`
and receives `(session, workspace_id, event)`. The inbox job looks up (Event, ChangeType)
first, then (Event, None). Handlers must be idempotent: WeCom repeats callbacks.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from sqlalchemy.orm import Session

MAX_EVENT_BYTES = 64 * 1024


class EventParseError(ValueError):
    """The decrypted payload is not a WeCom event we can read."""


@dataclass(frozen=True)
class CallbackEvent:
    """One callback. `fields` holds every top-level XML element's text by its WeCom name
    (an element with child elements, such as MemChangeList, as its items joined by ",");
    `lists` holds those items one by one."""

    event: str
    change_type: str | None
    create_time: datetime
    fields: dict[str, str]
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)


def parse_event(xml: bytes) -> CallbackEvent:
    """Read a decrypted callback; entity declarations and DTDs are refused (no XXE)."""
    if len(xml) > MAX_EVENT_BYTES:
        msg = f"event is larger than {MAX_EVENT_BYTES} bytes"
        raise EventParseError(msg)
    try:
        root = fromstring(xml, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        msg = f"malformed event XML: {type(exc).__name__}"
        raise EventParseError(msg) from exc
    fields: dict[str, str] = {}
    lists: dict[str, tuple[str, ...]] = {}
    for element in root:
        children = list(element)
        if children:
            items = tuple((child.text or "").strip() for child in children)
            lists[element.tag] = items
            fields[element.tag] = ",".join(items)
        else:
            fields[element.tag] = (element.text or "").strip()
    # App messages carry no Event; their MsgType (text, image…) names them instead.
    event = fields.get("Event") or fields.get("MsgType") or ""
    if not event:
        msg = "callback has neither Event nor MsgType"
        raise EventParseError(msg)
    try:
        create_time = datetime.fromtimestamp(int(fields.get("CreateTime", "")), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        msg = "callback has no valid CreateTime"
        raise EventParseError(msg) from exc
    return CallbackEvent(
        event=event,
        change_type=fields.get("ChangeType") or None,
        create_time=create_time,
        fields=fields,
        lists=lists,
    )


EventHandler = Callable[[Session, int, CallbackEvent], Awaitable[None]]

_HANDLERS: dict[tuple[str, str | None], EventHandler] = {}


def handles(event: str, change_type: str | None = None) -> Callable[[EventHandler], EventHandler]:
    """Register the handler of (Event, ChangeType); change_type None catches the rest."""

    def register(handler: EventHandler) -> EventHandler:
        key = (event, change_type)
        if key in _HANDLERS and _HANDLERS[key] is not handler:
            msg = f"WeCom event {key!r} has two handlers"
            raise RuntimeError(msg)
        _HANDLERS[key] = handler
        return handler

    return register


def handler_for(event: CallbackEvent) -> EventHandler | None:
    found = _HANDLERS.get((event.event, event.change_type))
    if found is None and event.change_type is not None:
        found = _HANDLERS.get((event.event, None))
    return found


def registered_events() -> list[tuple[str, str | None]]:
    return sorted(_HANDLERS, key=lambda key: (key[0], key[1] or ""))
