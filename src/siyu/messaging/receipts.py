"""What happened to SMS after it left: Aliyun delivery reports and customer replies.

Aliyun's HTTP batch push (短信服务控制台 → 通用设置 → 回执消息配置, HTTP 批量推送) carries no
signature, so every workspace gets its own unguessable URLs, paste them into that page:

    {SIYU_BASE_URL}/hooks/aliyun-sms/{token}/report   delivery reports (SmsReport)
    {SIYU_BASE_URL}/hooks/aliyun-sms/{token}/up       customer replies (SmsUp)

`token` is the workspace id signed with the app's secret key (itsdangerous: HMAC over a
salted key derivation, its own salt), so no table holds it. Tokens signed with a key in
SIYU_PREVIOUS_SECRET_KEYS keep working during a rotation; a leaked URL is revoked by
rotating SIYU_SECRET_KEY and pasting the new URLs into the console.

A report moves a `sent` delivery to `delivered`, or to `failed` with the carrier's code as
the reason (MOBILE_NOT_ON_SERVICE …). It finds its delivery by BizId (the provider id the
send recorded), or by the OutId `d{delivery_id}` the SMS adapter sends when the BizId was
never recorded (a sender that stopped after handing the message over). A repeated report
changes nothing. A reply "T"/"TD"/"退订" opts the number's customer out of SMS.

When a push never comes, `messaging.pull_sms_receipts` (receipt_jobs.py) asks
QuerySendDetails about deliveries still `sent` after a while, and applies the answers the
same way.
"""

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import ColumnElement, Row, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.connectors.aliyun_sms.client import AliyunSmsClient
from siyu.connectors.aliyun_sms.errors import REPORT_MESSAGES, AliyunSmsError
from siyu.connectors.aliyun_sms.schemas import SendStatus, SmsReport, SmsUplink, china_time
from siyu.content import preferences
from siyu.kit.time import to_shanghai, utcnow
from siyu.messaging.schemas import BroadcastStatus, Channel, DeliveryStatus
from siyu.models import Broadcast, Delivery

TOKEN_SALT = "siyu.sms-receipts.v1"  # noqa: S105 - a salt, not a secret
HOOKS_PREFIX = "/hooks/aliyun-sms"
# The OutId the SMS adapter sends with each message: "d" and the delivery id.
OUT_ID = re.compile(r"d([1-9]\d{0,17})")
DELIVERED_CODE = "DELIVERED"
QUERY_CONCURRENCY = 8


# -- the receiver URLs -------------------------------------------------------------


def _serializer(settings: Settings) -> URLSafeSerializer:
    # itsdangerous signs with the last key and accepts any of them: oldest first.
    keys = [k.get_secret_value() for k in reversed(settings.previous_secret_keys)]
    keys.append(settings.secret_key.get_secret_value())
    return URLSafeSerializer(keys, salt=TOKEN_SALT)


def receipt_token(settings: Settings, workspace_id: int) -> str:
    return str(_serializer(settings).dumps(workspace_id))


def workspace_of(settings: Settings, token: str) -> int | None:
    """The workspace a receipt URL's token stands for; None when it is not one of ours."""
    try:
        payload = _serializer(settings).loads(token)
    except BadSignature:
        return None
    if isinstance(payload, int) and not isinstance(payload, bool) and payload > 0:
        return payload
    return None


@dataclass(frozen=True)
class ReceiptUrls:
    report_url: str
    uplink_url: str


def receipt_urls(settings: Settings, workspace_id: int) -> ReceiptUrls:
    """The workspace's URLs for Aliyun's console: delivery reports and replies."""
    base = f"{settings.base_url.rstrip('/')}{HOOKS_PREFIX}/{receipt_token(settings, workspace_id)}"
    return ReceiptUrls(report_url=f"{base}/report", uplink_url=f"{base}/up")


# -- applying receipts -------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """The final word on one message, from a push or from QuerySendDetails."""

    biz_id: str
    out_id: str
    phone_number: str
    delivered: bool
    code: str
    message: str
    at: datetime | None


def from_report(report: SmsReport) -> Receipt:
    return Receipt(
        biz_id=report.biz_id,
        out_id=report.out_id,
        phone_number=report.phone_number,
        delivered=report.success,
        code=report.err_code or (DELIVERED_CODE if report.success else "UNKNOWN"),
        message=report.err_msg,
        at=report.report_time,
    )


@dataclass
class Tally:
    """What a batch of receipts did; every receipt lands in exactly one field."""

    delivered: int = 0
    failed: int = 0
    duplicate: int = 0  # the delivery already had its outcome: a repeated report
    unknown: int = 0  # no SMS delivery of this workspace has that BizId or OutId
    in_flight: int = 0  # the delivery is still being handed over: ask for it again later

    def add(self, other: "Tally") -> None:
        self.delivered += other.delivered
        self.failed += other.failed
        self.duplicate += other.duplicate
        self.unknown += other.unknown
        self.in_flight += other.in_flight

    def as_dict(self) -> dict[str, int]:
        return {
            "delivered": self.delivered,
            "failed": self.failed,
            "duplicate": self.duplicate,
            "unknown": self.unknown,
            "in_flight": self.in_flight,
        }


