"""Full sync and reconciliation with WeCom: departments → members → corp tags → customers
and follow relations (batch/get_by_user, 100 follow users a request) → customer groups.

A run is a resumable chunked job: after each page the run's checkpoint (phase and cursors)
is committed with the page's writes, so a killed job resumes where it stopped. A full sync
reads everything, so whatever Siyu holds that WeCom no longer lists is repaired at the end
(relations ended, tags and groups removed); what changed is recorded per entity in `fixes`.
"""

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.schemas.contacts import (
    BatchGetByUserResponse,
    ExternalContact,
    ExternalContactGetResponse,
    ExternalContactWithFollowInfo,
    FollowCommon,
)
from siyu.connectors.wecom.schemas.groups import GroupChat
from siyu.connectors.wecom.schemas.org import Department, Member
from siyu.connectors.wecom.schemas.tags import CorpTagGroup
from siyu.connectors.wecom.transport import started
from siyu.customers import groups as customer_groups
from siyu.customers import wecom as customers_wecom
from siyu.customers.groups import WecomGroupMemberRecord, WecomGroupRecord
from siyu.customers.wecom import WecomContactRecord, WecomFollowRecord
from siyu.db.maintenance import StatisticsRefresher
from siyu.exceptions import Conflict, NotFound
from siyu.kit.time import utcnow
from siyu.models import WecomSyncRun
from siyu.staff import service as staff_service
from siyu.staff.schemas import StaffStatus
from siyu.staff.service import WecomDepartmentRecord, WecomMemberRecord
from siyu.tags import service as tags_service
from siyu.tags.service import WecomTagGroupRecord, WecomTagRecord

PHASES = ("departments", "members", "tags", "contacts", "groups", "finish", "done")
FOLLOW_USERS_PER_REQUEST = 100
CONTACTS_PER_PAGE = 100
GROUPS_PER_PAGE = 100
RUNNING = ("queued", "running")
# What a contacts page writes: a first sync fills them from nothing, faster than
# autovacuum (where it runs) refreshes their planner statistics.
CONTACT_TABLES = ("customer", "identity", "follow_relation", "customer_tag", "follow_relation_tag")

Commit = Callable[[], None]
Progress = Callable[[int, int | None], None]


def _time(unix: int) -> datetime | None:
    return datetime.fromtimestamp(unix, UTC) if unix else None


# -- WeCom payloads → domain records -------------------------------------------------------


def department_record(department: Department) -> WecomDepartmentRecord:
    return WecomDepartmentRecord(
        wecom_id=department.id,
        name=department.name or str(department.id),
        parent_wecom_id=department.parentid,
        order=department.order,
    )


def member_record(member: Member) -> WecomMemberRecord:
    main = member.main_department or (member.department[0] if member.department else None)
    return WecomMemberRecord(
        userid=member.userid,
        name=member.name,
        department_wecom_id=main,
        position=member.position or None,
        mobile=member.mobile or None,
        email=member.email or None,
        status=staff_service.WECOM_MEMBER_STATUS.get(member.status, StaffStatus.ACTIVE),
    )


def tag_group_record(group: CorpTagGroup) -> WecomTagGroupRecord:
    return WecomTagGroupRecord(
        wecom_group_id=group.group_id,
        name=group.group_name,
        order=group.order,
        tags=tuple(
            WecomTagRecord(wecom_tag_id=t.id, name=t.name, order=t.order)
            for t in group.tag
            if not t.deleted
        ),
    )


def contact_record(contact: ExternalContact) -> WecomContactRecord:
    return WecomContactRecord(
        external_userid=contact.external_userid,
        name=contact.name,
        unionid=contact.unionid or None,
        avatar=contact.avatar,
        gender=contact.gender,
    )


def follow_record(
    external_userid: str, staff_id: int, follow: FollowCommon, tag_ids: Sequence[int]
) -> WecomFollowRecord:
    return WecomFollowRecord(
        external_userid=external_userid,
        staff_id=staff_id,
        added_at=_time(follow.createtime) or utcnow(),
        remark=follow.remark,
        description=follow.description,
        add_way=follow.add_way,
        state=follow.state,
        tag_ids=tuple(tag_ids),
    )


