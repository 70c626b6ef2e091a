"""Audience → eligibility → delivery rows, in a constant number of statements at any size."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from siyu.content import preferences
from siyu.customers import contact_points
from siyu.db.maintenance import StatisticsRefresher
from siyu.exceptions import ValidationFailed
from siyu.kit.time import utcnow
from siyu.messaging import rules as messaging_rules
from siyu.messaging import wecom_groups
from siyu.messaging.schemas import (
    Channel,
    DeliveryStatus,
    Eligibility,
    ExclusionReason,
    GroupEligibility,
)
from siyu.models import Broadcast, Delivery
from siyu.segments import service as segments_service
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role

COUNTED = (DeliveryStatus.SENT.value, DeliveryStatus.DELIVERED.value)
# channels where two customers can share an address (a family's mobile, a shared mailbox)
SHARED_ADDRESSES = (Channel.EMAIL.value, Channel.SMS.value)


def _sent_since(workspace_id: int, channel: str, windows: dict[str, datetime]) -> Any:
    """Per customer, the messages of `channel` sent since the start of each window.

    One pass over the deliveries of the longest window, whatever the number of windows.
    """
    counts = [
        func.sum(case((Delivery.sent_at >= start, 1), else_=0)).label(name)
        for name, start in windows.items()
    ]
    return (
        select(Delivery.customer_id, *counts)
        .where(
            Delivery.workspace_id == workspace_id,
            Delivery.channel == channel,
            Delivery.status.in_(COUNTED),
            Delivery.sent_at >= min(windows.values()),
        )
        .group_by(Delivery.customer_id)
        .subquery()
    )


def _variant(customer_id: Any, variants: list[dict[str, Any]] | None) -> Any:
    """A stable split: the same customer lands in the same variant whenever it is planned."""
    if not variants:
        return literal(None, String)
    bucket = (customer_id * 7919) % 100
    whens = []
    upper = 0
    for variant in variants[:-1]:
        upper += int(variant["percent"])
        whens.append((bucket < upper, literal(variant["key"])))
    return case(*whens, else_=literal(variants[-1]["key"]))


def candidates(
    session: Session,
    workspace_id: int,
    channel: str,
    audience: Any,
    *,
    variants: list[dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> Select[Any]:
    """(customer_id, address, staff_id, variant, reason): one row per customer of `audience`.

    `audience` is a subquery whose first column is a customer id, each at most once.
    `reason` is None for an eligible customer, otherwise the first exclusion that applies,
    in this order: opted out, no address (for WeCom: no external userid, or no follow
    relation with an active staff member), duplicate, frequency cap, WeCom's quota.
    Customers sharing an address get one message: it goes to the first of them (lowest
    id) who may receive it; the others who may are duplicates, and those who may not
    (opted out, capped) show their own reason.

    Every join meets at most one row per customer, so the statement is one pass of hash
    joins over the audience at any size, with one sort for the duplicates.
    """
    now = now or utcnow()
    rules = messaging_rules.read(session, workspace_id)
    member = audience.c[0]
    points = contact_points.addresses(workspace_id, channel).subquery()
    # a webhook goes to the brand's own system: only an opt-out of everything holds there
    kind = preferences.ALL if channel == Channel.WEBHOOK.value else channel
    opted_ids = preferences.opted_out_customers(session, workspace_id, kind).subquery()
    opted = select(opted_ids.c[0].label("customer_id")).group_by(opted_ids.c[0]).subquery()
    source = audience.outerjoin(points, points.c.customer_id == member).outerjoin(
        opted, opted.c.customer_id == member
    )
    opted_out = opted.c.customer_id.is_not(None)

    windows: dict[str, datetime] = {}
    limits: list[tuple[str, int, ExclusionReason]] = []
    cap = rules.frequency_caps.get(Channel(channel))
    if cap is not None:
        windows["capped"] = now - timedelta(days=cap.days)
        limits.append(("capped", cap.max_messages, ExclusionReason.FREQUENCY_CAP))
    if channel == Channel.WECOM.value:
        tz = messaging_rules.zone(session, workspace_id)
        windows["quota"], allowed = messaging_rules.quota_window(rules.wecom_quota, now, tz)
        limits.append(("quota", allowed, ExclusionReason.WECOM_QUOTA))
    limited: list[tuple[Any, ExclusionReason]] = []
    if windows:
        sent = _sent_since(workspace_id, channel, windows)
        source = source.outerjoin(sent, sent.c.customer_id == member)
        limited = [(func.coalesce(sent.c[name], 0) >= n, reason) for name, n, reason in limits]

    whens: list[tuple[Any, ExclusionReason]] = [
        (opted_out, ExclusionReason.OPTED_OUT),
        (points.c.customer_id.is_(None), ExclusionReason.NO_ADDRESS),
    ]
    if channel == Channel.WECOM.value:
        whens.append((points.c.staff_id.is_(None), ExclusionReason.NO_FOLLOW))
    if channel in SHARED_ADDRESSES:
        blocked = or_(opted_out, *(condition for condition, _ in limited))
        first = func.row_number().over(
            partition_by=points.c.address, order_by=(case((blocked, 1), else_=0), member)
        )
        whens.append((and_(first > 1, not_(blocked)), ExclusionReason.DUPLICATE))
    whens.extend(limited)

    return select(
        member.label("customer_id"),
        points.c.address.label("address"),
        cast(points.c.staff_id, BigInteger).label("staff_id"),
        _variant(member, variants).label("variant"),
        case(
            *((condition, literal(reason.value)) for condition, reason in whens),
            else_=literal(None, String),
        ).label("reason"),
    ).select_from(source)


def _settle_for_bulk(session: Session) -> None:
    """PostgreSQL's defaults suit small queries; this one statement reads the whole
    audience. JIT compiling it costs seconds, and with 4 MB of work_mem its hashes and its
    sort of a million rows go to disk. For the rest of this transaction only."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))


