"""Customer groups (客户群) as WeCom reports them: written by the WeCom sync and its
callback handlers, read by the console's group list and detail.

Writes take plain records and touch a page of groups in a constant number of statements;
every read filters by workspace.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Select, case, func, or_, select, update
from sqlalchemy.orm import Session

from siyu.customers.wecom import customer_ids_by_external_userid
from siyu.exceptions import NotFound
from siyu.kit.pagination import SortSpec, paginate
from siyu.kit.time import utcnow
from siyu.models import Customer, CustomerGroup, CustomerGroupMember, Staff

# -- writes (sync and callbacks) ----------------------------------------------------------


@dataclass(frozen=True)
class WecomGroupMemberRecord:
    member_id: str
    member_type: str  # staff | external
    name: str = ""
    unionid: str | None = None
    join_time: datetime | None = None
    join_scene: int | None = None
    invitor: str | None = None


@dataclass(frozen=True)
class WecomGroupRecord:
    chat_id: str
    name: str
    owner_userid: str
    owner_staff_id: int | None
    created_at: datetime | None
    notice: str
    member_version: str
    members: tuple[WecomGroupMemberRecord, ...]


def upsert_wecom_groups(
    session: Session, workspace_id: int, records: Sequence[WecomGroupRecord]
) -> dict[str, int]:
    """Upsert groups by chat id and make their active members exactly those WeCom lists
    (members who left are kept, marked left). Returns counts."""
    counts = {"created": 0, "updated": 0, "members_joined": 0, "members_left": 0}
    if not records:
        return counts
    now = utcnow()
    groups = {
        g.chat_id: g
        for g in session.scalars(
            select(CustomerGroup).where(
                CustomerGroup.workspace_id == workspace_id,
                CustomerGroup.chat_id.in_([r.chat_id for r in records]),
            )
        )
    }
    for record in records:
        group = groups.get(record.chat_id)
        if group is None:
            group = CustomerGroup(workspace_id=workspace_id, chat_id=record.chat_id)
            session.add(group)
            groups[record.chat_id] = group
            counts["created"] += 1
        elif (group.name, group.notice or "", group.status, group.member_count) != (
            record.name,
            record.notice,
            "active",
            len(record.members),
        ):
            counts["updated"] += 1
        group.name = record.name[:200]
        group.owner_userid = record.owner_userid
        group.owner_staff_id = record.owner_staff_id
        group.notice = record.notice or None
        group.group_created_at = record.created_at
        group.member_version = record.member_version or None
        group.member_count = len(record.members)
        group.status = "active"
        group.synced_at = now
    session.flush()
    external = customer_ids_by_external_userid(
        session,
        workspace_id,
        (m.member_id for r in records for m in r.members if m.member_type == "external"),
    )
    group_ids = [groups[r.chat_id].id for r in records]
    current: dict[tuple[int, str], CustomerGroupMember] = {
        (m.group_id, m.member_id): m
        for m in session.scalars(
            select(CustomerGroupMember).where(
                CustomerGroupMember.workspace_id == workspace_id,
                CustomerGroupMember.group_id.in_(group_ids),
            )
        )
    }
    listed: set[tuple[int, str]] = set()
    for record in records:
        group_id = groups[record.chat_id].id
        for member in record.members:
            key = (group_id, member.member_id)
            listed.add(key)
            row = current.get(key)
            if row is None or row.status != "active":
                counts["members_joined"] += 1
            if row is None:
                row = CustomerGroupMember(
                    workspace_id=workspace_id, group_id=group_id, member_id=member.member_id
                )
                session.add(row)
            row.member_type = member.member_type
            row.customer_id = external.get(member.member_id)
            row.name = member.name[:100] or None
            row.join_time = member.join_time
            row.join_scene = member.join_scene
            row.invitor = member.invitor or None
            row.status = "active"
            row.left_at = None
    for key, row in current.items():
        if key not in listed and row.status == "active":
            row.status = "left"
            row.left_at = now
            counts["members_left"] += 1
    session.flush()
    return counts


def dismiss_wecom_group(session: Session, workspace_id: int, chat_id: str) -> bool:
    """Mark a group dismissed and its members left; False when Siyu did not know it."""
    group = session.scalar(
        select(CustomerGroup).where(
            CustomerGroup.workspace_id == workspace_id, CustomerGroup.chat_id == chat_id
        )
    )
    if group is None:
        return False
    now = utcnow()
    if group.status != "dismissed":
        group.status = "dismissed"
        group.member_count = 0
        session.execute(
            update(CustomerGroupMember)
            .where(
                CustomerGroupMember.workspace_id == workspace_id,
                CustomerGroupMember.group_id == group.id,
                CustomerGroupMember.status == "active",
            )
            .values(status="left", left_at=now)
        )
    session.flush()
    return True


def dismiss_unlisted_groups(session: Session, workspace_id: int, *, listed_before: datetime) -> int:
    """After a complete group listing: active groups not seen since `listed_before` are gone."""
    chat_ids = list(
        session.scalars(
            select(CustomerGroup.chat_id).where(
                CustomerGroup.workspace_id == workspace_id,
                CustomerGroup.status == "active",
                (CustomerGroup.synced_at < listed_before) | CustomerGroup.synced_at.is_(None),
            )
        )
    )
    for chat_id in chat_ids:
        dismiss_wecom_group(session, workspace_id, chat_id)
    return len(chat_ids)


# -- reads (console) ---------------------------------------------------------------------

GROUP_SORTS = ("id", "name", "member_count")
GroupStatus = Literal["active", "dismissed"]


@dataclass(frozen=True)
class GroupQuery:
    owner_staff_id: int | None = None
    status: GroupStatus | None = "active"
    q: str | None = None  # part of the group name or chat id
    customer_id: int | None = None  # groups this customer is an active member of
    sort: str | None = None  # id | name | member_count, "-" for descending; default -id
    cursor: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class GroupRow:
    group: CustomerGroup
    owner_name: str | None
    customers: int  # active members who are customers (external contacts)
    staff: int  # active members who are staff


def _member_counts(
    session: Session, workspace_id: int, group_ids: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """group id -> (active customers, active staff), in one statement."""
    if not group_ids:
        return {}
    external = func.sum(case((CustomerGroupMember.member_type == "external", 1), else_=0))
    staff = func.sum(case((CustomerGroupMember.member_type == "staff", 1), else_=0))
    rows = session.execute(
        select(CustomerGroupMember.group_id, external, staff)
        .where(
            CustomerGroupMember.workspace_id == workspace_id,
            CustomerGroupMember.group_id.in_(group_ids),
            CustomerGroupMember.status == "active",
        )
        .group_by(CustomerGroupMember.group_id)
    )
    return {group_id: (int(c or 0), int(s or 0)) for group_id, c, s in rows}


def list_groups(
    session: Session, workspace_id: int, query: GroupQuery
) -> tuple[list[GroupRow], str | None]:
    """Customer groups, keyset paged, with their owner's name and member mix."""
    stmt = (
        select(CustomerGroup, Staff.name)
        .outerjoin(
            Staff,
            (Staff.id == CustomerGroup.owner_staff_id) & (Staff.workspace_id == workspace_id),
        )
        .where(CustomerGroup.workspace_id == workspace_id)
    )
    if query.owner_staff_id is not None:
        stmt = stmt.where(CustomerGroup.owner_staff_id == query.owner_staff_id)
    if query.status is not None:
        stmt = stmt.where(CustomerGroup.status == query.status)
    if query.q:
        like = f"%{query.q.strip()}%"
        stmt = stmt.where(or_(CustomerGroup.name.like(like), CustomerGroup.chat_id == query.q))
    if query.customer_id is not None:
        stmt = stmt.where(
            CustomerGroup.id.in_(
                select(CustomerGroupMember.group_id).where(
                    CustomerGroupMember.workspace_id == workspace_id,
                    CustomerGroupMember.customer_id == query.customer_id,
                    CustomerGroupMember.status == "active",
                )
            )
        )
    sort = SortSpec.parse(query.sort, GROUP_SORTS, "-id")
    paged, page = paginate(
        cast("Select[Any]", stmt),
        columns={
            "id": CustomerGroup.id.expression,
            "name": CustomerGroup.name.expression,
            "member_count": CustomerGroup.member_count.expression,
        },
        id_column=CustomerGroup.id.expression,
        sort=sort,
        cursor=query.cursor,
        limit=query.limit,
    )
    rows = [(row[0], row[1]) for row in session.execute(paged)]
    items, next_cursor = page.build(rows, key_of=lambda row, name: getattr(row[0], name))
    counts = _member_counts(session, workspace_id, [group.id for group, _ in items])
    return [
        GroupRow(group, owner, *counts.get(group.id, (0, 0))) for group, owner in items
    ], next_cursor


