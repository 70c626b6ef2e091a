"""The demo's past broadcasts: composed and planned through the messaging service, then
played out as they went — sent, delivered or failed, opened, shared and bought after.

A broadcast is created as a draft through the messaging service and planned by the same
planner a send uses (snapshot, eligibility, one delivery row per customer). What
happened afterwards lies in the past, so the demo loader writes it directly with past
timestamps, like it does for orders and events: delivery outcomes, WeCom tasks staff
confirmed, tracked links minted by the links service, and (in clicks.py) opens, share
edges and orders.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from siyu.connectors.aliyun_sms_sim.seed import MEMBER_DAY
from siyu.content import links, staff_links
from siyu.demo.channels import SMS_SIGN
from siyu.demo.clicks import Clicks, LinkOwner, StaffLink, StaffMessage
from siyu.demo.insights import BUYERS_THIS_YEAR, GOLD_AND_UP, GREEN_TEA_FRIENDS
from siyu.demo.library import LONGJING_URL, PRESALE_URL, Library
from siyu.demo.people import Loaded, Progress
from siyu.kit.time import SHANGHAI, utcnow
from siyu.messaging import planning
from siyu.messaging import service as messaging_service
from siyu.messaging.schemas import (
    BroadcastIn,
    BroadcastStatus,
    Channel,
    Content,
    DeliveryStatus,
    SmsContent,
)
from siyu.messaging.wecom_content import POSTER_CHANNEL
from siyu.models import Broadcast, Delivery, SegmentSnapshot, TrackedLink
from siyu.models import WecomBroadcastTask as WecomTask


@dataclass(frozen=True)
class PastBroadcast:
    name: str
    channel: Channel
    segment: str
    content: Content
    sent_at: datetime
    # share of the customers who got it that open their link, and who of those share it
    open_rate: float
    share_rate: float


# How sends end, per channel: (status, reason, weight).
OUTCOMES: dict[str, tuple[tuple[str, str | None, int], ...]] = {
    "email": (("sent", None, 96), ("failed", "smtp_550", 3), ("failed", "smtp_552", 1)),
    "sms": (
        ("delivered", None, 93),
        ("sent", None, 2),
        ("failed", "MOBILE_NOT_ON_SERVICE", 3),
        ("failed", "MOBILE_IN_BLACK", 2),
    ),
    "wecom": (("sent", None, 92), ("failed", "not_friend", 6), ("failed", "wecom_quota", 2)),
}
DETAILS = {
    "smtp_550": "550 5.1.1 mailbox unavailable",
    "smtp_552": "552 5.2.2 mailbox full",
    "MOBILE_NOT_ON_SERVICE": "停机",
    "MOBILE_IN_BLACK": "手机号在黑名单",
    "not_friend": "客户已不是该员工的好友",
    "wecom_quota": "客户本月接收群发消息已达上限",
}


def _last(now: datetime, month: int | None, day: int, hour: int) -> datetime:
    """The latest `month`/`day` (every month when None) at `hour` in Shanghai, a day or more
    before `now`."""
    local = (now - timedelta(days=1)).astimezone(SHANGHAI)
    year, current = local.year, local.month
    for _ in range(24):
        if month is None or current == month:
            moment = datetime.combine(date(year, current, day), time(hour), SHANGHAI)
            if moment <= local:
                return moment.astimezone(UTC)
        current -= 1
        if current == 0:
            year, current = year - 1, 12
    raise AssertionError("a date within two years always exists")


def past_broadcasts(library: Library, now: datetime) -> list[PastBroadcast]:
    member_day = _last(now, None, 18, 10)
    return [
        PastBroadcast(
            name="明前龙井预告",
            channel=Channel.EMAIL,
            segment=GREEN_TEA_FRIENDS,
            content=Content(
                subject="{客户昵称}，今年的明前龙井下周到店",
                text="{客户昵称}您好：\n今年的明前龙井下周到店，老茶客可先登记品鉴装："
                f"{LONGJING_URL}\n\n山茶集",
                html="<p>{客户昵称}您好：</p><p>今年的明前龙井下周到店，老茶客可先登记"
                f'品鉴装。</p><p><a href="{LONGJING_URL}">登记品鉴装</a></p><p>山茶集</p>',
            ),
            sent_at=_last(now, 3, 20, 11),
            open_rate=0.45,
            share_rate=0.2,
        ),
        PastBroadcast(
            name="新品龙井上市",
            channel=Channel.WECOM,
            segment=GREEN_TEA_FRIENDS,
            content=Content(
                text="您好，我是{员工姓名}。今年的明前龙井到店了，嫩芽一芽一叶，"
                f"豆香清雅。给您留了一份品鉴装，预订戳 {LONGJING_URL} ，"
                "也欢迎转发给爱喝茶的朋友，扫海报可到店自取～",
                poster_id=library.longjing_poster,
                poster_url=LONGJING_URL,
            ),
            sent_at=_last(now, 4, 2, 10),
            open_rate=0.35,
            share_rate=0.3,
        ),
        PastBroadcast(
            name="双十一预售提醒",
            channel=Channel.EMAIL,
            segment=GOLD_AND_UP,
            content=Content(
                subject="{客户昵称}，双十一预售开启：会员定金翻倍",
                text="{客户昵称}您好：\n双十一预售今晚 20:00 开启，金卡及以上会员付定金立享"
                f"翻倍抵扣，另赠茶点礼盒。预售会场：{PRESALE_URL}\n\n山茶集会员中心",
                html="<p>{客户昵称}您好：</p><p>双十一预售今晚 20:00 开启，金卡及以上会员"
                "付定金立享<strong>翻倍抵扣</strong>，另赠茶点礼盒。</p>"
                f'<p><a href="{PRESALE_URL}">进入预售会场</a></p><p>山茶集会员中心</p>',
            ),
            sent_at=_last(now, 10, 24, 12),
            open_rate=0.24,
            share_rate=0.12,
        ),
        PastBroadcast(
            name="会员日积分兑换",
            channel=Channel.SMS,
            segment=BUYERS_THIS_YEAR,
            content=Content(
                sms=SmsContent(
                    sign_name=SMS_SIGN,
                    template_code=MEMBER_DAY,
                    params={
                        "name": "{客户昵称}",
                        "date": f"{member_day.astimezone(SHANGHAI).month}月18日",
                    },
                )
            ),
            sent_at=member_day,
            open_rate=0.0,
            share_rate=0.0,
        ),
    ]


def load_broadcasts(
    session: Session,
    loaded: Loaded,
    library: Library,
    segment_ids: dict[str, int],
    rng: random.Random,
    report: Progress,
) -> None:
    """The past broadcasts, oldest first, with everything that followed them."""
    if session.get_bind().dialect.name == "postgresql":
        # Every table was filled in this transaction: without fresh statistics PostgreSQL
        # plans the audience queries as if the tables were empty (minutes instead of ms).
        session.execute(text("ANALYZE"))
    now = utcnow()
    specs = sorted(past_broadcasts(library, now), key=lambda spec: spec.sent_at)
    clicks = Clicks(session, loaded, rng, now)
    userids = {staff_id: userid for userid, staff_id in loaded.staff_ids.items()}
    for done, spec in enumerate(specs, start=1):
        out = messaging_service.create(
            session,
            loaded.principal,
            BroadcastIn(
                name=spec.name,
                channel=spec.channel,
                segment_id=segment_ids[spec.segment],
                content=spec.content,
            ),
        )
        broadcast = session.get_one(Broadcast, out.id)
        planning.plan(session, broadcast)
        rows = list(
            session.scalars(
                select(Delivery)
                .where(
                    Delivery.broadcast_id == broadcast.id,
                    Delivery.status == DeliveryStatus.PENDING.value,
                )
                .order_by(Delivery.id)
            )
        )
        finished = play_out(session, broadcast, spec, rows, userids, rng)
        backdate(session, broadcast, spec.sent_at, finished)
        if spec.channel == Channel.WECOM:
            messages = mint_staff_links(session, broadcast, spec, rows)
            clicks.play_staff(broadcast, messages, spec.open_rate, spec.share_rate)
        else:
            owners = mint_links(session, broadcast, spec, rows)
            clicks.play(broadcast, owners, spec.open_rate, spec.share_rate)
        report("broadcasts", done, len(specs))
    clicks.record()


def play_out(
    session: Session,
    broadcast: Broadcast,
    spec: PastBroadcast,
    rows: Sequence[Delivery],
    userids: dict[int, str],
    rng: random.Random,
) -> datetime:
    """Each delivery's outcome, as the channel reported it; returns when the last one came."""
    options = OUTCOMES[spec.channel.value]
    weights = [weight for _, _, weight in options]
    confirmed: dict[int | None, datetime] = {}
    if spec.channel == Channel.WECOM:
        confirmed = wecom_tasks(session, broadcast, spec.sent_at, rows, userids, rng)
    finished = spec.sent_at
    for n, row in enumerate(rows):
        status, reason, _ = rng.choices(options, weights)[0]
        sent_at = confirmed.get(row.staff_id, spec.sent_at + timedelta(milliseconds=40 * n))
        row.status, row.reason = status, reason
        row.detail = DETAILS.get(reason or "")
        row.attempts = 1
        row.committed_at = sent_at
        if status != DeliveryStatus.FAILED.value:
            row.sent_at = sent_at
            row.provider_id = _provider_id(spec.channel, broadcast.id, row.id)
        if status == DeliveryStatus.DELIVERED.value:
            row.delivered_at = sent_at + timedelta(seconds=rng.randint(2, 40))
        finished = max(finished, row.delivered_at or sent_at)
    session.flush()
    return finished