def group_record(chat: GroupChat, staff_ids: dict[str, int]) -> WecomGroupRecord:
    return WecomGroupRecord(
        chat_id=chat.chat_id,
        name=chat.name,
        owner_userid=chat.owner,
        owner_staff_id=staff_ids.get(chat.owner),
        created_at=_time(chat.create_time),
        notice=chat.notice,
        member_version=chat.member_version,
        members=tuple(
            WecomGroupMemberRecord(
                member_id=m.userid,
                member_type="staff" if m.type == 1 else "external",
                name=m.name or m.group_nickname,
                unionid=m.unionid,
                join_time=_time(m.join_time),
                join_scene=m.join_scene,
                invitor=m.invitor.userid if m.invitor and m.invitor.userid else None,
            )
            for m in chat.member_list
        ),
    )


# -- shared by the sync and the callback handlers ------------------------------------------


async def read_tag_library(
    session: Session, workspace_id: int, client: WecomClient
) -> tuple[int, dict[str, int]]:
    """Mirror the whole corp tag library (a tag event names one id; re-reading it all is
    one call and also catches events that were missed). Returns (groups read, changes)."""
    library = await client.externalcontact_get_corp_tag_list()
    records = [tag_group_record(g) for g in library.tag_group if not g.deleted]
    changes = tags_service.sync_wecom_tag_library(session, workspace_id, records, complete=True)
    return len(records), changes


def apply_contact(
    session: Session,
    workspace_id: int,
    detail: ExternalContactGetResponse,
    *,
    ended_by: str,
    occurred_at: datetime,
    event_userid: str | None = None,
) -> dict[str, int]:
    """Make Siyu's view of one customer match `externalcontact/get` (all follow users):
    upsert the customer and the relations listed; active relations not listed ended and
    become lost customers, deleted by `ended_by` (staff or customer) for the member the
    event names, by "unknown" for any other."""
    contact = detail.external_contact
    ids, _ = customers_wecom.upsert_wecom_contacts(session, workspace_id, [contact_record(contact)])
    customer_id = ids[contact.external_userid]
    staff_ids = staff_service.staff_ids_by_userid(
        session, workspace_id, [*(f.userid for f in detail.follow_user), event_userid or ""]
    )
    event_staff_id = staff_ids.get(event_userid or "")
    tag_ids = tags_service.tag_ids_by_wecom_id(
        session,
        workspace_id,
        (t.tag_id for f in detail.follow_user for t in f.tags if t.type == 1 and t.tag_id),
    )
    records = [
        follow_record(
            contact.external_userid,
            staff_ids[f.userid],
            f,
            [tag_ids[t.tag_id] for t in f.tags if t.tag_id in tag_ids],
        )
        for f in detail.follow_user
        if f.userid in staff_ids
    ]
    counts = customers_wecom.upsert_wecom_follows(session, workspace_id, records, ids)
    listed = {staff_ids[f.userid] for f in detail.follow_user if f.userid in staff_ids}
    ended = 0
    for relation in customers_wecom.relations_of_customer(session, workspace_id, customer_id):
        if relation.staff_id not in listed and customers_wecom.end_follow(
            session,
            relation,
            deleted_by=ended_by if relation.staff_id == event_staff_id else "unknown",
            occurred_at=occurred_at,
            detected_by="callback",
        ):
            ended += 1
    return counts | {"ended": ended}


async def read_group(
    session: Session, workspace_id: int, client: WecomClient, chat_id: str
) -> dict[str, int]:
    chat = (await client.externalcontact_groupchat_get(chat_id)).group_chat
    staff_ids = staff_service.staff_ids_by_userid(session, workspace_id, [chat.owner])
    return customer_groups.upsert_wecom_groups(
        session, workspace_id, [group_record(chat, staff_ids)]
    )


# -- runs ------------------------------------------------------------------------------


def running_run(session: Session, workspace_id: int) -> WecomSyncRun | None:
    return session.scalar(
        select(WecomSyncRun).where(
            WecomSyncRun.workspace_id == workspace_id, WecomSyncRun.status.in_(RUNNING)
        )
    )


def get_run(session: Session, workspace_id: int, run_id: int) -> WecomSyncRun:
    run = session.scalar(
        select(WecomSyncRun).where(
            WecomSyncRun.workspace_id == workspace_id, WecomSyncRun.id == run_id
        )
    )
    if run is None:
        raise NotFound("sync run")
    return run


