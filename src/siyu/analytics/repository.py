"""Dashboard queries across customers, follow relations, orders and tags (a sanctioned reader).

Indexes relied on: customer (workspace_id, created_at, id) for new customers,
customer_order (workspace_id, ordered_at) for sales, customer_tag (workspace_id, tag_id,
customer_id) for top tags, follow_relation (workspace_id, customer_id, staff_id) for the
staff scope and lost customers.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVarTuple

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from siyu.models import Customer, CustomerTag, FollowRelation, Order, Tag, TagGroup

ACTIVE = "active"
# Orders that were paid, whatever happened after; GMV does not subtract refunds.
PAID_STATUSES = ("paid", "shipped", "completed", "refunded")
Row = TypeVarTuple("Row")


@dataclass(frozen=True)
class AnalyticsScope:
    """The customers counted: a workspace's, or for a staff member the ones they follow."""

    workspace_id: int
    restricted: bool = False
    staff_id: int | None = None


@dataclass(frozen=True)
class SalesRow:
    day: int
    platform: str
    orders: int
    gmv_fen: int


def _day_index(
    column: InstrumentedAttribute[datetime], bounds: Sequence[datetime]
) -> ColumnElement[int]:
    """Which day a time falls in: i when bounds[i] <= time < bounds[i + 1]."""
    whens = [(column < bound, index) for index, bound in enumerate(bounds[1:-1])]
    return case(*whens, else_=len(bounds) - 2)


class AnalyticsRepository:
    def __init__(self, session: Session, scope: AnalyticsScope) -> None:
        self.session = session
        self.scope = scope

    def _in_scope(
        self,
        stmt: Select[*Row],
        customer_id: InstrumentedAttribute[int] | InstrumentedAttribute[int | None],
    ) -> Select[*Row]:
        """For a staff member, only rows of customers they follow.

        A join rather than EXISTS: the staff member's active relations (by the
        (workspace_id, staff_id, status) index) drive the query, not the whole table.
        """
        scope = self.scope
        if not scope.restricted:
            return stmt
        return stmt.join(
            FollowRelation,
            and_(
                FollowRelation.customer_id == customer_id,
                FollowRelation.workspace_id == scope.workspace_id,
                FollowRelation.staff_id == scope.staff_id,
                FollowRelation.status == ACTIVE,
            ),
        )

    def _live(self) -> list[ColumnElement[bool]]:
        return [Customer.workspace_id == self.scope.workspace_id, Customer.merged_into_id.is_(None)]

    def customers_total(self) -> int:
        stmt = self._in_scope(select(func.count()).select_from(Customer), Customer.id)
        return self.session.scalar(stmt.where(*self._live())) or 0

    def new_customers_by_day(self, bounds: Sequence[datetime]) -> dict[int, int]:
        """Live customers created per day; day i runs from bounds[i] to bounds[i + 1]."""
        day = _day_index(Customer.created_at, bounds).label("day")
        stmt = (
            self._in_scope(
                select(day, func.count().label("customers")).select_from(Customer), Customer.id
            )
            .where(
                *self._live(),
                Customer.created_at >= bounds[0],
                Customer.created_at < bounds[-1],
            )
            .group_by(day)
        )
        return {row.day: row.customers for row in self.session.execute(stmt)}

    def sales_by_day(self, bounds: Sequence[datetime]) -> list[SalesRow]:
        day = _day_index(Order.ordered_at, bounds).label("day")
        columns = select(
            day,
            Order.platform,
            func.count().label("orders"),
            func.coalesce(func.sum(Order.paid_fen), 0).label("gmv"),
        ).select_from(Order)
        stmt = (
            self._in_scope(columns, Order.customer_id)
            .where(
                Order.workspace_id == self.scope.workspace_id,
                Order.ordered_at >= bounds[0],
                Order.ordered_at < bounds[-1],
                Order.status.in_(PAID_STATUSES),
            )
            .group_by(day, Order.platform)
        )
        return [
            SalesRow(row.day, row.platform, row.orders, int(row.gmv))
            for row in self.session.execute(stmt)
        ]

    def lost_since(self, starts: Sequence[datetime], end: datetime) -> list[int]:
        """For each start: customers whose last follow relation in scope ended in [start, end).

        Only customers with a relation that changed since the earliest start and is not
        active are looked at, so the work grows with recent churn, not with the table.
        """
        scope = self.scope
        relation_scope = [FollowRelation.workspace_id == scope.workspace_id]
        if scope.restricted:
            relation_scope.append(FollowRelation.staff_id == scope.staff_id)
        earliest = min(starts)
        candidates = select(FollowRelation.customer_id).where(
            *relation_scope,
            FollowRelation.status != ACTIVE,
            FollowRelation.updated_at >= earliest,
        )
        last_change = func.max(FollowRelation.updated_at)
        lost = (
            select(last_change.label("last_change"))
            .where(*relation_scope, FollowRelation.customer_id.in_(candidates))
            .group_by(FollowRelation.customer_id)
            .having(
                func.sum(case((FollowRelation.status == ACTIVE, 1), else_=0)) == 0,
                last_change >= earliest,
                last_change < end,
            )
            .subquery()
        )
        columns = [
            func.coalesce(func.sum(case((lost.c.last_change >= start, 1), else_=0)), 0)
            for start in starts
        ]
        row = self.session.execute(select(*columns)).one()
        return [int(value) for value in row]

    def top_tags(self, limit: int) -> list[tuple[int, str, str, int]]:
        """(tag id, tag name, group name, customers) for the tags on the most customers.

        The whole workspace reads the tags' kept counts; a staff member's few customers
        are counted live.
        """
        if not self.scope.restricted:
            kept = (
                select(Tag.id, Tag.name, TagGroup.name, Tag.customer_count)
                .join(TagGroup, TagGroup.id == Tag.group_id)
                .where(Tag.workspace_id == self.scope.workspace_id, Tag.customer_count > 0)
                .order_by(Tag.customer_count.desc(), Tag.id)
                .limit(limit)
            )
            return [
                (tag_id, name, group, n) for tag_id, name, group, n in self.session.execute(kept)
            ]
        count = func.count().label("customers")
        counted = (
            self._in_scope(
                select(CustomerTag.tag_id, count).select_from(CustomerTag), CustomerTag.customer_id
            )
            .where(CustomerTag.workspace_id == self.scope.workspace_id)
            .group_by(CustomerTag.tag_id)
            .order_by(count.desc(), CustomerTag.tag_id)
            .limit(limit)
            .subquery()
        )
        stmt = (
            select(Tag.id, Tag.name, TagGroup.name, counted.c.customers)
            .join(counted, counted.c.tag_id == Tag.id)
            .join(TagGroup, TagGroup.id == Tag.group_id)
            .where(Tag.workspace_id == self.scope.workspace_id)
            .order_by(counted.c.customers.desc(), Tag.id)
        )
        return [(tag_id, name, group, n) for tag_id, name, group, n in self.session.execute(stmt)]
