"""Orders: upsert in bulk (API, imports, demo data), refunds, customer stats, timeline."""

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.commerce.repository import (
    COUNTED_STATUSES,
    PAID_STATUSES,
    CommerceRepository,
    CustomerStatsDelta,
    ExistingOrder,
    OrderFilters,
)
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
from siyu.connectors.commerce import PLATFORM_LABELS, OrderStatus, Platform
from siyu.customers import changes
from siyu.customers import service as customers_service
from siyu.customers.identities import IdentityKind, IdentityRef, mask, normalize
from siyu.customers.oneid import resolve_many
from siyu.customers.stats import expire_customers
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import SortSpec
from siyu.kit.timeline import TimelineCursor, TimelineEntry
from siyu.models import Order, Refund
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

BUYER_KINDS: dict[str, IdentityKind] = {
    Platform.TMALL: IdentityKind.TAOBAO_BUYER_ID,
    Platform.TAOBAO: IdentityKind.TAOBAO_BUYER_ID,
    Platform.JD: IdentityKind.JD_BUYER_ID,
    Platform.PDD: IdentityKind.PDD_BUYER_ID,
    Platform.DOUYIN: IdentityKind.DOUYIN_BUYER_ID,
    Platform.YOUZAN: IdentityKind.YOUZAN_BUYER_ID,
}
ORDER_SORT_FIELDS = ("ordered_at", "paid_fen", "id")


def is_masked(value: str) -> bool:
    """Platforms hide buyer data as 138****8000 or t**1; such values identify nobody."""
    return "*" in value or "＊" in value


def order_identities(order: OrderRecord) -> list[IdentityRef]:
    """The identities an order feeds OneID: the platform buyer id and an unmasked mobile."""
    refs: list[IdentityRef] = []
    kind = BUYER_KINDS.get(order.platform)
    if kind is not None and order.buyer_id and not is_masked(order.buyer_id):
        with suppress(ValidationFailed):
            refs.append(normalize(kind, order.buyer_id, field="buyer_id"))
    mobile = order.receiver_mobile
    # Landlines and virtual numbers stay on the order; they are not the buyer's mobile.
    if mobile and not is_masked(mobile):
        with suppress(ValidationFailed):
            refs.append(normalize(IdentityKind.MOBILE, mobile, field="receiver_mobile"))
    return refs


def _final_status(order: OrderRecord) -> str:
    if order.status == OrderStatus.CANCELLED and order.refunded_fen > 0:
        return OrderStatus.REFUNDED.value
    return order.status


def upsert_orders(
    session: Session,
    workspace_id: int,
    orders: Sequence[OrderIn | OrderRecord],
    *,
    source: str,
    actor: str,
    import_run_id: int | None = None,
) -> UpsertResult:
    """Insert new orders and apply changes to known ones, in a few statements per batch.

    Orders are keyed by (platform, platform_order_id); within a batch the last one wins.
    Buyers resolve through OneID, items are replaced when the order brings items, the
    refund the platform reports is kept as a refund row, and the touched customers'
    stats are brought up to date.
    """
    records = (o.to_record() if isinstance(o, OrderIn) else o for o in orders)
    batch = list({(o.platform, o.platform_order_id): o for o in records}.values())
    if not batch:
        return UpsertResult()
    repo = CommerceRepository(session, workspace_id)

    existing = _existing_orders(repo, batch)
    customers = _resolve_buyers(session, workspace_id, batch, source=source, actor=actor)
    product_ids = repo.upsert_products(_product_rows(batch))

    repo.upsert_orders(
        [_order_row(order, customer) for order, customer in zip(batch, customers, strict=True)],
        import_run_id=import_run_id,
    )
    ids = {key: found.id for key, found in _existing_orders(repo, batch).items()}

    items: list[dict[str, Any]] = []
    replaced: list[int] = []
    refunded: dict[int, int] = {}
    cleared: list[int] = []
    for order in batch:
        key = (order.platform, order.platform_order_id)
        order_id = ids[key]
        known = key in existing
        if order.items and known:
            replaced.append(order_id)
        items.extend(
            {
                "order_id": order_id,
                "product_id": product_ids.get((key[0], item.product_external_id))
                if item.product_external_id
                else None,
                "sku": item.sku,
                "name": item.name,
                "quantity": item.quantity,
                "unit_price_fen": item.unit_price_fen,
                "amount_fen": item.amount_fen,
            }
            for item in order.items
        )
        if order.refunded_fen > 0:
            refunded[order_id] = order.refunded_fen
        elif known:
            cleared.append(order_id)
    repo.replace_items(replaced, items)
    repo.sync_export_refunds(refunded, cleared)
    # Refunds recorded through the API survive an import of the platform's view.
    repo.recompute_refunded([ids[key] for key in existing])

    _update_stats(session, repo, batch, customers, existing)
    return UpsertResult(imported=len(batch) - len(existing), updated=len(existing), order_ids=ids)


