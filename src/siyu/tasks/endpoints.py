from typing import Annotated

from fastapi import APIRouter, Query

from siyu.db.dependencies import DbSession
from siyu.kit.pagination import PageOut
from siyu.tasks import service
from siyu.tasks.schemas import FollowUpIn, FollowUpOut
from siyu.workspace.dependencies import Staff, Viewer

router = APIRouter(tags=["tasks"])


@router.post("/customers/{customer_id}/follow-ups", response_model=FollowUpOut, status_code=201)
def add_follow_up(
    customer_id: int, body: FollowUpIn, session: DbSession, principal: Staff
) -> FollowUpOut:
    """Write a follow-up note (跟进记录); staff only for the customers they follow."""
    return service.add_follow_up(session, principal, customer_id, body.body)


@router.get("/customers/{customer_id}/follow-ups", response_model=PageOut[FollowUpOut])
def list_follow_ups(
    customer_id: int,
    session: DbSession,
    principal: Viewer,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> PageOut[FollowUpOut]:
    """A customer's follow-up notes, newest first."""
    return service.list_follow_ups(session, principal, customer_id, cursor=cursor, limit=limit)