def new_run(session: Session, workspace_id: int, kind: str) -> WecomSyncRun:
    """A queued run; refused while another one of this workspace is queued or running."""
    current = running_run(session, workspace_id)
    if current is not None:
        raise Conflict(
            "企业微信同步正在进行 (a WeCom sync is already running)", {"run_id": current.id}
        )
    run = WecomSyncRun(workspace_id=workspace_id, kind=kind, status="queued", phase=PHASES[0])
    session.add(run)
    session.flush()
    return run


def _add(target: dict[str, Any], name: str, amount: int) -> dict[str, Any]:
    return {**target, name: int(target.get(name, 0)) + amount}


def _changes(counts: dict[str, int]) -> int:
    return sum(v for k, v in counts.items() if k not in ("tags_added", "tags_removed"))


class Syncer:
    """Runs one sync run phase by phase; `commit` is called after each page."""

    def __init__(
        self,
        session: Session,
        run: WecomSyncRun,
        client: WecomClient,
        *,
        commit: Commit,
        progress: Progress,
    ) -> None:
        self.session = session
        self.run = run
        self.workspace_id = run.workspace_id
        self.client = client
        self.commit = commit
        self.progress = progress

    def _count(self, entity: str, read: int, fixed: int) -> None:
        self.run.counts = _add(self.run.counts, entity, read)
        if fixed:
            self.run.fixes = _add(self.run.fixes, entity, fixed)

    def _next_phase(self, phase: str, checkpoint: dict[str, Any] | None = None) -> None:
        self.run.phase = phase
        if checkpoint is not None:
            self.run.checkpoint = checkpoint
        self.commit()

    async def execute(self) -> None:
        steps: dict[str, Callable[[], Awaitable[None]]] = {
            "departments": self._departments,
            "members": self._members,
            "tags": self._tags,
            "contacts": self._contacts,
            "groups": self._groups,
            "finish": self._finish,
        }
        while self.run.phase != "done":
            await steps[self.run.phase]()

    async def _departments(self) -> None:
        departments = (await self.client.department_list()).department
        records = [department_record(d) for d in departments]
        counts = staff_service.sync_wecom_departments(self.session, self.workspace_id, records)
        self._count("departments", len(records), _changes(counts))
        self._next_phase("members", {"departments": [d.id for d in departments]})

    async def _members(self) -> None:
        members: dict[str, Member] = {}
        for department_id in self.run.checkpoint["departments"]:
            for member in (await self.client.user_list(department_id)).userlist:
                members.setdefault(member.userid, member)
        records = [member_record(m) for m in members.values()]
        counts = staff_service.sync_wecom_members(
            self.session, self.workspace_id, records, complete=True
        )
        self._count("staff", len(records), _changes(counts))
        follow_users = (await self.client.externalcontact_get_follow_user_list()).follow_user
        self._next_phase("tags", {"follow_users": sorted(follow_users), "chunk": 0, "cursor": ""})

    async def _tags(self) -> None:
        read, counts = await read_tag_library(self.session, self.workspace_id, self.client)
        self._count("tag_groups", read, _changes(counts))
        self._next_phase("contacts")

    async def _contacts(self) -> None:
        checkpoint = dict(self.run.checkpoint)
        follow_users: list[str] = checkpoint["follow_users"]
        chunks = [
            follow_users[i : i + FOLLOW_USERS_PER_REQUEST]
            for i in range(0, len(follow_users), FOLLOW_USERS_PER_REQUEST)
        ]
        staff_ids = staff_service.staff_ids_by_userid(self.session, self.workspace_id, follow_users)
        statistics = StatisticsRefresher(self.session, CONTACT_TABLES)

        def fetch(chunk: int, cursor: str) -> Callable[[], Awaitable[BatchGetByUserResponse]]:
            return lambda: self.client.externalcontact_batch_get_by_user(
                chunks[chunk], cursor or None, CONTACTS_PER_PAGE
            )

        # Each page's request goes out before the page before it is written, so WeCom
        # prepares the next page while this one is being stored.
        ahead = None
        if checkpoint["chunk"] < len(chunks):
            ahead = await started(fetch(checkpoint["chunk"], checkpoint["cursor"]))
        try:
            while ahead is not None:
                page = await ahead
                if page.next_cursor:
                    checkpoint["cursor"] = page.next_cursor
                else:
                    checkpoint["chunk"] += 1
                    checkpoint["cursor"] = ""
                ahead = None
                if checkpoint["chunk"] < len(chunks):
                    ahead = await started(fetch(checkpoint["chunk"], checkpoint["cursor"]))
                self._contact_page(page.external_contact_list, staff_ids)
                self.run.checkpoint = dict(checkpoint)
                self.progress(checkpoint["chunk"], len(chunks))
                self.commit()
                statistics.wrote(len(page.external_contact_list))
        finally:
            if ahead is not None and not ahead.cancel():
                ahead.exception()  # it had ended: its outcome is dropped with this run's error
        self._next_phase("groups", {**checkpoint, "group_cursor": ""})

    def _contact_page(
        self, rows: Sequence[ExternalContactWithFollowInfo], staff_ids: dict[str, int]
    ) -> None:
        contacts = [contact_record(r.external_contact) for r in rows]
        ids, created = customers_wecom.upsert_wecom_contacts(
            self.session, self.workspace_id, contacts
        )
        tag_ids = tags_service.tag_ids_by_wecom_id(
            self.session, self.workspace_id, (t for r in rows for t in r.follow_info.tag_id)
        )
        follows = [
            follow_record(
                r.external_contact.external_userid,
                staff_ids[r.follow_info.userid],
                r.follow_info,
                [tag_ids[t] for t in r.follow_info.tag_id if t in tag_ids],
            )
            for r in rows
            if r.follow_info.userid in staff_ids
        ]
        counts = customers_wecom.upsert_wecom_follows(self.session, self.workspace_id, follows, ids)
        self._count("contacts", len(rows), 0)
        self._count("customers", 0, created)
        self._count("relations", len(follows), _changes(counts))
        self._count("customer_tags", 0, counts["tags_added"] + counts["tags_removed"])

    async def _groups(self) -> None:
        checkpoint = dict(self.run.checkpoint)
        staff_ids = staff_service.staff_ids_by_userid(
            self.session, self.workspace_id, checkpoint["follow_users"]
        )
        while True:
            page = await self.client.externalcontact_groupchat_list(
                limit=GROUPS_PER_PAGE, cursor=checkpoint["group_cursor"] or None
            )
            records = []
            for ref in page.group_chat_list:
                chat = (await self.client.externalcontact_groupchat_get(ref.chat_id)).group_chat
                records.append(group_record(chat, staff_ids))
            counts = customer_groups.upsert_wecom_groups(self.session, self.workspace_id, records)
            self._count("groups", len(records), counts["created"] + counts["updated"])
            self._count(
                "group_members",
                sum(len(r.members) for r in records),
                counts["members_joined"] + counts["members_left"],
            )
            if not page.next_cursor or page.next_cursor == checkpoint["group_cursor"]:
                break
            checkpoint["group_cursor"] = page.next_cursor
            self.run.checkpoint = dict(checkpoint)
            self.commit()
        self._next_phase("finish", checkpoint)

    async def _finish(self) -> None:
        started = self.run.started_at
        follow_staff = staff_service.staff_ids_by_userid(
            self.session, self.workspace_id, self.run.checkpoint["follow_users"]
        )
        losses = customers_wecom.end_unlisted_follows(
            self.session,
            self.workspace_id,
            staff_ids=sorted(follow_staff.values()),
            listed_before=started,
        )
        self._count("relations", 0, len(losses))
        dismissed = customer_groups.dismiss_unlisted_groups(
            self.session, self.workspace_id, listed_before=started
        )
        self._count("groups", 0, dismissed)
        self.run.status = "succeeded"
        self.run.finished_at = utcnow()
        self.run.checkpoint = {}
        self._next_phase("done")


def recent_runs(session: Session, workspace_id: int, limit: int) -> list[WecomSyncRun]:
    return list(
        session.scalars(
            select(WecomSyncRun)
            .where(WecomSyncRun.workspace_id == workspace_id)
            .order_by(WecomSyncRun.started_at.desc(), WecomSyncRun.id.desc())
            .limit(limit)
        )
    )