def _delivery_id(out_id: str) -> int | None:
    match = OUT_ID.fullmatch(out_id.strip())
    return int(match.group(1)) if match else None


def _same_number(address: str | None, phone_number: str) -> bool:
    """+8613800000001 and 13800000001 are one number (mainland numbers are 11 digits)."""
    mine = "".join(c for c in address or "" if c.isdigit())[-11:]
    theirs = "".join(c for c in phone_number if c.isdigit())[-11:]
    return bool(mine) and mine == theirs


class _Rows:
    """The SMS deliveries a batch of receipts names, by BizId and by OutId.

    A BizId names one request: one message for SendSms, up to 100 (one per number) for
    SendBatchSms, so a BizId with several deliveries is told apart by the number.
    """

    def __init__(self, session: Session, workspace_id: int, receipts: Sequence[Receipt]) -> None:
        biz_ids = {r.biz_id for r in receipts if r.biz_id}
        own_ids = {i for r in receipts if (i := _delivery_id(r.out_id)) is not None}
        matches: list[ColumnElement[bool]] = []
        if biz_ids:
            matches.append(Delivery.provider_id.in_(biz_ids))
        if own_ids:
            matches.append(and_(Delivery.id.in_(own_ids), Delivery.provider_id.is_(None)))
        rows: list[Row[Any]] = []
        if matches:
            rows = list(
                session.execute(
                    select(
                        Delivery.id, Delivery.provider_id, Delivery.address, Delivery.status
                    ).where(
                        Delivery.workspace_id == workspace_id,
                        Delivery.channel == Channel.SMS.value,
                        or_(*matches),
                    )
                )
            )
        self.by_biz_id: dict[str, list[Row[Any]]] = {}
        for row in rows:
            if row.provider_id:
                self.by_biz_id.setdefault(row.provider_id, []).append(row)
        self.by_id = {row.id: row for row in rows if not row.provider_id}

    def find(self, receipt: Receipt) -> Row[Any] | None:
        found = self.by_biz_id.get(receipt.biz_id, [])
        if len(found) > 1:
            found = [r for r in found if _same_number(r.address, receipt.phone_number)]
        if found:
            return found[0]
        own = _delivery_id(receipt.out_id)
        return self.by_id.get(own) if own is not None else None


NOT_SENT = frozenset({DeliveryStatus.CANCELLED.value, DeliveryStatus.EXCLUDED.value})

# Each change applies only while the row still has the status it was read with, so a
# concurrent sender, push or pull never has its work overwritten.
_SETTLE = (
    update(Delivery)
    .where(Delivery.id == bindparam("b_id"), Delivery.status == bindparam("b_expected"))
    .values(
        status=bindparam("b_status"),
        provider_id=bindparam("b_provider_id"),
        reason=bindparam("b_reason"),
        detail=bindparam("b_detail"),
        delivered_at=bindparam("b_delivered_at"),
        sent_at=func.coalesce(Delivery.sent_at, Delivery.committed_at, bindparam("b_now")),
    )
)


def apply_receipts(session: Session, workspace_id: int, receipts: Sequence[Receipt]) -> Tally:
    """Record final outcomes on SMS deliveries: one SELECT and one UPDATE a batch.

    `sent` deliveries take their outcome. So does a `pending` one a report names by its
    OutId: a send that failed on our side (a timeout) reached Aliyun after all, and must
    not go out a second time.
    """
    tally = Tally()
    if not receipts:
        return tally
    rows = _Rows(session, workspace_id, receipts)
    now = utcnow()
    changes: dict[int, dict[str, Any]] = {}
    for receipt in receipts:
        row = rows.find(receipt)
        if row is None or row.status in NOT_SENT:
            tally.unknown += 1
        elif row.status == DeliveryStatus.SENDING.value:
            tally.in_flight += 1
        elif (
            row.status not in (DeliveryStatus.SENT.value, DeliveryStatus.PENDING.value)
            or row.id in changes
        ):
            tally.duplicate += 1
        else:
            changes[row.id] = _change(row, receipt, now)
            if receipt.delivered:
                tally.delivered += 1
            else:
                tally.failed += 1
    if changes:
        session.connection().execute(_SETTLE, list(changes.values()))
    return tally


def _change(row: Row[Any], receipt: Receipt, now: datetime) -> dict[str, Any]:
    change: dict[str, Any] = {
        "b_id": row.id,
        "b_expected": row.status,
        "b_provider_id": row.provider_id or receipt.biz_id or None,
        "b_now": now,
    }
    if receipt.delivered:
        change.update(
            b_status=DeliveryStatus.DELIVERED.value,
            b_reason=None,
            b_detail=None,
            b_delivered_at=receipt.at or now,
        )
    else:
        explained = receipt.message or REPORT_MESSAGES.get(receipt.code, "")
        detail = f"{receipt.code}: {explained}" if explained else receipt.code
        change.update(
            b_status=DeliveryStatus.FAILED.value,
            b_reason=receipt.code[:40],
            b_detail=detail[:500],
            b_delivered_at=None,
        )
    return change


