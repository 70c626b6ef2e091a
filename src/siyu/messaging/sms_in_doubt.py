"""SMS whose fate is unknown: ask Aliyun before sending them again.

A delivery is in doubt while it is `sending`: handed over, with no answer recorded. Either
its SendSms lost its answer (a timeout or a dropped connection after the request went
out, a 5xx from Aliyun's gateway), or the sender stopped after the hand-over. Sending it
again blindly could deliver it twice; taking it for sent could lose it.

So each send pass first asks QuerySendDetails about the broadcast's in-doubt deliveries,
by number and Beijing send date, for the record carrying the OutId `d{delivery_id}` that
the SMS adapter sends (QuerySendDetails takes no OutId; its records carry it):
- found: Aliyun took it. It is recorded as sent, and at once as delivered or failed when
  the record already has its receipt. The record holds no BizId: the delivery report
  brings it (receipts.py finds a report's delivery by OutId when it has no BizId).
- not found, and handed over longer ago than the settle time: Aliyun never took it. It
  goes back to pending, and the pass sends it again; after the last attempt it fails.
- not found yet, within the settle time (Aliyun lists a message a while after taking it,
  and a sender may still be about to send it), or the query failed: a later pass asks again.
The settle time is the SMS account's `in_doubt_settle_seconds` (default 300). A cancelled
broadcast has no send passes: the periodic receipt pull settles its in-doubt SMS, and
cancels (rather than resends) what Aliyun never had. Each change
applies only while the row is still `sending` from the same hand-over (its attempt count).
"""

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update

from siyu.connectors.aliyun_sms.client import AliyunSmsClient
from siyu.connectors.aliyun_sms.errors import IN_DOUBT, AliyunSmsError
from siyu.connectors.aliyun_sms.schemas import SendStatus, SmsSendDetail, china_time
from siyu.kit.time import to_shanghai, utcnow
from siyu.messaging import receipts
from siyu.messaging.repository import MessagingRepository
from siyu.messaging.schemas import DeliveryStatus
from siyu.models import Broadcast, Delivery
from siyu.worker.context import JobContext

DEFAULT_SETTLE = timedelta(seconds=300)
QUERY_CONCURRENCY = 8
CONFIRMED = "应答丢失，经 QuerySendDetails 核实阿里云已受理，未重发"
NOT_FOUND = "应答丢失，等待 {seconds} 秒后阿里云仍查无此短信（OutId {out_id}）"

_RESOLVE = (
    update(Delivery)
    .where(
        Delivery.workspace_id == bindparam("r_workspace"),
        Delivery.id == bindparam("r_id"),
        Delivery.status == DeliveryStatus.SENDING.value,
        Delivery.attempts == bindparam("r_attempts"),
    )
    .values(
        status=bindparam("r_status"),
        sent_at=bindparam("r_sent_at"),
        reason=bindparam("r_reason"),
        detail=bindparam("r_detail"),
    )
)


@dataclass(frozen=True)
class _InDoubt:
    id: int
    address: str
    committed_at: datetime
    attempts: int

    @property
    def out_id(self) -> str:
        return f"d{self.id}"


@dataclass
class Resolution:
    confirmed: int = 0  # Aliyun had them: sent
    resent: int = 0  # Aliyun never had them: pending again
    failed: int = 0  # never at Aliyun, and that was the last attempt
    cancelled: int = 0  # never at Aliyun, and the broadcast was cancelled meanwhile
    waiting: int = 0  # not found yet, or Aliyun could not be asked: a later pass asks again
    last_error: str | None = None

    @property
    def settled(self) -> int:
        return self.confirmed + self.resent + self.failed


def settle_time(config: dict[str, Any]) -> timedelta:
    """How long after the hand-over a message Aliyun does not list counts as never sent."""
    seconds = config.get("in_doubt_settle_seconds")
    return DEFAULT_SETTLE if seconds in (None, "") else timedelta(seconds=float(seconds))