def eligibility(
    session: Session,
    workspace_id: int,
    channel: str,
    audience: Any,
    *,
    now: datetime | None = None,
) -> Eligibility:
    rows = candidates(session, workspace_id, channel, audience, now=now).subquery()
    _settle_for_bulk(session)
    counted = session.execute(select(rows.c.reason, func.count()).group_by(rows.c.reason)).all()
    excluded = {reason: n for reason, n in counted if reason is not None}
    eligible = sum(n for reason, n in counted if reason is None)
    return Eligibility(
        audience=eligible + sum(excluded.values()), eligible=eligible, excluded=excluded
    )


def preview(
    session: Session,
    workspace_id: int,
    channel: str,
    segment_id: int | None,
    customer_group_ids: list[int] | None,
) -> Eligibility:
    """Who a broadcast of `channel` to this audience would reach now; stores nothing."""
    if channel == Channel.WECOM_GROUP.value:
        if not customer_group_ids:
            raise ValidationFailed("customer_group_ids", "choose the customer groups to send to")
        return group_eligibility(session, workspace_id, customer_group_ids)
    if segment_id is None:
        raise ValidationFailed("segment_id", "choose the audience: a segment or a list")
    audience = segment_audience(session, workspace_id, segment_id)
    return eligibility(session, workspace_id, channel, audience)


def group_eligibility(session: Session, workspace_id: int, group_ids: list[int]) -> Eligibility:
    """A WeCom group broadcast's audience: its groups, each once, and why some would be
    left out (the same checks its planning makes)."""
    checked = wecom_groups.check_groups(session, workspace_id, group_ids)
    excluded: dict[str, int] = {}
    for group in checked:
        if group.reason is not None:
            excluded[group.reason] = excluded.get(group.reason, 0) + 1
    return Eligibility(
        audience=len(checked),
        eligible=len(checked) - sum(excluded.values()),
        excluded=excluded,
        groups=[
            GroupEligibility(
                customer_group_id=group.row.group.id,
                name=group.row.group.name,
                owner_staff_id=group.row.group.owner_staff_id,
                owner_name=group.row.owner_name,
                customers=group.row.customers,
                reason=group.reason,
            )
            for group in checked
        ],
    )


def segment_audience(session: Session, workspace_id: int, segment_id: int) -> Any:
    """The segment's customers as they are now (a dynamic rule is evaluated)."""
    return segments_service.current_members(session, workspace_id, segment_id).subquery()


def plan(session: Session, broadcast: Broadcast, *, now: datetime | None = None) -> None:
    """Freeze the audience and write one delivery row per customer of it, in one statement.

    Each customer's row says why they are excluded, or waits to be sent; the rows are the
    frozen audience, so a customer who joins the segment later is not sent. Running it
    again (a start job resumed after a crash) adds no rows.
    """
    workspace_id = broadcast.workspace_id
    planned = select(Delivery.id).where(Delivery.broadcast_id == broadcast.id).limit(1)
    frozen = None
    if session.scalar(planned) is None:
        if broadcast.snapshot_id is None:
            assert broadcast.segment_id is not None
            system = Principal(workspace_id=workspace_id, role=Role.OPERATOR)
            frozen, members = segments_service.freeze_audience(
                session, system, broadcast.segment_id, f"broadcast {broadcast.id}"
            )
            broadcast.snapshot_id = frozen
        else:
            members = segments_service.snapshot_members(workspace_id, broadcast.snapshot_id)
        _insert_deliveries(session, broadcast, members.subquery(), now)
    counts = dict(
        session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.broadcast_id == broadcast.id)
            .group_by(Delivery.status)
        ).all()
    )
    total = sum(counts.values())
    if frozen is not None:
        segments_service.count_frozen(session, workspace_id, frozen, total)
    excluded = counts.get(DeliveryStatus.EXCLUDED.value, 0)
    broadcast.excluded_count = excluded
    broadcast.planned_count = total - excluded
    broadcast.planned_at = utcnow()
    session.flush()
    StatisticsRefresher(session, ["delivery"]).wrote(total)


def _insert_deliveries(
    session: Session, broadcast: Broadcast, audience: Any, now: datetime | None
) -> None:
    workspace_id = broadcast.workspace_id
    rows = candidates(
        session, workspace_id, broadcast.channel, audience, variants=broadcast.variants, now=now
    ).subquery()
    status = case(
        (rows.c.reason.is_(None), literal(DeliveryStatus.PENDING.value)),
        else_=literal(DeliveryStatus.EXCLUDED.value),
    )
    source = select(
        literal(workspace_id),
        literal(broadcast.id),
        rows.c.customer_id,
        literal(broadcast.channel),
        rows.c.variant,
        rows.c.staff_id,
        rows.c.address,
        status,
        rows.c.reason,
        literal(0),
    )
    # in customer order the rows' index entries and foreign key lookups land on
    # neighbouring pages; in hash-join order each one reads a random page
    source = source.order_by(rows.c.customer_id)
    columns = "workspace_id broadcast_id customer_id channel variant staff_id address status"
    _settle_for_bulk(session)
    session.execute(insert(Delivery).from_select([*columns.split(), "reason", "attempts"], source))