def _provider_id(channel: Channel, broadcast_id: int, delivery_id: int) -> str | None:
    if channel == Channel.EMAIL:
        return f"<demo.{broadcast_id}.{delivery_id}@shanchaji.example>"
    if channel == Channel.SMS:
        return f"{848_922_680_000_000_000 + broadcast_id * 1_000_000 + delivery_id}^0"
    return None


def wecom_tasks(
    session: Session,
    broadcast: Broadcast,
    sent_at: datetime,
    rows: Sequence[Delivery],
    userids: dict[int, str],
    rng: random.Random,
) -> dict[int | None, datetime]:
    """One confirmed task per staff member; returns when each staff member confirmed."""
    by_staff: dict[int | None, list[Delivery]] = {}
    for row in rows:
        by_staff.setdefault(row.staff_id, []).append(row)
    confirmed: dict[int | None, datetime] = {}
    for staff_id, members in sorted(by_staff.items(), key=lambda item: item[0] or 0):
        assert staff_id is not None, "a WeCom delivery is planned with its staff member"
        # Staff confirm in their WeCom client within a few hours, some the next morning.
        at = sent_at + timedelta(minutes=int(rng.expovariate(1 / 150)))
        confirmed[staff_id] = at
        task = WecomTask(
            workspace_id=broadcast.workspace_id,
            broadcast_id=broadcast.id,
            staff_id=staff_id,
            userid=userids[staff_id],
            chunk=0,
            msgid=f"msgDemo{broadcast.id:04d}{staff_id:05d}",
            recipient_count=len(members),
            status="sent",
            created_at=sent_at,
            confirmed_at=at,
            polled_at=at + timedelta(minutes=1),
        )
        session.add(task)
        session.flush()
        for row in members:
            row.task_id = task.id
    return confirmed


