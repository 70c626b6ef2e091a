"""Handing customers over between staff members (在职继承 / 离职继承).

WeCom's limits are enforced before calling: at most 100 customers per request, and an
on-job transfer at most twice per customer in 90 days (a third is refused here, with the
reason, and never sent). Transfers complete about 24 h later; a job polls the results
until each is final, then Siyu's relations follow: the old one is marked transferred (not
a lost customer) and the customer is re-read so the takeover member's relation appears.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.connectors.wecom import sync
from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.errors import WecomApiError
from siyu.customers import wecom as customers_wecom
from siyu.customers.schemas import FollowStatus
from siyu.exceptions import NotFound, ValidationFailed
from siyu.kit.time import utcnow
from siyu.models import WecomTransfer
from siyu.staff import service as staff_service
from siyu.worker.queue import enqueue

Kind = Literal["onjob", "resigned"]
START_JOB = "wecom.handover_start"
POLL_JOB = "wecom.handover_poll"
PER_REQUEST = 100
ONJOB_PER_WINDOW = 2
WINDOW = timedelta(days=90)
POLL_EVERY = timedelta(hours=1)
# transfer_result status → ours
RESULT_STATUS = {
    1: "done",
    2: "waiting",
    3: "customer_refused",
    4: "takeover_limit",
    5: "no_record",
}
FINAL = frozenset({"refused", "failed", "done", "customer_refused", "takeover_limit", "no_record"})
WINDOW_REASON = "在职继承每位客户 90 天内最多 2 次 (at most 2 on-job transfers in 90 days)"


def request_transfers(
    session: Session,
    workspace_id: int,
    *,
    kind: Kind,
    handover_userid: str,
    takeover_userid: str,
    external_userids: Sequence[str],
) -> list[WecomTransfer]:
    """Record the transfers and queue them; those over the 90-day limit are refused here."""
    if kind not in ("onjob", "resigned"):
        raise ValidationFailed("kind", "must be onjob or resigned")
    if handover_userid == takeover_userid:
        raise ValidationFailed("takeover_userid", "must differ from handover_userid")
    wanted = list(dict.fromkeys(external_userids))
    if not wanted:
        raise ValidationFailed("external_userids", "must not be empty")
    recent = _recent_onjob_counts(session, workspace_id, wanted) if kind == "onjob" else {}
    customers = customers_wecom.customer_ids_by_external_userid(session, workspace_id, wanted)
    transfers = []
    for external_userid in wanted:
        over = recent.get(external_userid, 0) >= ONJOB_PER_WINDOW
        transfer = WecomTransfer(
            workspace_id=workspace_id,
            kind=kind,
            handover_userid=handover_userid,
            takeover_userid=takeover_userid,
            external_userid=external_userid,
            customer_id=customers.get(external_userid),
            status="refused" if over else "pending",
            reason=WINDOW_REASON if over else None,
            finished_at=utcnow() if over else None,
        )
        session.add(transfer)
        transfers.append(transfer)
    session.flush()
    pending = [t.id for t in transfers if t.status == "pending"]
    if pending:
        enqueue(session, START_JOB, {"ids": pending}, workspace_id=workspace_id)
    return transfers


IN_PROGRESS_REASON = "已有进行中的继承 (a handover of this customer is in progress)"
CANDIDATES_LIMIT = 5000


@dataclass(frozen=True)
class Candidate:
    """A customer of the handover member, and whether WeCom would accept them now."""

    customer_id: int
    name: str | None
    external_userid: str
    added_at: datetime
    recent_onjob: int  # on-job transfers of this customer in the last 90 days
    eligible: bool
    reason: str | None


def candidates(
    session: Session, workspace_id: int, *, kind: Kind, handover_userid: str
) -> list[Candidate]:
    """The customers `handover_userid` follows, each with why WeCom would refuse them now
    (the 90-day limit of on-job transfers, or a transfer still pending or waiting)."""
    staff = staff_service.staff_by_userid(session, workspace_id, handover_userid)
    if staff is None:
        raise NotFound("staff")
    followed = customers_wecom.customers_followed_by(
        session, workspace_id, staff.id, limit=CANDIDATES_LIMIT
    )
    userids = [f.external_userid for f in followed]
    recent = _recent_onjob_counts(session, workspace_id, userids)
    busy = set(
        session.scalars(
            select(WecomTransfer.external_userid).where(
                WecomTransfer.workspace_id == workspace_id,
                WecomTransfer.external_userid.in_(userids),
                WecomTransfer.status.in_(("pending", "waiting")),
            )
        )
    )
    found = []
    for f in followed:
        over = kind == "onjob" and recent.get(f.external_userid, 0) >= ONJOB_PER_WINDOW
        reason = IN_PROGRESS_REASON if f.external_userid in busy else None
        reason = WINDOW_REASON if over else reason
        found.append(
            Candidate(
                customer_id=f.customer_id,
                name=f.name,
                external_userid=f.external_userid,
                added_at=f.added_at,
                recent_onjob=recent.get(f.external_userid, 0),
                eligible=reason is None,
                reason=reason,
            )
        )
    return found


def _recent_onjob_counts(
    session: Session, workspace_id: int, external_userids: Sequence[str]
) -> dict[str, int]:
    rows = session.execute(
        select(WecomTransfer.external_userid, func.count())
        .where(
            WecomTransfer.workspace_id == workspace_id,
            WecomTransfer.kind == "onjob",
            WecomTransfer.external_userid.in_(external_userids),
            WecomTransfer.requested_at > utcnow() - WINDOW,
            WecomTransfer.status.not_in(("refused", "failed")),
        )
        .group_by(WecomTransfer.external_userid)
    )
    return {external_userid: int(count) for external_userid, count in rows}


def _transfers(session: Session, workspace_id: int, ids: Sequence[int]) -> list[WecomTransfer]:
    return list(
        session.scalars(
            select(WecomTransfer)
            .where(WecomTransfer.workspace_id == workspace_id, WecomTransfer.id.in_(ids))
            .order_by(
                WecomTransfer.kind,
                WecomTransfer.handover_userid,
                WecomTransfer.takeover_userid,
                WecomTransfer.id,
            )
        )
    )


def _pair(t: WecomTransfer) -> tuple[str, str, str]:
    return (t.kind, t.handover_userid, t.takeover_userid)


async def start(
    session: Session, workspace_id: int, client: WecomClient, ids: Sequence[int]
) -> list[int]:
    """Send the pending transfers, 100 customers a request; returns the ids now waiting.

    In a job each request first commits the transfers marked so far, so a retry after a
    failure sends only those still pending."""
    transfers = _transfers(session, workspace_id, ids)
    pending = [t for t in transfers if t.status == "pending"]
    for (kind, handover, takeover), group in groupby(pending, key=_pair):
        rows = list(group)
        for offset in range(0, len(rows), PER_REQUEST):
            chunk = rows[offset : offset + PER_REQUEST]
            userids = [t.external_userid for t in chunk]
            call = (
                client.externalcontact_transfer_customer
                if kind == "onjob"
                else client.externalcontact_resigned_transfer_customer
            )
            try:
                answer = await call(handover, takeover, userids)
            except WecomApiError as exc:
                for transfer in chunk:
                    _fail(transfer, exc.errcode, exc.hint or exc.errmsg)
                continue
            codes = {c.external_userid: c.errcode for c in answer.customer}
            for transfer in chunk:
                errcode = codes.get(transfer.external_userid, -1)
                if errcode == 0:
                    transfer.status = "waiting"
                else:
                    _fail(transfer, errcode, None)
    session.flush()
    # Also those sent by an earlier attempt that committed before failing: poll them too.
    return [t.id for t in transfers if t.status == "waiting"]


def _fail(transfer: WecomTransfer, errcode: int, reason: str | None) -> None:
    transfer.status = "failed"
    transfer.errcode = errcode
    transfer.reason = (reason or "")[:200] or None
    transfer.finished_at = utcnow()


async def poll(
    session: Session, workspace_id: int, client: WecomClient, ids: Sequence[int]
) -> list[int]:
    """Read the results of waiting transfers; apply the final ones. Returns those still
    waiting."""
    waiting = [t for t in _transfers(session, workspace_id, ids) if t.status == "waiting"]
    for (kind, handover, takeover), group in groupby(waiting, key=_pair):
        rows = {t.external_userid: t for t in group}
        read = (
            client.externalcontact_transfer_result
            if kind == "onjob"
            else client.externalcontact_resigned_transfer_result
        )
        cursor: str | None = None
        while True:
            page = await read(handover, takeover, cursor)
            for result in page.customer:
                transfer = rows.get(result.external_userid)
                if transfer is None:
                    continue
                transfer.status = RESULT_STATUS.get(result.status, "waiting")
                if result.takeover_time:
                    transfer.takeover_time = datetime.fromtimestamp(result.takeover_time, UTC)
            if not page.next_cursor or page.next_cursor == cursor:
                break
            cursor = page.next_cursor
        for transfer in rows.values():
            if transfer.status == "done":
                await _complete(session, workspace_id, client, transfer)
            elif transfer.status in FINAL:
                transfer.finished_at = utcnow()
    session.flush()
    return [t.id for t in waiting if t.status == "waiting"]


async def _complete(
    session: Session, workspace_id: int, client: WecomClient, transfer: WecomTransfer
) -> None:
    transfer.finished_at = utcnow()
    handover = staff_service.staff_by_userid(session, workspace_id, transfer.handover_userid)
    if transfer.customer_id is not None and handover is not None:
        relation = customers_wecom.relation_of(
            session, workspace_id, transfer.customer_id, handover.id
        )
        if relation is not None and relation.status == FollowStatus.ACTIVE:
            relation.status = FollowStatus.TRANSFERRED.value
    detail = await client.externalcontact_get_all(transfer.external_userid)
    sync.apply_contact(session, workspace_id, detail, ended_by="unknown", occurred_at=utcnow())


def next_poll(transfers: Sequence[WecomTransfer]) -> datetime:
    """When to look again: the earliest expected takeover time, at most an hour away."""
    soonest = min((t.takeover_time for t in transfers if t.takeover_time), default=None)
    later = utcnow() + POLL_EVERY
    return min(soonest, later) if soonest is not None and soonest > utcnow() else later


def recent_transfers(
    session: Session, workspace_id: int, *, handover_userid: str | None, limit: int
) -> list[WecomTransfer]:
    stmt = select(WecomTransfer).where(
        WecomTransfer.workspace_id == workspace_id, WecomTransfer.kind.in_(("onjob", "resigned"))
    )
    if handover_userid is not None:
        stmt = stmt.where(WecomTransfer.handover_userid == handover_userid)
    stmt = stmt.order_by(WecomTransfer.requested_at.desc(), WecomTransfer.id.desc()).limit(limit)
    return list(session.scalars(stmt))


FAIL_REASONS = {"customer_refused": "customer_refused", "customer_limit_exceed": "takeover_limit"}


def transfer_failed(
    session: Session, workspace_id: int, *, takeover_userid: str, external_userid: str, reason: str
) -> int:
    """A transfer_fail callback: the waiting transfers of this customer to this member end."""
    waiting = session.scalars(
        select(WecomTransfer).where(
            WecomTransfer.workspace_id == workspace_id,
            WecomTransfer.takeover_userid == takeover_userid,
            WecomTransfer.external_userid == external_userid,
            WecomTransfer.status == "waiting",
        )
    ).all()
    for transfer in waiting:
        transfer.status = FAIL_REASONS.get(reason, "failed")
        transfer.reason = reason[:200] or None
        transfer.finished_at = utcnow()
    session.flush()
    return len(waiting)
