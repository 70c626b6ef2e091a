from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel

import siyu.messaging.jobs  # noqa: F401 - registers the jobs the service enqueues
from siyu.db.dependencies import DbSession
from siyu.kit.pagination import PageOut
from siyu.messaging import service
from siyu.messaging.schemas import (
    AccountCheck,
    BroadcastIn,
    BroadcastOut,
    BroadcastUpdate,
    Channel,
    ChannelAccountIn,
    ChannelAccountOut,
    DeliveryOut,
    Eligibility,
    MessagingRules,
    ResultsOut,
)
from siyu.workspace.dependencies import Admin, Operator, Viewer

router = APIRouter(tags=["messaging"])


class EligibilityIn(BaseModel):
    channel: Channel
    segment_id: int | None = None
    customer_group_ids: list[int] | None = None


@router.get("/broadcasts", response_model=PageOut[BroadcastOut])
def list_broadcasts(
    session: DbSession,
    principal: Viewer,
    status: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageOut[BroadcastOut]:
    return service.page(session, principal, status, cursor, limit)


@router.post("/broadcasts", response_model=BroadcastOut, status_code=status.HTTP_201_CREATED)
def create_broadcast(body: BroadcastIn, session: DbSession, principal: Operator) -> BroadcastOut:
    """A draft; nothing is sent until POST /broadcasts/{id}/send."""
    return service.create(session, principal, body)


@router.post("/broadcasts/eligibility", response_model=Eligibility)
def eligibility(body: EligibilityIn, session: DbSession, principal: Viewer) -> Eligibility:
    """Who would receive it now, and how many are excluded for each reason; stores nothing."""
    return service.eligibility(
        session, principal, body.channel, body.segment_id, body.customer_group_ids
    )


@router.get("/broadcasts/{broadcast_id}", response_model=BroadcastOut)
def get_broadcast(broadcast_id: int, session: DbSession, principal: Viewer) -> BroadcastOut:
    return service.get(session, principal, broadcast_id)


@router.patch("/broadcasts/{broadcast_id}", response_model=BroadcastOut)
def update_broadcast(
    broadcast_id: int, body: BroadcastUpdate, session: DbSession, principal: Operator
) -> BroadcastOut:
    return service.update(session, principal, broadcast_id, body)


@router.delete("/broadcasts/{broadcast_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_broadcast(broadcast_id: int, session: DbSession, principal: Operator) -> None:
    service.delete(session, principal, broadcast_id)


@router.post("/broadcasts/{broadcast_id}/send", response_model=BroadcastOut)
def send_broadcast(broadcast_id: int, session: DbSession, principal: Operator) -> BroadcastOut:
    return service.send(session, principal, broadcast_id)


@router.post("/broadcasts/{broadcast_id}/pause", response_model=BroadcastOut)
def pause_broadcast(broadcast_id: int, session: DbSession, principal: Operator) -> BroadcastOut:
    return service.pause(session, principal, broadcast_id)


@router.post("/broadcasts/{broadcast_id}/resume", response_model=BroadcastOut)
def resume_broadcast(broadcast_id: int, session: DbSession, principal: Operator) -> BroadcastOut:
    return service.resume(session, principal, broadcast_id)


@router.post("/broadcasts/{broadcast_id}/cancel", response_model=BroadcastOut)
def cancel_broadcast(broadcast_id: int, session: DbSession, principal: Operator) -> BroadcastOut:
    return service.cancel(session, principal, broadcast_id)


@router.post("/broadcasts/{broadcast_id}/remind", response_model=BroadcastOut)
def remind_staff(broadcast_id: int, session: DbSession, principal: Operator) -> BroadcastOut:
    """WeCom: remind the staff who have not confirmed their task yet."""
    return service.remind(session, principal, broadcast_id)


@router.get("/broadcasts/{broadcast_id}/results", response_model=ResultsOut)
def broadcast_results(broadcast_id: int, session: DbSession, principal: Viewer) -> ResultsOut:
    return service.results(session, principal, broadcast_id)


@router.get("/broadcasts/{broadcast_id}/deliveries", response_model=PageOut[DeliveryOut])
def broadcast_deliveries(
    broadcast_id: int,
    session: DbSession,
    principal: Viewer,
    status: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> PageOut[DeliveryOut]:
    return service.deliveries(session, principal, broadcast_id, status, cursor, limit)


@router.get("/messaging/rules", response_model=MessagingRules)
def read_rules(session: DbSession, principal: Viewer) -> MessagingRules:
    return service.read_rules(session, principal)


@router.put("/messaging/rules", response_model=MessagingRules)
def write_rules(body: MessagingRules, session: DbSession, principal: Admin) -> MessagingRules:
    return service.write_rules(session, principal, body)


@router.get("/messaging/channels", response_model=list[ChannelAccountOut])
def list_accounts(session: DbSession, principal: Admin) -> list[ChannelAccountOut]:
    return service.accounts(session, principal)


@router.put("/messaging/channels/{channel}", response_model=ChannelAccountOut)
def save_account(
    channel: str, body: ChannelAccountIn, session: DbSession, principal: Admin
) -> ChannelAccountOut:
    """The secret is write-only: stored encrypted, never returned."""
    return service.save_account(session, principal, channel, body)


@router.post("/messaging/channels/{channel}/check", response_model=AccountCheck)
def check_account(channel: str, session: DbSession, principal: Admin) -> AccountCheck:
    """Try the saved account: SMTP connect and login, an SMS sign query, a signed ping event."""
    return service.check_account(session, principal, channel)