@dataclass
class UplinkTally:
    opted_out: int = 0  # a stop word from a known customer's number
    other: int = 0  # any other reply, or a number no customer has

    def as_dict(self) -> dict[str, int]:
        return {"opted_out": self.opted_out, "other": self.other}


def apply_uplinks(session: Session, workspace_id: int, uplinks: Sequence[SmsUplink]) -> UplinkTally:
    """Customer replies: "T", "TD", "退订" … opt the number's customer out of SMS."""
    tally = UplinkTally()
    for uplink in uplinks:
        if preferences.opt_out_by_sms_reply(
            session, workspace_id, uplink.phone_number, uplink.content
        ):
            tally.opted_out += 1
        else:
            tally.other += 1
    return tally


# -- the pull fallback -------------------------------------------------------------


@dataclass(frozen=True)
class Unreported:
    """An SMS delivery still `sent`: no report reached us."""

    id: int
    workspace_id: int
    address: str
    provider_id: str | None
    committed_at: datetime | None
    sent_at: datetime


def cancelled_in_doubt(
    session: Session, *, finished_after: datetime, limit: int
) -> list[Broadcast]:
    """SMS broadcasts of every workspace cancelled since `finished_after` that still have
    deliveries in doubt (handed over, no answer)."""
    return list(
        session.scalars(
            select(Broadcast)
            .where(
                Broadcast.channel == Channel.SMS.value,
                Broadcast.status == BroadcastStatus.CANCELLED.value,
                Broadcast.finished_at >= finished_after,
                select(Delivery.id)
                .where(
                    Delivery.broadcast_id == Broadcast.id,
                    Delivery.status == DeliveryStatus.SENDING.value,
                )
                .exists(),
            )
            .order_by(Broadcast.id)
            .limit(limit)
        )
    )


def unreported(
    session: Session, *, sent_before: datetime, sent_after: datetime, after_id: int, limit: int
) -> list[Unreported]:
    """SMS deliveries of every workspace still `sent` in that window, by id after `after_id`.

    Found through recent SMS broadcasts, so the delivery table is read by its
    (broadcast_id, status, id) index.
    """
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.workspace_id,
            Delivery.address,
            Delivery.provider_id,
            Delivery.committed_at,
            Delivery.sent_at,
        )
        .join(
            Broadcast,
            and_(
                Broadcast.id == Delivery.broadcast_id,
                Broadcast.workspace_id == Delivery.workspace_id,
            ),
        )
        .where(
            Broadcast.channel == Channel.SMS.value,
            or_(Broadcast.finished_at.is_(None), Broadcast.finished_at >= sent_after),
            Delivery.status == DeliveryStatus.SENT.value,
            Delivery.id > after_id,
            Delivery.address.is_not(None),
            Delivery.sent_at < sent_before,
            Delivery.sent_at >= sent_after,
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    return [
        Unreported(r.id, r.workspace_id, r.address, r.provider_id, r.committed_at, r.sent_at)
        for r in rows
    ]


def _send_dates(row: Unreported) -> list[date]:
    """Beijing dates the provider may have filed the send under (a send near midnight)."""
    dates = [to_shanghai(row.sent_at).date()]
    if row.committed_at is not None:
        earlier = to_shanghai(row.committed_at).date()
        if earlier not in dates:
            dates.insert(0, earlier)
    return dates


async def _ask(client: AliyunSmsClient, row: Unreported) -> Receipt | None:
    for send_date in _send_dates(row):
        page = await client.query_send_details(
            row.address, send_date, biz_id=row.provider_id or None
        )
        for detail in page.details:
            if row.provider_id is None and detail.out_id != f"d{row.id}":
                continue
            if detail.send_status == SendStatus.WAITING:
                return None
            return Receipt(
                biz_id=row.provider_id or "",
                out_id=detail.out_id or f"d{row.id}",
                phone_number=detail.phone_number,
                delivered=detail.delivered,
                code=detail.err_code or (DELIVERED_CODE if detail.delivered else "UNKNOWN"),
                message="",
                at=china_time(detail.receive_date) if detail.receive_date else None,
            )
    return None


@dataclass
class PullResult:
    receipts: list[Receipt]
    waiting: int = 0
    errors: int = 0
    last_error: str | None = None


async def query_receipts(client: AliyunSmsClient, rows: Sequence[Unreported]) -> PullResult:
    """QuerySendDetails for each row (a few at a time); rows Aliyun cannot answer are skipped."""
    gate = asyncio.Semaphore(QUERY_CONCURRENCY)
    result = PullResult(receipts=[])

    async def one(row: Unreported) -> None:
        async with gate:
            try:
                receipt = await _ask(client, row)
            except AliyunSmsError as exc:
                result.errors += 1
                result.last_error = exc.message
                return
        if receipt is None:
            result.waiting += 1
        else:
            result.receipts.append(receipt)

    await asyncio.gather(*(one(row) for row in rows))
    return result
