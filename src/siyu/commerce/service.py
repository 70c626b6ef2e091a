"""Orders: upsert in bulk (API, imports, demo data), refunds, customer stats, timeline."""

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.commerce.prepared import prepare
from siyu.commerce.repository import CommerceRepository, OrderFilters
from siyu.commerce.schemas import (
    OrderDetailOut,
    OrderIn,
    OrderItemOut,
    OrderOut,
    OrderRecord,
    PlatformSummary,
    RefundIn,
    RefundOut,
    UpsertOut,
    UpsertResult,
)
from siyu.commerce.stats_repository import CustomerStatsRepository
from siyu.commerce.upserting import write_orders
from siyu.connectors.commerce import PLATFORM_LABELS, OrderStatus
from siyu.customers import changes
from siyu.customers import service as customers_service
from siyu.customers.identities import IdentityKind, mask
from siyu.customers.stats import expire_customers
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import SortSpec
from siyu.kit.timeline import TimelineCursor, TimelineEntry
from siyu.models import Order, Refund
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

ORDER_SORT_FIELDS = ("ordered_at", "paid_fen", "id")


def upsert_orders(
    session: Session,
    workspace_id: int,
    orders: Sequence[OrderIn | OrderRecord],
    *,
    source: str,
    actor: str,
) -> UpsertResult:
    """Insert new orders and apply changes to known ones (see `upserting.write_orders`)."""
    records = (o.to_record() if isinstance(o, OrderIn) else o for o in orders)
    return write_orders(
        session, workspace_id, [prepare(r) for r in records], source=source, actor=actor
    )


def upsert_orders_out(
    session: Session, workspace_id: int, orders: Sequence[OrderIn], *, source: str, actor: str
) -> UpsertOut:
    """`upsert_orders`, answering with the order id of each given order in order."""
    result = upsert_orders(session, workspace_id, orders, source=source, actor=actor)
    return UpsertOut(
        imported=result.imported,
        updated=result.updated,
        order_ids=[result.order_ids[(o.platform.value, o.platform_order_id)] for o in orders],
    )


def recompute_customer_stats(
    session: Session, workspace_id: int, customer_ids: Sequence[int]
) -> None:
    """Recompute the customers' order stats from their orders, in the database."""
    if not customer_ids:
        return
    CustomerStatsRepository(session, workspace_id).refresh_customer_stats(customer_ids)
    expire_customers(session, workspace_id, customer_ids)
    changes.mark_changed(session, workspace_id, customer_ids, orders=True)


def timeline_entries(
    session: Session,
    workspace_id: int,
    customer_id: int,
    *,
    before: TimelineCursor | None,
    limit: int,
) -> list[TimelineEntry]:
    orders = CommerceRepository(session, workspace_id).timeline_orders(
        customer_id, before=before, limit=limit
    )
    return [
        TimelineEntry(
            kind="order",
            id=order.id,
            occurred_at=order.ordered_at,
            title=f"{PLATFORM_LABELS.get(order.platform, order.platform)}订单 "
            f"{order.platform_order_id}",
            data={
                "platform": order.platform,
                "platform_order_id": order.platform_order_id,
                "status": order.status,
                "paid_fen": order.paid_fen,
                "refunded_fen": order.refunded_fen,
                "store": order.store,
            },
        )
        for order in orders
    ]


def orders_summary(session: Session, workspace_id: int, since: datetime) -> list[PlatformSummary]:
    """Paid orders and GMV (paid amount) per platform since the given time."""
    rows = CommerceRepository(session, workspace_id).platform_summary(since)
    return [PlatformSummary(platform, count, gmv) for platform, count, gmv in rows]


def _check_scope(session: Session, principal: Principal, customer_id: int | None) -> None:
    """Staff see the orders of the customers they may see; nobody else's."""
    if not principal.scoped_to_staff:
        return
    if customer_id is None:
        raise NotFound("order")
    try:
        customers_service.get_customer(session, principal, customer_id)
    except NotFound as exc:
        raise NotFound("order") from exc