def groups_by_ids(session: Session, workspace_id: int, group_ids: Sequence[int]) -> list[GroupRow]:
    """The workspace's groups among `group_ids`, in that order (unknown ids and those of
    another workspace left out), with their owner's name and member mix; two statements."""
    wanted = list(dict.fromkeys(group_ids))
    if not wanted:
        return []
    found = {
        group.id: (group, owner)
        for group, owner in session.execute(
            select(CustomerGroup, Staff.name)
            .outerjoin(
                Staff,
                (Staff.id == CustomerGroup.owner_staff_id) & (Staff.workspace_id == workspace_id),
            )
            .where(CustomerGroup.workspace_id == workspace_id, CustomerGroup.id.in_(wanted))
        )
    }
    counts = _member_counts(session, workspace_id, list(found))
    return [
        GroupRow(*found[group_id], *counts.get(group_id, (0, 0)))
        for group_id in wanted
        if group_id in found
    ]


@dataclass(frozen=True)
class MemberRow:
    member: CustomerGroupMember
    customer_name: str | None


@dataclass(frozen=True)
class GroupDetail:
    row: GroupRow
    members: list[MemberRow]


def get_group(session: Session, workspace_id: int, group_id: int) -> GroupDetail:
    """One group with all its members (active first, then those who left)."""
    found = session.execute(
        select(CustomerGroup, Staff.name)
        .outerjoin(
            Staff,
            (Staff.id == CustomerGroup.owner_staff_id) & (Staff.workspace_id == workspace_id),
        )
        .where(CustomerGroup.workspace_id == workspace_id, CustomerGroup.id == group_id)
    ).first()
    if found is None:
        raise NotFound("customer group")
    group, owner = found[0], found[1]
    members = [
        MemberRow(member, name)
        for member, name in session.execute(
            select(CustomerGroupMember, Customer.name)
            .outerjoin(
                Customer,
                (Customer.id == CustomerGroupMember.customer_id)
                & (Customer.workspace_id == workspace_id),
            )
            .where(
                CustomerGroupMember.workspace_id == workspace_id,
                CustomerGroupMember.group_id == group.id,
            )
            .order_by(
                case((CustomerGroupMember.status == "active", 0), else_=1),
                CustomerGroupMember.member_type.desc(),  # staff before external
                CustomerGroupMember.join_time,
                CustomerGroupMember.id,
            )
        )
    ]
    customers = sum(
        1 for m in members if m.member.status == "active" and m.member.member_type == "external"
    )
    staff = sum(
        1 for m in members if m.member.status == "active" and m.member.member_type == "staff"
    )
    return GroupDetail(GroupRow(group, owner, customers, staff), members)


def active_groups_of_owner(
    session: Session, workspace_id: int, owner_userid: str
) -> list[CustomerGroup]:
    """The active groups `owner_userid` owns as Siyu last saw them, oldest first."""
    return list(
        session.scalars(
            select(CustomerGroup)
            .where(
                CustomerGroup.workspace_id == workspace_id,
                CustomerGroup.owner_userid == owner_userid,
                CustomerGroup.status == "active",
            )
            .order_by(CustomerGroup.id)
        )
    )


def groups_by_chat_id(
    session: Session, workspace_id: int, chat_ids: Sequence[str]
) -> dict[str, CustomerGroup]:
    """The workspace's groups among `chat_ids`, by chat id (unknown ones left out)."""
    if not chat_ids:
        return {}
    return {
        group.chat_id: group
        for group in session.scalars(
            select(CustomerGroup).where(
                CustomerGroup.workspace_id == workspace_id,
                CustomerGroup.chat_id.in_(list(dict.fromkeys(chat_ids))),
            )
        )
    }
