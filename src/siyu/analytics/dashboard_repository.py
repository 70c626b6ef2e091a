"""Set-based reads for the growth, lifecycle, funnel, cohort, platform and formula dashboards.

Times are bucketed by CASE over local-midnight bounds (days or months in the workspace
time zone), so both dialects group the same way; staff see only the customers they follow.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, distinct, func, literal, select

from siyu.analytics.repository import AnalyticsRepository
from siyu.commerce.repository import COUNTED_STATUSES, PAID_STATUSES
from siyu.models import (
    Customer,
    Event,
    FollowLoss,
    FollowRelation,
    Identity,
    LiveCode,
    LiveCodeAdd,
    Order,
    Staff,
    StageChange,
)


def bucket(column: Any, bounds: Sequence[datetime]) -> ColumnElement[int]:
    """i when bounds[i] <= column < bounds[i + 1] (callers filter to [bounds[0], bounds[-1]))."""
    whens = [(column < bound, index) for index, bound in enumerate(bounds[1:-1])]
    return case(*whens, else_=len(bounds) - 2)


class DashboardRepository(AnalyticsRepository):
    def _between(self, column: Any, bounds: Sequence[datetime]) -> list[ColumnElement[bool]]:
        return [column >= bounds[0], column < bounds[-1]]

    def new_by_day(self, bounds: Sequence[datetime], by: str) -> list[tuple[int, str, int]]:
        """(day, group, customers) of customers created (by none/channel) or follow
        relations added (by staff) or live-code adds (by live_code)."""
        ws = self.scope.workspace_id
        if by == "live_code":
            day = bucket(LiveCodeAdd.created_at, bounds)
            stmt: Any = (
                select(day, LiveCode.name, func.count(distinct(LiveCodeAdd.customer_id)))
                .select_from(LiveCodeAdd)
                .join(LiveCode, LiveCode.id == LiveCodeAdd.live_code_id)
                .where(
                    LiveCodeAdd.workspace_id == ws, *self._between(LiveCodeAdd.created_at, bounds)
                )
                .group_by(day, LiveCode.name)
            )
            stmt = self._in_scope(stmt, LiveCodeAdd.customer_id)
        elif by == "staff":
            day = bucket(FollowRelation.added_at, bounds)
            stmt = (
                select(day, Staff.name, func.count())
                .select_from(FollowRelation)
                .join(Staff, Staff.id == FollowRelation.staff_id)
                .where(
                    FollowRelation.workspace_id == ws,
                    *self._between(FollowRelation.added_at, bounds),
                )
                .group_by(day, Staff.name)
            )
            stmt = self._in_scope(stmt, FollowRelation.customer_id)
        else:
            day = bucket(Customer.created_at, bounds)
            group = func.coalesce(Customer.source, "") if by == "channel" else literal("")
            stmt = (
                select(day, group, func.count())
                .select_from(Customer)
                .where(*self._live(), *self._between(Customer.created_at, bounds))
                .group_by(day, group)
            )
            stmt = self._in_scope(stmt, Customer.id)
        return [(int(d), str(g or ""), int(n)) for d, g, n in self.session.execute(stmt)]

    def lost_by_day(self, bounds: Sequence[datetime], by: str) -> list[tuple[int, str, int]]:
        """(day, group, losses) of follow relations that ended (who deleted whom)."""
        ws = self.scope.workspace_id
        day = bucket(FollowLoss.occurred_at, bounds)
        if by == "staff":
            group: Any = Staff.name
        elif by == "channel":
            group = func.coalesce(Customer.source, "")
        elif by == "live_code":
            group = func.coalesce(LiveCode.name, "")
        else:
            group = literal("")
        stmt: Any = (
            select(day, group, func.count())
            .select_from(FollowLoss)
            .join(Staff, Staff.id == FollowLoss.staff_id)
            .join(Customer, Customer.id == FollowLoss.customer_id)
            .outerjoin(FollowRelation, FollowRelation.id == FollowLoss.follow_relation_id)
            .outerjoin(
                LiveCode,
                (LiveCode.workspace_id == ws) & (LiveCode.state == FollowRelation.state),
            )
            .where(FollowLoss.workspace_id == ws, *self._between(FollowLoss.occurred_at, bounds))
            .group_by(day, group)
        )
        stmt = self._in_scope(stmt, FollowLoss.customer_id)
        return [(int(d), str(g or ""), int(n)) for d, g, n in self.session.execute(stmt)]

    def stages(self) -> list[tuple[str, int]]:
        stmt = self._in_scope(
            select(Customer.lifecycle_stage, func.count())
            .select_from(Customer)
            .where(*self._live())
            .group_by(Customer.lifecycle_stage),
            Customer.id,
        )
        return [(str(s), int(n)) for s, n in self.session.execute(stmt)]

    def stage_entries(self, start: datetime, end: datetime) -> list[tuple[str, int]]:
        """Customers who entered each stage in [start, end)."""
        stmt = self._in_scope(
            select(StageChange.to_stage, func.count(distinct(StageChange.customer_id)))
            .select_from(StageChange)
            .where(
                StageChange.workspace_id == self.scope.workspace_id,
                StageChange.changed_at >= start,
                StageChange.changed_at < end,
            )
            .group_by(StageChange.to_stage),
            StageChange.customer_id,
        )
        return [(str(s), int(n)) for s, n in self.session.execute(stmt)]

    def cohort_orders(self, bounds: Sequence[datetime]) -> list[tuple[int, int, int]]:
        """(first-order month, order month, customers with a counted order) over the bounds."""
        first = bucket(Customer.first_order_at, bounds)
        month = bucket(Order.ordered_at, bounds)
        stmt = self._in_scope(
            select(first, month, func.count(distinct(Order.customer_id)))
            .select_from(Order)
            .join(Customer, Customer.id == Order.customer_id)
            .where(
                *self._live(),
                Order.workspace_id == self.scope.workspace_id,
                Order.status.in_(COUNTED_STATUSES),
                *self._between(Customer.first_order_at, bounds),
                *self._between(Order.ordered_at, bounds),
            )
            .group_by(first, month),
            Customer.id,
        )
        return [(int(f), int(m), int(n)) for f, m, n in self.session.execute(stmt)]

    def cohorts(self, bounds: Sequence[datetime]) -> list[tuple[int, int, int, int]]:
        """(first-order month, customers, repeat buyers, total paid) per cohort."""
        first = bucket(Customer.first_order_at, bounds)
        stmt = self._in_scope(
            select(
                first,
                func.count(),
                func.sum(case((Customer.order_count >= 2, 1), else_=0)),
                func.coalesce(func.sum(Customer.total_paid_fen), 0),
            )
            .select_from(Customer)
            .where(*self._live(), *self._between(Customer.first_order_at, bounds))
            .group_by(first),
            Customer.id,
        )
        return [(int(f), int(n), int(r or 0), int(g)) for f, n, r, g in self.session.execute(stmt)]

    def sales(self, start: datetime, end: datetime) -> list[tuple[str, int, int, int]]:
        """(platform, orders, buyers, GMV) of counted and paid orders in [start, end)."""
        counted = Order.status.in_(COUNTED_STATUSES)
        stmt = self._in_scope(
            select(
                Order.platform,
                func.sum(case((counted, 1), else_=0)),
                func.count(distinct(case((counted, Order.customer_id)))),
                func.coalesce(func.sum(Order.paid_fen - Order.refunded_fen), 0),
            )
            .select_from(Order)
            .where(
                Order.workspace_id == self.scope.workspace_id,
                Order.status.in_(PAID_STATUSES),
                Order.ordered_at >= start,
                Order.ordered_at < end,
            )
            .group_by(Order.platform),
            Order.customer_id,
        )
        return [(str(p), int(o or 0), int(b), int(g)) for p, o, b, g in self.session.execute(stmt)]

    def identity_platforms(self) -> list[tuple[str, int]]:
        stmt = self._in_scope(
            select(Identity.kind, func.count(distinct(Identity.customer_id)))
            .select_from(Identity)
            .where(Identity.workspace_id == self.scope.workspace_id)
            .group_by(Identity.kind),
            Identity.customer_id,
        )
        return [(str(k), int(n)) for k, n in self.session.execute(stmt)]

    def users_at(self, end: datetime) -> int:
        stmt = self._in_scope(
            select(func.count())
            .select_from(Customer)
            .where(*self._live(), Customer.created_at < end),
            Customer.id,
        )
        return self.session.scalar(stmt) or 0

    def active_between(self, start: datetime, end: datetime) -> int:
        """Customers with an event or a counted order in [start, end)."""
        events = select(Event.customer_id).where(
            Event.workspace_id == self.scope.workspace_id,
            Event.occurred_at >= start,
            Event.occurred_at < end,
        )
        orders = select(Order.customer_id).where(
            Order.workspace_id == self.scope.workspace_id,
            Order.status.in_(COUNTED_STATUSES),
            Order.ordered_at >= start,
            Order.ordered_at < end,
        )
        active = events.union(orders).subquery()
        stmt = self._in_scope(
            select(func.count())
            .select_from(Customer)
            .where(*self._live(), Customer.id.in_(select(active.c[0]))),
            Customer.id,
        )
        return self.session.scalar(stmt) or 0
