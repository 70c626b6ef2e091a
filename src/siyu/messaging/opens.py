"""Opened deliveries: the first time a customer was seen reading a message.

An email's open pixel (content/opens.py) and a click on a tracked link of the delivery
(a click implies the message was read) both mark it; only the first sets `opened_at`.
An email's first open is an `email_opened` event on the customer's timeline, so
segments can target who read it.
"""

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.events import registry
from siyu.events import service as events_service
from siyu.events.schemas import CustomerRefIn, EventIn, EventTypeIn
from siyu.exceptions import Conflict, NotFound
from siyu.messaging.repository import MessagingRepository
from siyu.messaging.schemas import Channel, Counts
from siyu.models import Broadcast, Delivery
from siyu.workspace.principal import Principal

EMAIL_OPENED = "email_opened"
EMAIL_OPENED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "broadcast_id": {"type": "integer"},
        "delivery_id": {"type": "integer"},
        "via": {"type": "string", "enum": ["pixel", "click"]},
    },
    "required": ["broadcast_id", "delivery_id", "via"],
}
EVENT_ACTOR = "opens"


def mark_opened(
    session: Session,
    workspace_id: int,
    at: datetime,
    *,
    via: str,
    delivery_id: int | None = None,
    broadcast_id: int | None = None,
    customer_id: int | None = None,
    channel: str | None = None,
) -> bool:
    """Mark one delivery opened at `at` — named by its id, or by (broadcast, customer,
    channel) — unless it was opened before; True when this was its first open."""
    if delivery_id is not None:
        where = [Delivery.id == delivery_id]
    elif broadcast_id is not None and customer_id is not None and channel is not None:
        where = [
            Delivery.broadcast_id == broadcast_id,
            Delivery.customer_id == customer_id,
            Delivery.channel == channel,
        ]
    else:
        msg = "name the delivery by its id or by broadcast, customer and channel"
        raise ValueError(msg)
    found = MessagingRepository(session, workspace_id).mark_opened(at, where)
    if found is None:
        return False
    opened_id, opened_broadcast, opened_customer, opened_channel = found
    if opened_channel == Channel.EMAIL.value:
        _ensure_event_type(session, workspace_id)
        event = EventIn(
            id=f"{EMAIL_OPENED}:{opened_id}",
            type=EMAIL_OPENED,
            occurred_at=at,
            customer=CustomerRefIn(customer_id=opened_customer),
            properties={"broadcast_id": opened_broadcast, "delivery_id": opened_id, "via": via},
        )
        events_service.ingest(
            session, workspace_id, [event], unknown_customers="reject", actor=EVENT_ACTOR
        )
    return True


def _ensure_event_type(session: Session, workspace_id: int) -> None:
    try:
        registry.get_type(session, workspace_id, EMAIL_OPENED)
    except NotFound:
        pass
    else:
        return
    data = EventTypeIn(
        name=EMAIL_OPENED, display_name="打开邮件", properties_schema=EMAIL_OPENED_SCHEMA
    )
    try:
        with session.begin_nested():
            registry.create_type(session, Principal.system(workspace_id), data)
    except (Conflict, IntegrityError):
        pass  # registered meanwhile by a concurrent open


def count(
    session: Session,
    broadcast: Broadcast,
    overall: Counts,
    by_staff: dict[str, Counts],
    by_variant: dict[str, Counts],
) -> None:
    """Set `opened` of a broadcast's results, overall and per staff member and variant."""
    repo = MessagingRepository(session, broadcast.workspace_id)
    overall.opened = sum(n for (n,) in repo.opened(broadcast.id))
    for groups, column in ((by_staff, Delivery.staff_id), (by_variant, Delivery.variant)):
        for key, n in repo.opened(broadcast.id, column):
            groups.setdefault("none" if key is None else str(key), Counts()).opened = n
