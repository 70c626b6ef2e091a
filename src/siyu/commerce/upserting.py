"""The bulk order writer behind the API's upsert and the file imports.

A batch costs a fixed number of statements: one lookup of the known orders, one OneID
batch for the buyers, one upsert of the products, one INSERT of the new orders (their
ids taken up front, so nothing is read back), one upsert of the changed orders, the
items, the refunds the platform reports, and the customer stats.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.commerce.prepared import (
    ITEM_COLUMNS,
    ORDER_COLUMNS,
    ORDERED_AT,
    PAID,
    REFUNDED,
    STATUS,
    PreparedOrder,
)
from siyu.commerce.repository import (
    COUNTED_STATUSES,
    PAID_STATUSES,
    CommerceRepository,
    ExistingOrder,
)
from siyu.commerce.schemas import UpsertResult
from siyu.commerce.stats_repository import CustomerStatsDelta, CustomerStatsRepository
from siyu.customers import changes
from siyu.customers.oneid import resolve_many
from siyu.customers.stats import expire_customers

Key = tuple[str, str]
_PRODUCT_ID = ITEM_COLUMNS.index("product_external_id")
_NAME = ITEM_COLUMNS.index("name")
_UNIT_PRICE = ITEM_COLUMNS.index("unit_price_fen")
_COUNTED = frozenset(COUNTED_STATUSES)
_PAID = frozenset(PAID_STATUSES)


def write_orders(
    session: Session,
    workspace_id: int,
    orders: Sequence[PreparedOrder],
    *,
    source: str,
    actor: str,
    import_run_id: int | None = None,
    deferred: set[int] | None = None,
) -> UpsertResult:
    """Insert new orders and apply changes to known ones.

    Orders are keyed by (platform, platform_order_id); within a batch the last one wins.
    Buyers resolve through OneID, items are replaced when the order brings items, the
    refund the platform reports is kept as a refund row, and the touched customers'
    stats are brought up to date. Given `deferred`, customers that only gained new orders
    are added to it instead: the caller recomputes their stats later, once for many
    batches (`service.recompute_customer_stats`).
    """
    batch = list({(o.platform, o.platform_order_id): o for o in orders}.values())
    if not batch:
        return UpsertResult()
    repo = CommerceRepository(session, workspace_id)
    existing = _existing_orders(repo, batch)
    customers = _resolve_buyers(session, workspace_id, batch, source=source, actor=actor)
    product_ids = repo.upsert_products(_product_rows(batch))

    ids: dict[Key, int] = {key: found.id for key, found in existing.items()}
    new = [i for i, o in enumerate(batch) if (o.platform, o.platform_order_id) not in existing]
    if new:
        taken = list(zip(new, repo.take_order_ids(len(new)), strict=True))
        rows = []
        for i, order_id in taken:
            order = batch[i]
            rows.append(
                (order_id, customers[i], order.platform, order.platform_order_id, *order.values)
            )
        lost = repo.insert_new_orders(rows, import_run_id=import_run_id)
        ids.update(
            ((batch[i].platform, batch[i].platform_order_id), order_id)
            for i, order_id in taken
            if order_id not in lost
        )
        if lost:
            # Stored by a concurrent writer since we looked: they are known orders now.
            late = _existing_orders(repo, [batch[i] for i, order_id in taken if order_id in lost])
            existing.update(late)
            ids.update((key, found.id) for key, found in late.items())
    changed = [
        _order_row(order, customer)
        for order, customer in zip(batch, customers, strict=True)
        if (order.platform, order.platform_order_id) in existing
    ]
    if changed:
        repo.upsert_orders(changed, import_run_id=import_run_id)

    items: list[tuple[Any, ...]] = []
    replaced: list[int] = []
    refunded: dict[int, int] = {}
    cleared: list[int] = []
    for order in batch:
        key = (order.platform, order.platform_order_id)
        order_id = ids[key]
        known = key in existing
        if order.items and known:
            replaced.append(order_id)
        for item in order.items:
            external_id = item[_PRODUCT_ID]
            product_id = product_ids.get((key[0], external_id)) if external_id else None
            items.append((order_id, product_id, *item[1:]))
        refund = order.values[REFUNDED]
        if refund > 0:
            refunded[order_id] = refund
        elif known:
            cleared.append(order_id)
    repo.replace_items(replaced, items)
    repo.sync_export_refunds(refunded, cleared)
    # Refunds recorded through the API survive an import of the platform's view.
    repo.recompute_refunded([ids[key] for key in existing])

    _update_stats(session, repo, batch, customers, existing, deferred)
    return UpsertResult(imported=len(batch) - len(existing), updated=len(existing), order_ids=ids)


def _order_row(order: PreparedOrder, customer_id: int | None) -> dict[str, Any]:
    row = dict(zip(ORDER_COLUMNS, order.values, strict=True))
    row["platform"] = order.platform
    row["platform_order_id"] = order.platform_order_id
    row["customer_id"] = customer_id
    return row


def _existing_orders(
    repo: CommerceRepository, batch: Sequence[PreparedOrder]
) -> dict[Key, ExistingOrder]:
    wanted: dict[str, list[str]] = defaultdict(list)
    for order in batch:
        wanted[order.platform].append(order.platform_order_id)
    existing: dict[Key, ExistingOrder] = {}
    for platform, order_ids in wanted.items():
        for order_id, found in repo.existing_orders(platform, order_ids).items():
            existing[(platform, order_id)] = found
    return existing


def _resolve_buyers(
    session: Session,
    workspace_id: int,
    batch: Sequence[PreparedOrder],
    *,
    source: str,
    actor: str,
) -> list[int | None]:
    """The customer of each order (None without a usable identity), in one OneID call."""
    with_refs = [i for i, order in enumerate(batch) if order.identities]
    customers: list[int | None] = [None] * len(batch)
    if with_refs:
        resolved = resolve_many(
            session,
            workspace_id,
            [batch[i].identities for i in with_refs],
            source=source,
            actor=actor,
        )
        for i, resolution in zip(with_refs, resolved, strict=True):
            customers[i] = resolution.customer_id
    return customers


def _product_rows(batch: Sequence[PreparedOrder]) -> list[dict[str, Any]]:
    products: dict[Key, dict[str, Any]] = {}
    for order in batch:
        for item in order.items:
            external_id = item[_PRODUCT_ID]
            if external_id:
                products[(order.platform, external_id)] = {
                    "platform": order.platform,
                    "external_id": external_id,
                    "name": item[_NAME],
                    "price_fen": item[_UNIT_PRICE] or None,
                }
    return list(products.values())


def _update_stats(
    session: Session,
    repo: CommerceRepository,
    batch: Sequence[PreparedOrder],
    customers: Sequence[int | None],
    existing: dict[Key, ExistingOrder],
    deferred: set[int] | None,
) -> None:
    """Customers with changed orders are recomputed; customers that only gained new
    orders get those orders added to their stats (no rescan of their order history), or
    join `deferred`."""
    recompute = {e.customer_id for e in existing.values() if e.customer_id is not None}
    recompute.update(
        customer
        for order, customer in zip(batch, customers, strict=True)
        if customer is not None and (order.platform, order.platform_order_id) in existing
    )
    if deferred is not None:
        deferred.update(c for c in customers if c is not None and c not in recompute)
        added: dict[int, list[Any]] = {}
    else:
        added = _added_stats(batch, customers, recompute)
    stats = CustomerStatsRepository(session, repo.workspace_id)
    stats.add_to_customer_stats({c: CustomerStatsDelta(*sums) for c, sums in added.items()})
    expire_customers(session, repo.workspace_id, added)
    stats.refresh_customer_stats(sorted(recompute))
    touched = [*added, *recompute]
    expire_customers(session, repo.workspace_id, recompute)
    changes.mark_changed(session, repo.workspace_id, touched, orders=True)


def _added_stats(
    batch: Sequence[PreparedOrder], customers: Sequence[int | None], recompute: set[int]
) -> dict[int, list[Any]]:
    # customer -> [orders, paid, first, last]
    added: dict[int, list[Any]] = {}
    for order, customer in zip(batch, customers, strict=True):
        if customer is None or customer in recompute:
            continue
        values = order.values
        status = values[STATUS]
        counted = status in _COUNTED
        paid = values[PAID] - values[REFUNDED] if status in _PAID else 0
        at: datetime | None = values[ORDERED_AT] if counted else None
        sums = added.get(customer)
        if sums is None:
            added[customer] = [int(counted), paid, at, at]
            continue
        sums[0] += counted
        sums[1] += paid
        if at is not None:
            if sums[2] is None or at < sums[2]:
                sums[2] = at
            if sums[3] is None or at > sums[3]:
                sums[3] = at
    return added