def backdate(session: Session, broadcast: Broadcast, sent_at: datetime, finished: datetime) -> None:
    broadcast.status = BroadcastStatus.COMPLETED.value
    broadcast.created_at = broadcast.updated_at = sent_at - timedelta(days=2, hours=3)
    broadcast.planned_at = sent_at - timedelta(minutes=1)
    broadcast.started_at = sent_at
    broadcast.finished_at = finished
    if broadcast.snapshot_id is not None:
        snapshot = session.get_one(SegmentSnapshot, broadcast.snapshot_id)
        snapshot.taken_at = sent_at - timedelta(minutes=1)
    session.flush()


def mint_links(
    session: Session, broadcast: Broadcast, spec: PastBroadcast, rows: Sequence[Delivery]
) -> list[LinkOwner]:
    """Each recipient's tracked links, minted by the links service as a send mints them;
    returns the links of the recipients the message reached."""
    urls = links.find_links(f"{spec.content.text or ''}\n{spec.content.html or ''}")
    if not urls or not rows:
        return []
    recipients = [(row.customer_id, row.staff_id) for row in rows]
    for url in urls:
        links.track_for_recipients(
            session,
            broadcast.workspace_id,
            url=url,
            broadcast_id=broadcast.id,
            channel=broadcast.channel,
            recipients=recipients,
        )
    _backdate_links(session, broadcast, spec.sent_at)
    reached = {
        row.customer_id: row.sent_at
        for row in rows
        if row.sent_at is not None and row.status != DeliveryStatus.FAILED.value
    }
    found = session.execute(
        select(TrackedLink.id, TrackedLink.customer_id, TrackedLink.code, TrackedLink.url)
        .where(
            TrackedLink.workspace_id == broadcast.workspace_id,
            TrackedLink.broadcast_id == broadcast.id,
        )
        .order_by(TrackedLink.id)
    ).all()
    return [
        LinkOwner(link_id, customer_id, code, url, reached[customer_id])
        for link_id, customer_id, code, url in found
        if customer_id in reached
    ]


