"""Queries for orders, items, products, refunds and import runs; all scoped to one workspace.

Bulk writes use INSERT … ON CONFLICT DO UPDATE of the session's dialect (SQLite or
PostgreSQL) with many parameter sets per statement.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.commerce.prepared import ITEM_COLUMNS, ORDER_COLUMNS
from siyu.db import bulk
from siyu.kit.pagination import PageBuilder, SortSpec, paginate
from siyu.kit.time import utcnow
from siyu.kit.timeline import TimelineCursor, older_than
from siyu.models import ImportRun, Order, OrderItem, Product, Refund

T = TypeVar("T")
IN_BATCH = 2000
# Orders that count towards a customer's stats: placed and paid, not cancelled or refunded.
COUNTED_STATUSES = ("paid", "shipped", "completed")
# Orders whose payment counts towards total paid (refunded amounts are subtracted).
PAID_STATUSES = ("paid", "shipped", "completed", "refunded")
EXPORT_REFUND_ID = "export"
# What the bulk writer gives per new order and per item.
NEW_ORDER_COLUMNS = ("id", "customer_id", "platform", "platform_order_id", *ORDER_COLUMNS)
ITEM_ROW_COLUMNS = ("order_id", "product_id", *ITEM_COLUMNS[1:])

ORDER_SORTS: dict[str, ColumnElement[Any]] = {
    "ordered_at": Order.ordered_at.expression,
    "id": Order.id.expression,
    "paid_fen": Order.paid_fen.expression,
}
ORDERS = cast("Table", Order.__table__)
ITEMS = cast("Table", OrderItem.__table__)
PRODUCTS = cast("Table", Product.__table__)
REFUNDS = cast("Table", Refund.__table__)
ORDER_UPDATABLE = (
    "status",
    "store",
    "total_fen",
    "paid_fen",
    "discount_fen",
    "shipping_fen",
    "refunded_fen",
    "ordered_at",
    "paid_at",
    "buyer_id",
    "buyer_nick",
    "receiver_name",
    "receiver_mobile",
    "receiver_province",
    "receiver_city",
    "receiver_address",
)


def batched(values: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(values)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass(frozen=True)
class ExistingOrder:
    id: int
    customer_id: int | None


@dataclass(frozen=True)
class OrderFilters:
    platform: str | None = None
    status: str | None = None
    customer_id: int | None = None
    ordered_from: datetime | None = None
    ordered_to: datetime | None = None


class CommerceRepository:
    def __init__(self, session: Session, workspace_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id
        self.dialect = session.get_bind().dialect.name

    def _insert(self, table: Table) -> Any:
        module = postgresql if self.dialect == "postgresql" else sqlite
        return module.insert(table)

    # -- bulk writes --------------------------------------------------------------

    def existing_orders(self, platform: str, order_ids: Sequence[str]) -> dict[str, ExistingOrder]:
        rows = self.session.execute(
            select(Order.platform_order_id, Order.id, Order.customer_id).where(
                Order.workspace_id == self.workspace_id,
                Order.platform == platform,
                bulk.among(self.session, Order.platform_order_id, order_ids),
            )
        )
        return {
            order_id: ExistingOrder(row_id, customer_id) for order_id, row_id, customer_id in rows
        }

    def import_customers(self, import_run_id: int) -> list[int]:
        """The customers of the orders an import stored or updated."""
        return list(
            self.session.scalars(
                select(Order.customer_id)
                .where(
                    Order.workspace_id == self.workspace_id,
                    Order.import_run_id == import_run_id,
                    Order.customer_id.is_not(None),
                )
                .distinct()
            )
        )

    def upsert_products(self, rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], int]:
        """Rows with platform, external_id, name, price_fen; returns their product ids."""
        if not rows:
            return {}
        table = PRODUCTS
        stmt = self._insert(table)
        now = utcnow()
        stmt = stmt.on_conflict_do_update(
            index_elements=["workspace_id", "platform", "external_id"],
            set_={
                "name": stmt.excluded.name,
                "price_fen": func.coalesce(stmt.excluded.price_fen, table.c.price_fen),
                "updated_at": now,
            },
        )
        params = [
            {**row, "workspace_id": self.workspace_id, "created_at": now, "updated_at": now}
            for row in rows
        ]
        # Without RETURNING the driver batches the statement (far faster on PostgreSQL).
        self.session.execute(stmt, params)
        wanted: dict[str, list[str]] = {}
        for row in rows:
            wanted.setdefault(row["platform"], []).append(row["external_id"])
        found: dict[tuple[str, str], int] = {}
        for platform, external_ids in wanted.items():
            result = self.session.execute(
                select(Product.external_id, Product.id).where(
                    Product.workspace_id == self.workspace_id,
                    Product.platform == platform,
                    bulk.among(self.session, Product.external_id, external_ids),
                )
            )
            found.update(((platform, external_id), row_id) for external_id, row_id in result)
        return found

    def take_order_ids(self, count: int) -> list[int]:
        """Ids for `count` new orders, so inserting them needs no RETURNING or read-back."""
        return bulk.take_ids(self.session, ORDERS, count)

    def insert_new_orders(
        self, rows: Sequence[tuple[Any, ...]], *, import_run_id: int | None
    ) -> set[int]:
        """Insert orders not stored yet, each a tuple of NEW_ORDER_COLUMNS (with its taken
        id); returns the ids of rows skipped because a concurrent writer stored the same
        order first."""
        now = utcnow()
        columns = (*NEW_ORDER_COLUMNS, "workspace_id", "import_run_id", "created_at", "updated_at")
        tail = (self.workspace_id, import_run_id, now, now)
        full = [row + tail for row in rows]
        if self.dialect != "postgresql":
            # SQLite has one writer at a time: nobody can have stored them since we looked.
            bulk.insert_tuples(self.session, ORDERS, columns, full)
            return set()
        try:
            with self.session.begin_nested():
                bulk.insert_tuples(self.session, ORDERS, columns, full)
        except IntegrityError:
            stored = bulk.insert_ignoring_conflicts(
                self.session,
                ORDERS,
                [dict(zip(columns, row, strict=True)) for row in full],
                returning="id",
            )
            return {row[0] for row in rows} - set(stored)
        return set()

    def upsert_orders(self, rows: Sequence[dict[str, Any]], *, import_run_id: int | None) -> None:
        """Insert or update orders by (platform, platform_order_id).

        A known customer link survives an update that brings none (masked buyer data).
        No RETURNING: the driver then batches the statement, which is several times faster
        on PostgreSQL; callers read the ids back with `existing_orders`.
        """
        now = utcnow()
        constants: dict[str, Any] = {"updated_at": now}
        if import_run_id is not None:
            constants["import_run_id"] = import_run_id
        # One statement may touch a row once on PostgreSQL: the last version of a repeated
        # order wins, as it would with one statement per row.
        latest = {
            (row["platform"], row["platform_order_id"]): {
                **row,
                "workspace_id": self.workspace_id,
                "import_run_id": import_run_id,
                "created_at": now,
                "updated_at": now,
            }
            for row in rows
        }
        bulk.upsert(
            self.session,
            ORDERS,
            list(latest.values()),
            conflict=["workspace_id", "platform", "platform_order_id"],
            update=list(ORDER_UPDATABLE),
            keep_when_null=["customer_id"],
            constants=constants,
        )

    def replace_items(
        self, replaced_order_ids: Sequence[int], items: Sequence[tuple[Any, ...]]
    ) -> None:
        """Drop the items of orders being rewritten, then insert the given items (tuples
        of ITEM_ROW_COLUMNS)."""
        table = ITEMS
        for batch in batched(replaced_order_ids, IN_BATCH):
            self.session.execute(
                delete(table).where(
                    table.c.workspace_id == self.workspace_id, table.c.order_id.in_(batch)
                )
            )
        if not items:
            return
        tail = (self.workspace_id,)
        bulk.insert_tuples(
            self.session, table, (*ITEM_ROW_COLUMNS, "workspace_id"), [i + tail for i in items]
        )

    def sync_export_refunds(
        self, refunded: dict[int, int], cleared_order_ids: Sequence[int]
    ) -> None:
        """Keep one refund row per order for the refund the platform's export reports."""
        table = REFUNDS
        for batch in batched(cleared_order_ids, IN_BATCH):
            self.session.execute(
                delete(table).where(
                    table.c.workspace_id == self.workspace_id,
                    table.c.order_id.in_(batch),
                    table.c.platform_refund_id == EXPORT_REFUND_ID,
                )
            )
        if not refunded:
            return
        now = utcnow()
        stmt = self._insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["workspace_id", "order_id", "platform_refund_id"],
            set_={"amount_fen": stmt.excluded.amount_fen, "updated_at": now},
        )
        self.session.execute(
            stmt,
            [
                {
                    "workspace_id": self.workspace_id,
                    "order_id": order_id,
                    "platform_refund_id": EXPORT_REFUND_ID,
                    "amount_fen": amount,
                    "status": "succeeded",
                    "created_at": now,
                    "updated_at": now,
                }
                for order_id, amount in sorted(refunded.items())
            ],
        )

    def recompute_refunded(self, order_ids: Sequence[int]) -> None:
        """Set each order's refunded_fen to the sum of its refund rows."""
        refunds = REFUNDS
        total = (
            select(func.coalesce(func.sum(refunds.c.amount_fen), 0))
            .where(refunds.c.order_id == Order.id, refunds.c.workspace_id == self.workspace_id)
            .scalar_subquery()
        )
        for batch in batched(order_ids, IN_BATCH):
            self.session.execute(
                update(Order)
                .where(Order.workspace_id == self.workspace_id, Order.id.in_(batch))
                .values(refunded_fen=total)
                .execution_options(synchronize_session=False)
            )

    # -- reads ----------------------------------------------------------------------

    def order(self, order_id: int) -> Order | None:
        return self.session.scalar(
            select(Order).where(Order.workspace_id == self.workspace_id, Order.id == order_id)
        )

    def items(self, order_id: int) -> list[OrderItem]:
        return list(
            self.session.scalars(
                select(OrderItem)
                .where(OrderItem.workspace_id == self.workspace_id, OrderItem.order_id == order_id)
                .order_by(OrderItem.id)
            )
        )

    def refunds(self, order_id: int) -> list[Refund]:
        return list(
            self.session.scalars(
                select(Refund)
                .where(Refund.workspace_id == self.workspace_id, Refund.order_id == order_id)
                .order_by(Refund.id)
            )
        )

    def refund_by_platform_id(self, order_id: int, platform_refund_id: str) -> Refund | None:
        return self.session.scalar(
            select(Refund).where(
                Refund.workspace_id == self.workspace_id,
                Refund.order_id == order_id,
                Refund.platform_refund_id == platform_refund_id,
            )
        )

    def list_orders(
        self, filters: OrderFilters, *, sort: SortSpec, cursor: str | None, limit: int
    ) -> tuple[list[Order], str | None]:
        stmt: Select[Any] = select(Order).where(Order.workspace_id == self.workspace_id)
        conditions: list[ColumnElement[bool]] = []
        if filters.platform:
            conditions.append(Order.platform == filters.platform)
        if filters.status:
            conditions.append(Order.status == filters.status)
        if filters.customer_id is not None:
            conditions.append(Order.customer_id == filters.customer_id)
        if filters.ordered_from is not None:
            conditions.append(Order.ordered_at >= filters.ordered_from)
        if filters.ordered_to is not None:
            conditions.append(Order.ordered_at < filters.ordered_to)
        if conditions:
            stmt = stmt.where(and_(*conditions))
        stmt, page = paginate(
            stmt,
            columns=ORDER_SORTS,
            id_column=Order.id.expression,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )
        return self._page(stmt, page)

    def _page(self, stmt: Select[Any], page: PageBuilder) -> tuple[list[Any], str | None]:
        rows = list(self.session.scalars(stmt))
        return page.build(rows)

    def timeline_orders(
        self, customer_id: int, *, before: TimelineCursor | None, limit: int
    ) -> list[Order]:
        return list(
            self.session.scalars(
                select(Order)
                .where(
                    Order.workspace_id == self.workspace_id,
                    Order.customer_id == customer_id,
                    older_than(before, "order", Order.ordered_at.expression, Order.id.expression),
                )
                .order_by(Order.ordered_at.desc(), Order.id.desc())
                .limit(limit)
            )
        )

    def platform_summary(self, since: datetime) -> list[tuple[str, int, int]]:
        rows = self.session.execute(
            select(Order.platform, func.count(Order.id), func.coalesce(func.sum(Order.paid_fen), 0))
            .where(
                Order.workspace_id == self.workspace_id,
                Order.ordered_at >= since,
                Order.status.in_(PAID_STATUSES),
            )
            .group_by(Order.platform)
            .order_by(Order.platform)
        )
        return [(platform, count, gmv) for platform, count, gmv in rows]

    # -- import runs --------------------------------------------------------------

    def import_run(self, import_id: int, *, for_update: bool = False) -> ImportRun | None:
        stmt = select(ImportRun).where(
            ImportRun.workspace_id == self.workspace_id, ImportRun.id == import_id
        )
        if for_update and self.dialect == "postgresql":
            stmt = stmt.with_for_update()
        return self.session.scalar(stmt)

    def list_import_runs(
        self, *, kind: str | None, cursor: str | None, limit: int
    ) -> tuple[list[ImportRun], str | None]:
        stmt: Select[Any] = select(ImportRun).where(ImportRun.workspace_id == self.workspace_id)
        if kind:
            stmt = stmt.where(ImportRun.kind == kind)
        stmt, page = paginate(
            stmt,
            columns={"id": ImportRun.id.expression},
            id_column=ImportRun.id.expression,
            sort=SortSpec("id", descending=True),
            cursor=cursor,
            limit=limit,
        )
        return self._page(stmt, page)
