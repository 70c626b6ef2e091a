"""Broadcasts: compose, check eligibility, send, pause, resume, cancel, read results."""

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.config import get_settings
from siyu.content import links, materials, share
from siyu.customers import groups as customer_groups
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import PageOut, check_limit, decode_cursor, encode_cursor
from siyu.kit.secrets import default_box
from siyu.kit.time import utcnow
from siyu.messaging import (
    attribution,
    checks,
    opens,
    planning,
    reasons,
    receipts,
    sending,
    wecom_groups,
)
from siyu.messaging import rules as messaging_rules
from siyu.messaging.repository import MessagingRepository
from siyu.messaging.schemas import (
    AccountCheck,
    BroadcastIn,
    BroadcastOut,
    BroadcastStatus,
    BroadcastUpdate,
    Channel,
    ChannelAccountIn,
    ChannelAccountOut,
    Content,
    Counts,
    DeliveryOut,
    DeliveryStatus,
    Eligibility,
    GroupCounts,
    MessagingRules,
    ReceiptUrlsOut,
    ResultsOut,
    TaskOut,
)
from siyu.messaging.wecom_content import check_content as check_wecom_content
from siyu.models import Broadcast, ChannelAccount, Delivery, Job, WecomGroupDelivery
from siyu.segments import service as segments_service
from siyu.staff import service as staff_service
from siyu.worker.queue import enqueue, run_now
from siyu.worker.runner import next_cron_time
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

START_JOB = "messaging.start"
SEND_JOB = "messaging.send"
POLL_JOB = "messaging.poll_wecom"
CANCEL_JOB = "messaging.cancel_wecom"
EDITABLE = (BroadcastStatus.DRAFT.value, BroadcastStatus.SCHEDULED.value)
FINISHED = (
    BroadcastStatus.COMPLETED.value,
    BroadcastStatus.CANCELLED.value,
    BroadcastStatus.FAILED.value,
)
# a delivery in one of these with a reason failed for now and waits for another try
WAITING = (DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value)
ACCOUNT_CHANNELS = (Channel.EMAIL.value, Channel.SMS.value, Channel.WEBHOOK.value)
WECOM_CHANNELS = (Channel.WECOM.value, Channel.WECOM_GROUP.value)


def _row(session: Session, workspace_id: int, broadcast_id: int) -> Broadcast:
    broadcast = MessagingRepository(session, workspace_id).broadcast(broadcast_id)
    if broadcast is None:
        raise NotFound("broadcast")
    return broadcast


def _check_content(
    session: Session, workspace_id: int, channel: str, content: Content, field: str
) -> None:
    for material_id in [*(content.material_ids or []), *filter(None, [content.poster_id])]:
        materials.get_material(session, workspace_id, material_id)
    if channel == Channel.EMAIL.value:
        if not content.subject:
            raise ValidationFailed(f"{field}.subject", "an email needs a subject")
        if not (content.html or content.text):
            raise ValidationFailed(f"{field}.html", "an email needs an HTML or a text body")
    elif channel in WECOM_CHANNELS:
        check_wecom_content(session, workspace_id, content, field)
    elif channel == Channel.SMS.value and content.sms is None:
        raise ValidationFailed(f"{field}.sms", "an SMS needs a sign name and a template")


def _check(session: Session, workspace_id: int, data: BroadcastIn | Broadcast) -> None:
    channel = data.channel.value if isinstance(data, BroadcastIn) else data.channel
    if channel == Channel.WECOM_GROUP.value:
        if not data.customer_group_ids:
            raise ValidationFailed("customer_group_ids", "choose the customer groups to send to")
        if data.variants:
            raise ValidationFailed("variants", "a group broadcast sends one content to all groups")
    elif data.segment_id is None:
        raise ValidationFailed("segment_id", "choose the audience: a segment or a list")
    if data.segment_id is not None:
        segments_service.segment_row(session, workspace_id, data.segment_id)
    if isinstance(data, BroadcastIn):
        content = data.content
        variants = [v.content for v in data.variants or []]
        group_ids = data.customer_group_ids or []
    else:
        content = Content.model_validate(data.content)
        variants = [Content.model_validate(v["content"]) for v in data.variants or []]
        group_ids = data.customer_group_ids or []
    for group_id in group_ids:
        customer_groups.get_group(session, workspace_id, group_id)
    _check_content(session, workspace_id, channel, content, "content")
    for index, variant in enumerate(variants):
        _check_content(session, workspace_id, channel, variant, f"variants[{index}].content")
    if data.recurrence:
        try:
            next_cron_time(data.recurrence, utcnow())
        except ValueError as exc:
            raise ValidationFailed("recurrence", f"not a cron expression: {exc}") from exc


