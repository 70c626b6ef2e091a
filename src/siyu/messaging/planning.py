"""Audience → eligibility → delivery rows, in a constant number of statements at any size."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    case,
    cast,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.orm import Session

from siyu.content import preferences
from siyu.customers import contact_points
from siyu.kit.time import utcnow
from siyu.messaging import rules as messaging_rules
from siyu.messaging.schemas import Channel, DeliveryStatus, Eligibility, ExclusionReason
from siyu.models import Broadcast, Delivery
from siyu.segments import service as segments_service
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role

COUNTED = (DeliveryStatus.SENT.value, DeliveryStatus.DELIVERED.value)


def _sent_since(workspace_id: int, channel: str, since: datetime) -> Any:
    return (
        select(Delivery.customer_id, func.count().label("n"))
        .where(
            Delivery.workspace_id == workspace_id,
            Delivery.channel == channel,
            Delivery.status.in_(COUNTED),
            Delivery.sent_at >= since,
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
    """(customer_id, address, staff_id, variant, reason) for each customer of `audience`.

    `audience` is a subquery whose first column is a customer id. `reason` is None for an
    eligible customer, otherwise the first exclusion that applies, in this order: opted
    out, no address (or no follow relation for WeCom), duplicate address, frequency cap,
    WeCom's quota.
    """
    now = now or utcnow()
    rules = messaging_rules.read(session, workspace_id)
    tz = messaging_rules.zone(session, workspace_id)
    member = audience.c[0]
    points = contact_points.addresses(workspace_id, channel).subquery()
    opted = preferences.opted_out_customers(session, workspace_id, channel).subquery()
    rank = func.row_number().over(partition_by=points.c.address, order_by=member)

    reason_whens: list[tuple[Any, Any]] = [
        (opted.c[0].is_not(None), literal(ExclusionReason.OPTED_OUT.value)),
    ]
    if channel == Channel.WECOM.value:
        reachable = contact_points.wecom_reachable(workspace_id).subquery()
        reason_whens.append(
            (
                points.c.address.is_(None),
                case(
                    (
                        member.in_(select(reachable.c[0])),
                        literal(ExclusionReason.NO_FOLLOW.value),
                    ),
                    else_=literal(ExclusionReason.NO_ADDRESS.value),
                ),
            )
        )
    else:
        reason_whens.append((points.c.address.is_(None), literal(ExclusionReason.NO_ADDRESS.value)))
    reason_whens.append((rank > 1, literal(ExclusionReason.DUPLICATE.value)))

    query = select(member.label("customer_id"))
    joins: list[tuple[Any, Any]] = [
        (points, points.c.customer_id == member),
        (opted, opted.c[0] == member),
    ]
    cap = rules.frequency_caps.get(Channel(channel))
    if cap is not None:
        capped = _sent_since(workspace_id, channel, now - timedelta(days=cap.days))
        joins.append((capped, capped.c.customer_id == member))
        reason_whens.append(
            (
                func.coalesce(capped.c.n, 0) >= cap.max_messages,
                literal(ExclusionReason.FREQUENCY_CAP.value),
            )
        )
    if channel == Channel.WECOM.value:
        start, allowed = messaging_rules.quota_window(rules.wecom_quota, now, tz)
        quota = _sent_since(workspace_id, channel, start)
        joins.append((quota, quota.c.customer_id == member))
        reason_whens.append(
            (func.coalesce(quota.c.n, 0) >= allowed, literal(ExclusionReason.WECOM_QUOTA.value))
        )

    source: Any = audience
    for table, on in joins:
        source = source.outerjoin(table, on)
    return (
        query.add_columns(
            points.c.address.label("address"),
            cast(points.c.staff_id, Integer).label("staff_id"),
            _variant(member, variants).label("variant"),
            case(*reason_whens, else_=literal(None, String)).label("reason"),
        )
        .select_from(source)
        .distinct()
    )


def eligibility(session: Session, workspace_id: int, channel: str, audience: Any) -> Eligibility:
    rows = candidates(session, workspace_id, channel, audience).subquery()
    counted = session.execute(select(rows.c.reason, func.count()).group_by(rows.c.reason)).all()
    excluded = {reason: n for reason, n in counted if reason is not None}
    eligible = sum(n for reason, n in counted if reason is None)
    return Eligibility(
        audience=eligible + sum(excluded.values()), eligible=eligible, excluded=excluded
    )


def segment_audience(session: Session, workspace_id: int, segment_id: int) -> Any:
    """The segment's customers as they are now (a dynamic rule is evaluated)."""
    return segments_service.current_members(session, workspace_id, segment_id).subquery()


def plan(session: Session, broadcast: Broadcast) -> None:
    """Freeze the audience in a snapshot and write one delivery row per customer.

    Running it again adds nothing: rows are unique per (broadcast, customer, channel).
    """
    workspace_id = broadcast.workspace_id
    if broadcast.snapshot_id is None:
        assert broadcast.segment_id is not None
        system = Principal(workspace_id=workspace_id, role=Role.OPERATOR)
        snapshot = segments_service.take_snapshot(
            session, system, broadcast.segment_id, f"broadcast {broadcast.id}"
        )
        broadcast.snapshot_id = snapshot.id
    audience = segments_service.snapshot_members(workspace_id, broadcast.snapshot_id).subquery()
    rows = candidates(
        session, workspace_id, broadcast.channel, audience, variants=broadcast.variants
    ).subquery()
    excluded = DeliveryStatus.EXCLUDED.value
    pending = DeliveryStatus.PENDING.value
    source = select(
        literal(workspace_id),
        literal(broadcast.id),
        rows.c.customer_id,
        literal(broadcast.channel),
        rows.c.variant,
        rows.c.staff_id,
        rows.c.address,
        case((rows.c.reason.is_(None), literal(pending)), else_=literal(excluded)),
        rows.c.reason,
        literal(0),
    )
    statement = insert(Delivery).from_select(
        [
            "workspace_id",
            "broadcast_id",
            "customer_id",
            "channel",
            "variant",
            "staff_id",
            "address",
            "status",
            "reason",
            "attempts",
        ],
        source,
    )
    session.execute(statement)
    counts = dict(
        session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.broadcast_id == broadcast.id)
            .group_by(Delivery.status)
        ).all()
    )
    broadcast.excluded_count = counts.get(excluded, 0)
    broadcast.planned_count = sum(counts.values()) - broadcast.excluded_count
    broadcast.planned_at = utcnow()
    session.flush()