def mint_staff_links(
    session: Session, broadcast: Broadcast, spec: PastBroadcast, rows: Sequence[Delivery]
) -> list[StaffMessage]:
    """Each staff member's tracked links, minted by the links service as a WeCom send
    mints them (one per url in the text, one for the poster's QR code); returns each staff
    member's message with the customers it reached."""
    reached: dict[int | None, dict[int, datetime]] = {}
    for row in rows:
        sent = reached.setdefault(row.staff_id, {})
        if row.sent_at is not None and row.status != DeliveryStatus.FAILED.value:
            sent[row.customer_id] = row.sent_at
    text_urls = links.find_links(spec.content.text or "")
    poster_urls = [spec.content.poster_url] if spec.content.poster_id else []
    for staff_id in reached:
        for channel, urls in ((broadcast.channel, text_urls), (POSTER_CHANNEL, poster_urls)):
            staff_links.track_for_staff(
                session,
                broadcast.workspace_id,
                broadcast_id=broadcast.id,
                staff_id=staff_id,
                channel=channel,
                urls=[url for url in urls if url],
            )
    _backdate_links(session, broadcast, spec.sent_at)
    found = session.execute(
        select(
            TrackedLink.staff_id,
            TrackedLink.id,
            TrackedLink.code,
            TrackedLink.url,
            TrackedLink.channel,
        )
        .where(
            TrackedLink.workspace_id == broadcast.workspace_id,
            TrackedLink.broadcast_id == broadcast.id,
        )
        .order_by(TrackedLink.id)
    ).all()
    sent_links: dict[int | None, list[StaffLink]] = {}
    for staff_id, link_id, code, url, channel in found:
        sent_links.setdefault(staff_id, []).append(StaffLink(link_id, code, url, channel))
    return [
        StaffMessage(sent_links.get(staff_id, []), customers)
        for staff_id, customers in reached.items()
    ]


def _backdate_links(session: Session, broadcast: Broadcast, sent_at: datetime) -> None:
    session.execute(
        update(TrackedLink)
        .where(
            TrackedLink.workspace_id == broadcast.workspace_id,
            TrackedLink.broadcast_id == broadcast.id,
        )
        .values(created_at=sent_at - timedelta(seconds=5))
    )