def _send_dates(row: _InDoubt, settle: timedelta, now: datetime) -> list[date]:
    """Beijing dates Aliyun may have filed the send under (a hand-over near midnight)."""
    first = to_shanghai(row.committed_at).date()
    last = to_shanghai(min(row.committed_at + settle, now)).date()
    return [first] if last <= first else [first, last]


async def _ask(
    client: AliyunSmsClient, rows: list[_InDoubt], settle: timedelta, now: datetime
) -> list[SmsSendDetail | AliyunSmsError | None]:
    gate = asyncio.Semaphore(QUERY_CONCURRENCY)

    async def one(row: _InDoubt) -> SmsSendDetail | AliyunSmsError | None:
        async with gate:
            try:
                return await client.find_by_out_id(
                    row.address, row.out_id, _send_dates(row, settle, now)
                )
            except AliyunSmsError as exc:
                return exc

    return await asyncio.gather(*(one(row) for row in rows))


def _receipt(row: _InDoubt, detail: SmsSendDetail) -> receipts.Receipt | None:
    if detail.send_status == SendStatus.WAITING:
        return None
    return receipts.Receipt(
        biz_id="",
        out_id=row.out_id,
        phone_number=detail.phone_number,
        delivered=detail.delivered,
        code=detail.err_code or (receipts.DELIVERED_CODE if detail.delivered else "UNKNOWN"),
        message="",
        at=china_time(detail.receive_date) if detail.receive_date else None,
    )


async def resolve(
    ctx: JobContext,
    broadcast: Broadcast,
    client: AliyunSmsClient,
    *,
    settle: timedelta,
    max_attempts: int,
    resend: bool = True,
) -> Resolution:
    """Settle the broadcast's in-doubt SMS deliveries by asking Aliyun (see the module).
    With `resend` False (a cancelled broadcast), what Aliyun never had is cancelled."""
    session = ctx.session
    workspace_id = broadcast.workspace_id
    rows = [
        _InDoubt(r.id, r.address or "", r.committed_at or utcnow(), r.attempts)
        for r in MessagingRepository(session, workspace_id).in_doubt(broadcast.id)
    ]
    result = Resolution()
    if not rows:
        return result
    ctx.checkpoint()  # no transaction (nor SQLite's write lock) stays open while Aliyun answers
    now = utcnow()
    answers = await _ask(client, rows, settle, now)
    changes: list[dict[str, Any]] = []
    found: list[receipts.Receipt] = []
    for row, answer in zip(rows, answers, strict=True):
        change: dict[str, Any] = {
            "r_workspace": workspace_id,
            "r_id": row.id,
            "r_attempts": row.attempts,
        }
        if isinstance(answer, AliyunSmsError):
            result.waiting += 1
            result.last_error = answer.message
        elif answer is not None:
            result.confirmed += 1
            change.update(
                r_status=DeliveryStatus.SENT.value,
                r_sent_at=row.committed_at,
                r_reason=None,
                r_detail=CONFIRMED,
            )
            changes.append(change)
            receipt = _receipt(row, answer)
            if receipt is not None:
                found.append(receipt)
        elif now - row.committed_at < settle:
            result.waiting += 1
        else:
            last = row.attempts >= max_attempts
            if not resend:
                status = DeliveryStatus.CANCELLED
                result.cancelled += 1
            else:
                status = DeliveryStatus.FAILED if last else DeliveryStatus.PENDING
                result.failed += last
                result.resent += not last
            detail = NOT_FOUND.format(seconds=int(settle.total_seconds()), out_id=row.out_id)
            change.update(r_status=status.value, r_sent_at=None, r_reason=IN_DOUBT, r_detail=detail)
            changes.append(change)
    if changes:
        session.connection().execute(_RESOLVE, changes)
    if found:
        receipts.apply_receipts(session, workspace_id, found)
    session.expire_all()
    return result
