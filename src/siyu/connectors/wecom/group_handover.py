"""Handing customer groups to a new owner (分配在职 / 离职成员的客户群).

WeCom moves a group at once (`groupchat/onjob_transfer`, or `groupchat/transfer` when the
owner resigned), up to 100 groups a request, and lists only the groups it refused, each with
its errcode. Its limits are enforced before calling: an owner's groups go to new owners at
most 300 a day, and a group of a member in service at most twice in 90 days. A transfer is a
`wecom_transfer` row of kind `group_onjob` or `group_resigned` whose `external_userid`
holds the chat id; after WeCom answers, each moved group is re-read so Siyu shows its new
owner (API changes fire no callback Siyu could rely on).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import groupby

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.connectors.wecom import sync
from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.errors import HINTS, WecomApiError
from siyu.connectors.wecom.handover import WINDOW, Kind
from siyu.customers import groups as customer_groups
from siyu.exceptions import NotFound, ValidationFailed
from siyu.kit.time import utcnow
from siyu.models import WecomTransfer
from siyu.staff import service as staff_service
from siyu.worker.queue import enqueue

START_JOB = "wecom.group_handover_start"
KINDS: dict[Kind, str] = {"onjob": "group_onjob", "resigned": "group_resigned"}
PER_REQUEST = 100
PER_DAY = 300
ONJOB_PER_WINDOW = 2
CHINA = timezone(timedelta(hours=8))
# groupchat errcode meaning "the group already has this owner": a transfer sent again
# after a crash found its work done.
ALREADY_OWNER = 90504
GROUP_HINTS = {
    90500: "群主尚未离职：请改用在职继承。",
    90501: "该群不是客户群，或已解散。",
    90502: "群主已离职：请改用离职继承。",
    90507: "该群正在离职继承中。",
    90508: "该群已完成离职继承。",
}
WINDOW_REASON = "在职继承每个客户群 90 天内最多 2 次 (at most 2 on-job transfers in 90 days)"
DAILY_REASON = "每位群主的客户群每天最多分配 300 个 (at most 300 groups of one owner a day)"
IN_PROGRESS_REASON = "已有待提交的继承 (a handover of this group is queued)"
NOT_OWNED_REASON = "该群的群主不是原群主 (the group is not owned by this member)"


@dataclass(frozen=True)
class GroupCandidate:
    """A group the handover member owns, and whether WeCom would accept it now."""

    customer_group_id: int
    chat_id: str
    name: str
    member_count: int
    recent_onjob: int  # on-job transfers of this group in the last 90 days
    eligible: bool
    reason: str | None


def _day_start() -> datetime:
    """The start of today in China, where WeCom counts its days."""
    today = utcnow().astimezone(CHINA)
    return today.replace(hour=0, minute=0, second=0, microsecond=0)


def _recent_onjob_counts(
    session: Session, workspace_id: int, chat_ids: Sequence[str]
) -> dict[str, int]:
    rows = session.execute(
        select(WecomTransfer.external_userid, func.count())
        .where(
            WecomTransfer.workspace_id == workspace_id,
            WecomTransfer.kind == KINDS["onjob"],
            WecomTransfer.external_userid.in_(chat_ids),
            WecomTransfer.requested_at > utcnow() - WINDOW,
            WecomTransfer.status == "done",
        )
        .group_by(WecomTransfer.external_userid)
    )
    return {chat_id: int(count) for chat_id, count in rows}


def _handed_today(session: Session, workspace_id: int, handover_userid: str) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                WecomTransfer.workspace_id == workspace_id,
                WecomTransfer.kind.in_(KINDS.values()),
                WecomTransfer.handover_userid == handover_userid,
                WecomTransfer.requested_at >= _day_start(),
                WecomTransfer.status.in_(("pending", "done")),
            )
        )
        or 0
    )


def _queued(session: Session, workspace_id: int, chat_ids: Sequence[str]) -> set[str]:
    return set(
        session.scalars(
            select(WecomTransfer.external_userid).where(
                WecomTransfer.workspace_id == workspace_id,
                WecomTransfer.kind.in_(KINDS.values()),
                WecomTransfer.external_userid.in_(chat_ids),
                WecomTransfer.status == "pending",
            )
        )
    )


def _reasons(
    session: Session, workspace_id: int, kind: Kind, handover_userid: str, chat_ids: list[str]
) -> dict[str, str]:
    """Why each chat would be refused now, for those that would (the daily quota is spent
    on the chats in the order given)."""
    groups = customer_groups.active_groups_of_owner(session, workspace_id, handover_userid)
    owned = {g.chat_id for g in groups}
    recent = _recent_onjob_counts(session, workspace_id, chat_ids) if kind == "onjob" else {}
    queued = _queued(session, workspace_id, chat_ids)
    left_today = PER_DAY - _handed_today(session, workspace_id, handover_userid)
    reasons = {}
    for chat_id in chat_ids:
        if chat_id not in owned:
            reasons[chat_id] = NOT_OWNED_REASON
        elif chat_id in queued:
            reasons[chat_id] = IN_PROGRESS_REASON
        elif recent.get(chat_id, 0) >= ONJOB_PER_WINDOW:
            reasons[chat_id] = WINDOW_REASON
        elif left_today <= 0:
            reasons[chat_id] = DAILY_REASON
        else:
            left_today -= 1
    return reasons


def request_group_transfers(
    session: Session,
    workspace_id: int,
    *,
    kind: Kind,
    handover_userid: str,
    takeover_userid: str,
    chat_ids: Sequence[str],
) -> list[WecomTransfer]:
    """Record the group transfers and queue them; those WeCom would refuse are refused here."""
    if kind not in KINDS:
        raise ValidationFailed("kind", "must be onjob or resigned")
    if handover_userid == takeover_userid:
        raise ValidationFailed("takeover_userid", "must differ from handover_userid")
    wanted = list(dict.fromkeys(chat_ids))
    if not wanted:
        raise ValidationFailed("chat_ids", "must not be empty")
    reasons = _reasons(session, workspace_id, kind, handover_userid, wanted)
    now = utcnow()
    transfers = []
    for chat_id in wanted:
        reason = reasons.get(chat_id)
        transfer = WecomTransfer(
            workspace_id=workspace_id,
            kind=KINDS[kind],
            handover_userid=handover_userid,
            takeover_userid=takeover_userid,
            external_userid=chat_id,
            status="refused" if reason else "pending",
            reason=reason,
            requested_at=now,
            finished_at=now if reason else None,
        )
        session.add(transfer)
        transfers.append(transfer)
    session.flush()
    pending = [t.id for t in transfers if t.status == "pending"]
    if pending:
        enqueue(session, START_JOB, {"ids": pending}, workspace_id=workspace_id)
    return transfers


def group_candidates(
    session: Session, workspace_id: int, *, kind: Kind, handover_userid: str
) -> list[GroupCandidate]:
    """The active groups `handover_userid` owns, each with why WeCom would refuse it now."""
    if staff_service.staff_by_userid(session, workspace_id, handover_userid) is None:
        raise NotFound("staff")
    groups = customer_groups.active_groups_of_owner(session, workspace_id, handover_userid)
    chat_ids = [g.chat_id for g in groups]
    reasons = _reasons(session, workspace_id, kind, handover_userid, chat_ids)
    recent = _recent_onjob_counts(session, workspace_id, chat_ids)
    return [
        GroupCandidate(
            customer_group_id=g.id,
            chat_id=g.chat_id,
            name=g.name,
            member_count=g.member_count,
            recent_onjob=recent.get(g.chat_id, 0),
            eligible=g.chat_id not in reasons,
            reason=reasons.get(g.chat_id),
        )
        for g in groups
    ]


def _pending(session: Session, workspace_id: int, ids: Sequence[int]) -> list[WecomTransfer]:
    return list(
        session.scalars(
            select(WecomTransfer)
            .where(
                WecomTransfer.workspace_id == workspace_id,
                WecomTransfer.id.in_(ids),
                WecomTransfer.kind.in_(KINDS.values()),
                WecomTransfer.status == "pending",
            )
            .order_by(WecomTransfer.kind, WecomTransfer.takeover_userid, WecomTransfer.id)
        )
    )


def _finish(transfer: WecomTransfer, errcode: int | None, reason: str | None) -> None:
    transfer.status = "done" if errcode is None else "failed"
    transfer.errcode = errcode
    transfer.reason = (reason or "")[:200] or None
    transfer.finished_at = utcnow()
    if errcode is None:
        transfer.takeover_time = transfer.finished_at


async def start(
    session: Session, workspace_id: int, client: WecomClient, ids: Sequence[int]
) -> int:
    """Send the pending group transfers, 100 a request, and re-read the groups that moved.
    Returns how many moved.

    In a job each WeCom call first commits what was marked so far, so a retry after a
    failure sends only the transfers still pending."""
    moved: list[str] = []
    for (kind, takeover), group in groupby(
        _pending(session, workspace_id, ids), key=lambda t: (t.kind, t.takeover_userid)
    ):
        rows = list(group)
        call = (
            client.externalcontact_groupchat_onjob_transfer
            if kind == KINDS["onjob"]
            else client.externalcontact_groupchat_transfer
        )
        for offset in range(0, len(rows), PER_REQUEST):
            chunk = rows[offset : offset + PER_REQUEST]
            try:
                answer = await call([t.external_userid for t in chunk], takeover)
            except WecomApiError as exc:
                for transfer in chunk:
                    _finish(transfer, exc.errcode, exc.hint or exc.errmsg)
                continue
            failed = {f.chat_id: f for f in answer.failed_chat_list}
            for transfer in chunk:
                refusal = failed.get(transfer.external_userid)
                if refusal is None or refusal.errcode == ALREADY_OWNER:
                    _finish(transfer, None, None)
                    moved.append(transfer.external_userid)
                else:
                    hint = GROUP_HINTS.get(refusal.errcode) or HINTS.get(refusal.errcode)
                    _finish(transfer, refusal.errcode, hint or refusal.errmsg)
    for chat_id in moved:
        await sync.read_group(session, workspace_id, client, chat_id)
    session.flush()
    return len(moved)


def recent_group_transfers(
    session: Session, workspace_id: int, *, handover_userid: str | None, limit: int
) -> list[tuple[WecomTransfer, str | None]]:
    """Group transfers, newest first, each with the group's name as Siyu knows it."""
    stmt = select(WecomTransfer).where(
        WecomTransfer.workspace_id == workspace_id, WecomTransfer.kind.in_(KINDS.values())
    )
    if handover_userid is not None:
        stmt = stmt.where(WecomTransfer.handover_userid == handover_userid)
    stmt = stmt.order_by(WecomTransfer.requested_at.desc(), WecomTransfer.id.desc()).limit(limit)
    transfers = list(session.scalars(stmt))
    groups = customer_groups.groups_by_chat_id(
        session, workspace_id, [t.external_userid for t in transfers]
    )
    return [
        (t, groups[t.external_userid].name if t.external_userid in groups else None)
        for t in transfers
    ]
