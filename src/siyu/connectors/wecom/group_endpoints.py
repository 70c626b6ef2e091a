"""Console API of WeCom customer groups: the list and one group with its members."""

from typing import Literal

from fastapi import APIRouter, Query

from siyu.connectors.wecom.group_schemas import GroupDetailOut, GroupMemberOut, GroupOut
from siyu.customers import groups as customer_groups
from siyu.db.dependencies import DbSession
from siyu.kit.pagination import PageOut
from siyu.workspace.dependencies import Operator

router = APIRouter(prefix="/wecom", tags=["wecom"])


def _group_out(row: customer_groups.GroupRow) -> dict[str, object]:
    group = row.group
    return {
        "id": group.id,
        "chat_id": group.chat_id,
        "name": group.name,
        "owner_userid": group.owner_userid,
        "owner_staff_id": group.owner_staff_id,
        "owner_name": row.owner_name,
        "status": group.status,
        "member_count": group.member_count,
        "customer_count": row.customers,
        "staff_count": row.staff,
        "group_created_at": group.group_created_at,
        "synced_at": group.synced_at,
    }


@router.get("/groups", response_model=PageOut[GroupOut])
def list_groups(
    session: DbSession,
    principal: Operator,
    owner_staff_id: int | None = None,
    status: Literal["active", "dismissed"] | None = Query("active"),
    q: str | None = Query(None, max_length=100, description="part of the name, or a chat id"),
    customer_id: int | None = Query(None, description="groups this customer is in"),
    sort: str | None = Query(None, description="id | name | member_count; '-' descending"),
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=200),
) -> PageOut[GroupOut]:
    """Customer groups (客户群), newest first, with owner and customers vs staff."""
    query = customer_groups.GroupQuery(
        owner_staff_id=owner_staff_id,
        status=status,
        q=q,
        customer_id=customer_id,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    rows, next_cursor = customer_groups.list_groups(session, principal.workspace_id, query)
    return PageOut(
        items=[GroupOut.model_validate(_group_out(row)) for row in rows], next_cursor=next_cursor
    )


@router.get("/groups/{customer_group_id}", response_model=GroupDetailOut)
def read_group(session: DbSession, principal: Operator, customer_group_id: int) -> GroupDetailOut:
    """One customer group with every member; customers link to their 360 page."""
    detail = customer_groups.get_group(session, principal.workspace_id, customer_group_id)
    return GroupDetailOut.model_validate(
        {
            **_group_out(detail.row),
            "notice": detail.row.group.notice,
            "members": [
                GroupMemberOut(
                    id=m.member.id,
                    member_type=m.member.member_type,
                    member_id=m.member.member_id,
                    name=m.member.name,
                    customer_id=m.member.customer_id,
                    customer_name=m.customer_name,
                    join_time=m.member.join_time,
                    join_scene=m.member.join_scene,
                    invitor=m.member.invitor,
                    status=m.member.status,
                    left_at=m.member.left_at,
                )
                for m in detail.members
            ],
        }
    )