def _queue(
    session: Session, name: str, broadcast: Broadcast, run_at: datetime | None = None
) -> None:
    enqueue(
        session,
        name,
        {"broadcast_id": broadcast.id},
        workspace_id=broadcast.workspace_id,
        run_at=run_at,
    )


def create(session: Session, principal: Principal, data: BroadcastIn) -> BroadcastOut:
    _check(session, principal.workspace_id, data)
    broadcast = Broadcast(
        workspace_id=principal.workspace_id,
        name=data.name,
        channel=data.channel.value,
        status=BroadcastStatus.DRAFT.value,
        segment_id=data.segment_id,
        customer_group_ids=data.customer_group_ids,
        content=data.content.model_dump(mode="json", exclude_none=True),
        variants=[v.model_dump(mode="json") for v in data.variants] if data.variants else None,
        send_at=data.send_at,
        recurrence=data.recurrence,
        attribution_days=data.attribution_days,
        created_by=principal.actor,
    )
    session.add(broadcast)
    session.flush()
    return BroadcastOut.model_validate(broadcast)


def update(
    session: Session, principal: Principal, broadcast_id: int, data: BroadcastUpdate
) -> BroadcastOut:
    broadcast = _row(session, principal.workspace_id, broadcast_id)
    if broadcast.status not in EDITABLE:
        raise Conflict(f"a {broadcast.status} broadcast can no longer be edited")
    changes = data.model_dump(exclude_unset=True)
    if "content" in changes and data.content is not None:
        changes["content"] = data.content.model_dump(mode="json", exclude_none=True)
    if "variants" in changes:
        changes["variants"] = (
            [v.model_dump(mode="json") for v in data.variants] if data.variants else None
        )
    for key, value in changes.items():
        setattr(broadcast, key, value)
    _check(session, principal.workspace_id, broadcast)
    session.flush()
    return BroadcastOut.model_validate(broadcast)


def delete(session: Session, principal: Principal, broadcast_id: int) -> None:
    broadcast = _row(session, principal.workspace_id, broadcast_id)
    if broadcast.status not in (*EDITABLE, *FINISHED):
        raise Conflict("pause or cancel the broadcast before deleting it")
    workspace_service.audit(
        session, principal, "broadcast.delete", target_type="broadcast", target_id=broadcast.id
    )
    session.delete(broadcast)
    session.flush()


def get(session: Session, principal: Principal, broadcast_id: int) -> BroadcastOut:
    return BroadcastOut.model_validate(_row(session, principal.workspace_id, broadcast_id))