def order_out(order: Order, principal: Principal) -> OrderOut:
    out = OrderOut.model_validate(order)
    if customers_service.masks_pii(principal) and out.receiver_mobile:
        out.receiver_mobile = mask(IdentityKind.MOBILE, out.receiver_mobile)
    return out


def list_orders(
    session: Session,
    principal: Principal,
    filters: OrderFilters,
    *,
    sort: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[OrderOut], str | None]:
    if principal.scoped_to_staff:
        if filters.customer_id is None:
            raise ValidationFailed("customer_id", "staff list the orders of one customer")
        _check_scope(session, principal, filters.customer_id)
    spec = SortSpec.parse(sort, ORDER_SORT_FIELDS, "-ordered_at")
    orders, next_cursor = CommerceRepository(session, principal.workspace_id).list_orders(
        filters, sort=spec, cursor=cursor, limit=limit
    )
    return [order_out(order, principal) for order in orders], next_cursor


def get_order(session: Session, principal: Principal, order_id: int) -> OrderDetailOut:
    repo = CommerceRepository(session, principal.workspace_id)
    order = repo.order(order_id)
    if order is None:
        raise NotFound("order")
    _check_scope(session, principal, order.customer_id)
    return OrderDetailOut(
        **order_out(order, principal).model_dump(),
        items=[OrderItemOut.model_validate(item) for item in repo.items(order_id)],
        refunds=[RefundOut.model_validate(refund) for refund in repo.refunds(order_id)],
    )


def add_refund(session: Session, principal: Principal, order_id: int, refund: RefundIn) -> Refund:
    """Record a refund; a refund of everything paid marks the order refunded."""
    repo = CommerceRepository(session, principal.workspace_id)
    order = repo.order(order_id)
    if order is None:
        raise NotFound("order")
    refundable = order.paid_fen - order.refunded_fen
    if refund.amount_fen > refundable:
        raise ValidationFailed(
            "amount_fen", f"at most {refundable} fen of this order is not yet refunded"
        )
    platform_refund_id = refund.platform_refund_id or f"manual-{uuid.uuid4().hex[:16]}"
    if repo.refund_by_platform_id(order_id, platform_refund_id) is not None:
        raise Conflict(
            f"refund {platform_refund_id!r} is already recorded",
            {"field": "platform_refund_id"},
        )
    row = Refund(
        workspace_id=principal.workspace_id,
        order_id=order_id,
        platform_refund_id=platform_refund_id,
        amount_fen=refund.amount_fen,
        status="succeeded",
        reason=refund.reason,
        refunded_at=refund.refunded_at,
    )
    session.add(row)
    order.refunded_fen += refund.amount_fen
    if order.refunded_fen >= order.paid_fen:
        order.status = OrderStatus.REFUNDED.value
    session.flush()
    if order.customer_id is not None:
        recompute_customer_stats(session, principal.workspace_id, [order.customer_id])
    workspace_service.audit(
        session,
        principal,
        "order.refund",
        target_type="order",
        target_id=order_id,
        details={"amount_fen": refund.amount_fen, "platform_refund_id": platform_refund_id},
    )
    return row


def conversions(
    session: Session,
    workspace_id: int,
    first_times: Mapping[int, datetime],
    window: timedelta,
) -> dict[int, int]:
    """customer id -> what they paid for orders within `window` after their time (converted
    customers only)."""
    converted: dict[int, int] = {}
    ids = list(first_times)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        earliest = min(first_times[c] for c in chunk)
        rows = session.execute(
            select(Order.customer_id, Order.paid_at, Order.paid_fen).where(
                Order.workspace_id == workspace_id,
                Order.customer_id.in_(chunk),
                Order.paid_at.is_not(None),
                Order.paid_at >= earliest,
            )
        )
        for customer_id, paid_at, paid_fen in rows:
            if customer_id is None or paid_at is None:
                continue
            began = first_times[customer_id]
            if began <= paid_at <= began + window:
                converted[customer_id] = converted.get(customer_id, 0) + paid_fen
    return converted