def _update_stats(
    session: Session,
    repo: CommerceRepository,
    batch: Sequence[OrderRecord],
    customers: Sequence[int | None],
    existing: dict[tuple[str, str], ExistingOrder],
) -> None:
    """Customers with changed orders are recomputed; customers that only gained new
    orders get those orders added to their stats (no rescan of their order history)."""
    recompute = {e.customer_id for e in existing.values() if e.customer_id is not None}
    recompute.update(
        customer
        for order, customer in zip(batch, customers, strict=True)
        if customer is not None and (order.platform, order.platform_order_id) in existing
    )
    added: dict[int, CustomerStatsDelta] = {}
    for order, customer in zip(batch, customers, strict=True):
        if customer is None or customer in recompute:
            continue
        status = _final_status(order)
        counted = status in COUNTED_STATUSES
        paid = order.paid_fen - order.refunded_fen if status in PAID_STATUSES else 0
        at = order.ordered_at if counted else None
        before = added.get(customer)
        if before is None:
            added[customer] = CustomerStatsDelta(int(counted), paid, at, at)
            continue
        first, last = before.first_order_at, before.last_order_at
        if at is not None:
            first = at if first is None or at < first else first
            last = at if last is None or at > last else last
        added[customer] = CustomerStatsDelta(
            before.order_count + counted, before.total_paid_fen + paid, first, last
        )
    repo.add_to_customer_stats(added)
    expire_customers(session, repo.workspace_id, added)
    recompute_customer_stats(session, repo.workspace_id, sorted(recompute))
    changes.mark_changed(session, repo.workspace_id, added)


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


def _existing_orders(
    repo: CommerceRepository, batch: Sequence[OrderRecord]
) -> dict[tuple[str, str], ExistingOrder]:
    wanted: dict[str, list[str]] = defaultdict(list)
    for order in batch:
        wanted[order.platform].append(order.platform_order_id)
    existing: dict[tuple[str, str], ExistingOrder] = {}
    for platform, order_ids in wanted.items():
        for order_id, found in repo.existing_orders(platform, order_ids).items():
            existing[(platform, order_id)] = found
    return existing


def _resolve_buyers(
    session: Session, workspace_id: int, batch: Sequence[OrderRecord], *, source: str, actor: str
) -> list[int | None]:
    """The customer of each order (None without a usable identity), in one OneID call."""
    refs = [order_identities(order) for order in batch]
    with_refs = [i for i, r in enumerate(refs) if r]
    customers: list[int | None] = [None] * len(batch)
    if with_refs:
        resolved = resolve_many(
            session, workspace_id, [refs[i] for i in with_refs], source=source, actor=actor
        )
        for i, resolution in zip(with_refs, resolved, strict=True):
            customers[i] = resolution.customer_id
    return customers


def _product_rows(batch: Sequence[OrderRecord]) -> list[dict[str, Any]]:
    products: dict[tuple[str, str], dict[str, Any]] = {}
    for order in batch:
        for item in order.items:
            if item.product_external_id:
                products[(order.platform, item.product_external_id)] = {
                    "platform": order.platform,
                    "external_id": item.product_external_id,
                    "name": item.name,
                    "price_fen": item.unit_price_fen or None,
                }
    return list(products.values())


def _order_row(order: OrderRecord, customer_id: int | None) -> dict[str, Any]:
    return {
        "platform": order.platform,
        "platform_order_id": order.platform_order_id,
        "customer_id": customer_id,
        "store": order.store,
        "status": _final_status(order),
        "total_fen": order.total_fen,
        "paid_fen": order.paid_fen,
        "discount_fen": order.discount_fen,
        "shipping_fen": order.shipping_fen,
        "refunded_fen": order.refunded_fen,
        "ordered_at": order.ordered_at,
        "paid_at": order.paid_at,
        "buyer_id": order.buyer_id,
        "buyer_nick": order.buyer_nick,
        "receiver_name": order.receiver_name,
        "receiver_mobile": order.receiver_mobile,
        "receiver_province": order.receiver_province,
        "receiver_city": order.receiver_city,
        "receiver_address": order.receiver_address,
    }


def recompute_customer_stats(
    session: Session, workspace_id: int, customer_ids: Sequence[int]
) -> None:
    """Recompute the customers' order stats from their orders, in the database."""
    if not customer_ids:
        return
    CommerceRepository(session, workspace_id).refresh_customer_stats(customer_ids)
    expire_customers(session, workspace_id, customer_ids)
    changes.mark_changed(session, workspace_id, customer_ids)


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