def page(
    session: Session, principal: Principal, status: str | None, cursor: str | None, limit: int
) -> PageOut[BroadcastOut]:
    limit = check_limit(limit)
    query = MessagingRepository(session, principal.workspace_id).broadcasts(status)
    if cursor:
        (last_id,) = decode_cursor(cursor, 1)
        query = query.where(Broadcast.id < int(last_id))
    rows = list(session.scalars(query.order_by(Broadcast.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return PageOut(
        items=[BroadcastOut.model_validate(r) for r in rows],
        next_cursor=encode_cursor([rows[-1].id]) if more and rows else None,
    )


def eligibility(
    session: Session,
    principal: Principal,
    channel: Channel,
    segment_id: int | None,
    customer_group_ids: list[int] | None = None,
) -> Eligibility:
    return planning.preview(
        session, principal.workspace_id, channel.value, segment_id, customer_group_ids
    )


def send(session: Session, principal: Principal, broadcast_id: int) -> BroadcastOut:
    """Send now, or at `send_at` when that is still ahead."""
    broadcast = _row(session, principal.workspace_id, broadcast_id)
    if broadcast.status not in EDITABLE:
        raise Conflict(f"a {broadcast.status} broadcast cannot be sent again")
    _check(session, principal.workspace_id, broadcast)
    now = utcnow()
    later = broadcast.send_at is not None and broadcast.send_at > now
    broadcast.status = (BroadcastStatus.SCHEDULED if later else BroadcastStatus.PLANNING).value
    enqueue(
        session,
        START_JOB,
        {"broadcast_id": broadcast.id},
        workspace_id=principal.workspace_id,
        run_at=broadcast.send_at if later else now,
    )
    workspace_service.audit(
        session, principal, "broadcast.send", target_type="broadcast", target_id=broadcast.id
    )
    session.flush()
    return BroadcastOut.model_validate(broadcast)


def pause(session: Session, principal: Principal, broadcast_id: int) -> BroadcastOut:
    broadcast = _row(session, principal.workspace_id, broadcast_id)
    if broadcast.status not in (BroadcastStatus.SENDING.value, BroadcastStatus.SCHEDULED.value):
        raise Conflict(f"a {broadcast.status} broadcast cannot be paused")
    broadcast.status = BroadcastStatus.PAUSED.value
    session.flush()
    return BroadcastOut.model_validate(broadcast)


def resume(session: Session, principal: Principal, broadcast_id: int) -> BroadcastOut:
    """Carry on where the send stopped: delivered rows are never sent again."""
    broadcast = _row(session, principal.workspace_id, broadcast_id)
    if broadcast.status != BroadcastStatus.PAUSED.value:
        raise Conflict(f"a {broadcast.status} broadcast cannot be resumed")
    if broadcast.planned_at is None or broadcast.channel in WECOM_CHANNELS:
        # WeCom: the start job carries on creating the staff's tasks where it stopped
        broadcast.status = (
            BroadcastStatus.PLANNING if broadcast.planned_at is None else BroadcastStatus.SENDING
        ).value
        enqueue(
            session, START_JOB, {"broadcast_id": broadcast.id}, workspace_id=broadcast.workspace_id
        )
    else:
        broadcast.status = BroadcastStatus.SENDING.value
        enqueue(
            session, SEND_JOB, {"broadcast_id": broadcast.id}, workspace_id=broadcast.workspace_id
        )
    session.flush()
    return BroadcastOut.model_validate(broadcast)


def cancel(session: Session, principal: Principal, broadcast_id: int) -> BroadcastOut:
    broadcast = _row(session, principal.workspace_id, broadcast_id)
    if broadcast.status in FINISHED:
        raise Conflict(f"the broadcast is already {broadcast.status}")
    # WeCom tasks may exist already: the cancel job stops those staff have not confirmed
    was_waiting = broadcast.status == BroadcastStatus.WAITING.value or (
        broadcast.channel in WECOM_CHANNELS and broadcast.status == BroadcastStatus.SENDING.value
    )
    broadcast.status = BroadcastStatus.CANCELLED.value
    broadcast.finished_at = utcnow()
    MessagingRepository(session, principal.workspace_id).cancel_pending(broadcast.id)
    if broadcast.channel == Channel.WECOM_GROUP.value:
        wecom_groups.cancel_pending(session, broadcast)
    if was_waiting:
        enqueue(
            session, CANCEL_JOB, {"broadcast_id": broadcast.id}, workspace_id=broadcast.workspace_id
        )
    workspace_service.audit(
        session, principal, "broadcast.cancel", target_type="broadcast", target_id=broadcast.id
    )
    session.flush()
    return BroadcastOut.model_validate(broadcast)


def remind(session: Session, principal: Principal, broadcast_id: int) -> BroadcastOut:
    broadcast = _row(session, principal.workspace_id, broadcast_id)
    if broadcast.status != BroadcastStatus.WAITING.value:
        raise Conflict("only a broadcast waiting for staff to confirm can be reminded")
    enqueue(
        session,
        POLL_JOB,
        {"broadcast_id": broadcast.id, "remind": True},
        workspace_id=broadcast.workspace_id,
    )
    session.flush()
    return BroadcastOut.model_validate(broadcast)


def poll_now(session: Session, workspace_id: int, broadcast_id: int) -> Job:
    """Ask WeCom for results now (staff just confirmed), without a second polling chain."""
    return run_now(session, POLL_JOB, {"broadcast_id": broadcast_id}, workspace_id=workspace_id)


def next_occurrence(session: Session, broadcast: Broadcast) -> Broadcast | None:
    """A recurring broadcast schedules its next run as a copy when this one starts."""
    if not broadcast.recurrence:
        return None
    zone = messaging_rules.zone(session, broadcast.workspace_id)
    when = next_cron_time(broadcast.recurrence, utcnow(), zone)
    child = Broadcast(
        workspace_id=broadcast.workspace_id,
        name=broadcast.name,
        channel=broadcast.channel,
        status=BroadcastStatus.SCHEDULED.value,
        segment_id=broadcast.segment_id,
        customer_group_ids=broadcast.customer_group_ids,
        content=broadcast.content,
        variants=broadcast.variants,
        send_at=when,
        recurrence=broadcast.recurrence,
        parent_id=broadcast.parent_id or broadcast.id,
        attribution_days=broadcast.attribution_days,
        created_by=broadcast.created_by,
    )
    session.add(child)
    session.flush()
    enqueue(
        session, START_JOB, {"broadcast_id": child.id}, workspace_id=child.workspace_id, run_at=when
    )
    return child


# -- results ---------------------------------------------------------------------------------


def _counts(rows: list[tuple[str, int]]) -> Counts:
    counts = Counts()
    for status, n in rows:
        if hasattr(counts, status):
            setattr(counts, status, getattr(counts, status) + n)
    counts.planned = sum(n for s, n in rows if s != DeliveryStatus.EXCLUDED.value)
    return counts


def results(session: Session, principal: Principal, broadcast_id: int) -> ResultsOut:
    broadcast = _row(session, principal.workspace_id, broadcast_id)
    repo = MessagingRepository(session, principal.workspace_id)
    group_broadcast = broadcast.channel == Channel.WECOM_GROUP.value
    if group_broadcast:
        by_status = wecom_groups.grouped(session, broadcast)
        by_reason = wecom_groups.grouped(session, broadcast, WecomGroupDelivery.reason)
        by_owner = wecom_groups.grouped(session, broadcast, WecomGroupDelivery.staff_id)
    else:
        by_status = repo.grouped(broadcast.id)
        by_reason = repo.grouped(broadcast.id, Delivery.reason)
        by_owner = repo.grouped(broadcast.id, Delivery.staff_id)
    overall = _counts([(s, n) for s, n in by_status])
    excluded: dict[str, int] = {}
    failed: dict[str, int] = {}
    waiting: dict[str, int] = {}
    for reason, status, n in by_reason:
        if status == DeliveryStatus.EXCLUDED.value:
            excluded[reason or "unknown"] = n
        elif status == DeliveryStatus.FAILED.value:
            failed[reason or "unknown"] = n
        elif status in WAITING and reason is not None:
            waiting[reason] = waiting.get(reason, 0) + n
    clicks = links.first_clicks(session, principal.workspace_id, broadcast.id)
    credited = attribution.attribute(session, broadcast, clicks)
    _credit(overall, credited.overall)
    by_staff = _grouped(by_owner)
    for key, tally in credited.by_staff.items():
        _credit(by_staff.setdefault(key, Counts()), tally)
    by_variant = _grouped(repo.grouped(broadcast.id, Delivery.variant))
    for key, tally in credited.by_variant.items():
        _credit(by_variant.setdefault(key, Counts()), tally)
    if not group_broadcast:
        opens.count(session, broadcast, overall, by_staff, by_variant)
    names = staff_service.staff_names(
        session, principal.workspace_id, [int(k) for k in by_staff if k != "none"]
    )
    shares = share.share_stats(session, principal.workspace_id, broadcast.id)
    return ResultsOut(
        broadcast_id=broadcast.id,
        status=broadcast.status,
        counts=overall,
        excluded_by_reason=excluded,
        failed_by_reason=failed,
        waiting_by_reason=waiting,
        reason_labels={
            code: reasons.label(code, broadcast.channel)
            for code in {*excluded, *failed, *(reason for reason, _, _ in by_reason if reason)}
        },
        clicked_by_link=links.clicks_by_channel(session, principal.workspace_id, broadcast.id),
        by_staff=[
            GroupCounts(key=k, label=names.get(int(k), k) if k != "none" else "—", counts=c)
            for k, c in by_staff.items()
        ],
        by_variant=[
            GroupCounts(key=k, label=k, counts=c) for k, c in by_variant.items() if k != "none"
        ],
        shares=shares.shares,
        share_visitors=shares.visitors_reached,
        tasks=[TaskOut.model_validate(t) for t in repo.tasks(broadcast.id)],
        groups=wecom_groups.results(session, broadcast) if group_broadcast else [],
    )


def _credit(counts: Counts, tally: attribution.Tally) -> None:
    counts.clicked = tally.clicked
    counts.converted = tally.converted
    counts.converted_fen = tally.converted_fen


def _grouped(rows: list[Any]) -> dict[str, Counts]:
    buckets: dict[str, list[tuple[str, int]]] = {}
    for key, status, n in rows:
        buckets.setdefault("none" if key is None else str(key), []).append((status, n))
    return {k: _counts(v) for k, v in buckets.items()}


def deliveries(
    session: Session,
    principal: Principal,
    broadcast_id: int,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> PageOut[DeliveryOut]:
    broadcast = _row(session, principal.workspace_id, broadcast_id)
    limit = check_limit(limit)
    query = MessagingRepository(session, principal.workspace_id).deliveries(broadcast.id, status)
    if cursor:
        (last_id,) = decode_cursor(cursor, 1)
        query = query.where(Delivery.id > int(last_id))
    rows = list(session.scalars(query.order_by(Delivery.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return PageOut(
        items=[DeliveryOut.model_validate(r) for r in rows],
        next_cursor=encode_cursor([rows[-1].id]) if more and rows else None,
    )


# -- settings --------------------------------------------------------------------------------


def read_rules(session: Session, principal: Principal) -> MessagingRules:
    return messaging_rules.read(session, principal.workspace_id)


def write_rules(session: Session, principal: Principal, data: MessagingRules) -> MessagingRules:
    workspace_service.audit(session, principal, "messaging.rules", target_type="workspace")
    return messaging_rules.write(session, principal.workspace_id, data)


def _account_out(
    workspace_id: int, channel: str, account: ChannelAccount | None
) -> ChannelAccountOut:
    urls = None
    if channel == Channel.SMS.value:
        found = receipts.receipt_urls(get_settings(), workspace_id)
        urls = ReceiptUrlsOut(report_url=found.report_url, uplink_url=found.uplink_url)
    return ChannelAccountOut(
        channel=channel,
        config=dict(account.config) if account else {},
        has_secret=bool(account and account.secret),
        enabled=bool(account and account.enabled),
        updated_at=account.updated_at if account else None,
        receipt_urls=urls,
    )


def accounts(session: Session, principal: Principal) -> list[ChannelAccountOut]:
    found = {a.channel: a for a in MessagingRepository(session, principal.workspace_id).accounts()}
    return [_account_out(principal.workspace_id, c, found.get(c)) for c in ACCOUNT_CHANNELS]


def save_account(
    session: Session, principal: Principal, channel: str, data: ChannelAccountIn
) -> ChannelAccountOut:
    if channel not in ACCOUNT_CHANNELS:
        raise ValidationFailed("channel", f"channel is one of {', '.join(ACCOUNT_CHANNELS)}")
    if any(k in data.config for k in ("password", "secret", "access_key_secret")):
        raise ValidationFailed("config", "secrets go in the write-only `secret` field")
    repo = MessagingRepository(session, principal.workspace_id)
    account = repo.account(channel)
    if account is None:
        account = ChannelAccount(workspace_id=principal.workspace_id, channel=channel)
        session.add(account)
    account.config = data.config
    account.enabled = data.enabled
    if data.secret is not None:
        account.secret = default_box().encrypt(data.secret) if data.secret else None
    workspace_service.audit(
        session, principal, "messaging.account", target_type="channel", target_id=channel
    )
    session.flush()
    return _account_out(principal.workspace_id, channel, account)


def check_account(session: Session, principal: Principal, channel: str) -> AccountCheck:
    """Connect with the saved account and report; nothing is sent to any customer."""
    if channel not in ACCOUNT_CHANNELS:
        raise ValidationFailed("channel", f"channel is one of {', '.join(ACCOUNT_CHANNELS)}")
    if MessagingRepository(session, principal.workspace_id).account(channel) is None:
        raise NotFound(f"no {channel} account is saved yet", {"field": "channel"})
    config, secret = sending.account_of(session, principal.workspace_id, channel)
    return asyncio.run(checks.check_account(channel, config, secret))


def mark_started(broadcast: Broadcast, now: datetime) -> None:
    broadcast.started_at = broadcast.started_at or now
