"""Queries of customers and follow relations; the tenant filter and staff data scope live here."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import InstrumentedAttribute, Session

from siyu.customers.custom_fields import FieldType
from siyu.kit.pagination import check_limit, decode_cursor, encode_cursor
from siyu.models import Customer, CustomerTag, CustomField, FollowRelation, Staff
from siyu.workspace.principal import Principal

ACTIVE = "active"
SORT_COLUMNS: dict[str, Any] = {
    "created_at": Customer.created_at,
    "last_active_at": Customer.last_active_at,
    "last_order_at": Customer.last_order_at,
    "total_paid_fen": Customer.total_paid_fen,
}
NULLABLE_SORTS = frozenset({"last_active_at", "last_order_at"})


@dataclass(frozen=True)
class Scope:
    """Which customers a caller may see: a workspace, and for staff only the ones they follow."""

    workspace_id: int
    restricted: bool = False
    staff_id: int | None = None

    @classmethod
    def of(cls, principal: Principal) -> "Scope":
        return cls(principal.workspace_id, principal.scoped_to_staff, principal.staff_id)

    @classmethod
    def workspace(cls, workspace_id: int) -> "Scope":
        return cls(workspace_id)


@dataclass(frozen=True)
class CustomCondition:
    field: CustomField
    value: Any


@dataclass(frozen=True)
class Search:
    """What `q` was understood as; at most one of these is set."""

    prefix: str | None = None
    mobile: str | None = None
    mobile_last4: str | None = None


@dataclass(frozen=True)
class CustomerFilter:
    search: Search = field(default_factory=Search)
    tag_ids: Sequence[int] = ()
    any_tag_ids: Sequence[int] = ()
    staff_id: int | None = None
    stage: str | None = None
    source: str | None = None
    custom: Sequence[CustomCondition] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    last_order_from: datetime | None = None
    last_order_to: datetime | None = None
    last_active_from: datetime | None = None
    last_active_to: datetime | None = None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class CustomerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _followed_by(self, workspace_id: int, staff_id: int) -> ColumnElement[bool]:
        return exists().where(
            FollowRelation.workspace_id == workspace_id,
            FollowRelation.customer_id == Customer.id,
            FollowRelation.staff_id == staff_id,
            FollowRelation.status == ACTIVE,
        )

    def _scoped(self, scope: Scope) -> Select[Customer]:
        stmt = select(Customer).where(
            Customer.workspace_id == scope.workspace_id, Customer.merged_into_id.is_(None)
        )
        if scope.restricted:
            if scope.staff_id is None:
                return stmt.where(false())
            stmt = stmt.where(self._followed_by(scope.workspace_id, scope.staff_id))
        return stmt

    def get(self, scope: Scope, customer_id: int) -> Customer | None:
        """A live customer the scope may see."""
        return self.session.scalar(self._scoped(scope).where(Customer.id == customer_id))

    def visible(self, scope: Scope, ids: Sequence[int]) -> list[Customer]:
        """The live customers among `ids` the scope may see, in id order."""
        return list(
            self.session.scalars(
                self._scoped(scope).where(Customer.id.in_(ids)).order_by(Customer.id)
            )
        )

    def survivor_of(self, workspace_id: int, customer_id: int) -> int | None:
        """For a merged customer, the live customer it now belongs to."""
        current = customer_id
        seen: set[int] = set()
        while current not in seen:
            seen.add(current)
            merged_into = self.session.scalar(
                select(Customer.merged_into_id).where(
                    Customer.workspace_id == workspace_id, Customer.id == current
                )
            )
            if merged_into is None:
                return None if current == customer_id else current
            current = merged_into
        return None

    def merge_pointers(self, workspace_id: int, ids: Sequence[int]) -> dict[int, int | None]:
        """id -> merged_into_id (None for live customers) for the ids that exist."""
        stmt = select(Customer.id, Customer.merged_into_id).where(
            Customer.workspace_id == workspace_id, Customer.id.in_(list(ids))
        )
        return {row.id: row.merged_into_id for row in self.session.execute(stmt)}

    def live_ids(self, workspace_id: int, ids: Sequence[int]) -> set[int]:
        stmt = select(Customer.id).where(
            Customer.workspace_id == workspace_id,
            Customer.merged_into_id.is_(None),
            Customer.id.in_(list(ids)),
        )
        return set(self.session.scalars(stmt))

    # --- the customer list ---------------------------------------------------------------

    def _search(self, search: Search) -> ColumnElement[bool]:
        if search.mobile is not None:
            return Customer.mobile == search.mobile
        if search.mobile_last4 is not None:
            return Customer.mobile_last4 == search.mobile_last4
        if search.prefix is not None:
            return or_(
                self._prefix(Customer.name, search.prefix),
                self._prefix(Customer.remark, search.prefix),
            )
        return true()

    def _prefix(
        self, column: InstrumentedAttribute[str | None], prefix: str
    ) -> ColumnElement[bool]:
        # SQLite uses an index for a range on a BINARY column but not for LIKE (which is
        # case-insensitive there); PostgreSQL uses the text_pattern_ops index for LIKE.
        if self._dialect == "sqlite":
            return and_(column >= prefix, column < prefix + "\U0010ffff")
        return column.like(_escape_like(prefix) + "%", escape="\\")

    def _has_tag(self, workspace_id: int, tag_ids: Sequence[int]) -> ColumnElement[bool]:
        return exists().where(
            CustomerTag.workspace_id == workspace_id,
            CustomerTag.customer_id == Customer.id,
            CustomerTag.tag_id.in_(list(tag_ids))
            if len(tag_ids) > 1
            else (CustomerTag.tag_id == tag_ids[0]),
        )

    def _custom(self, condition: CustomCondition) -> ColumnElement[bool]:
        key = condition.field.key
        field_type = FieldType(condition.field.field_type)
        if field_type is FieldType.MULTI_CHOICE:
            if self._dialect == "postgresql":
                return type_coerce(Customer.custom_fields, JSONB).contains({key: [condition.value]})
            chosen = func.json_each(Customer.custom_fields, f'$."{key}"').table_valued("value")
            return exists().select_from(chosen).where(chosen.c.value == condition.value)
        element = Customer.custom_fields[key]
        matches: ColumnElement[bool] = (
            element.as_float() == float(condition.value)
            if field_type is FieldType.NUMBER
            else element.as_string() == condition.value
        )
        return matches

    def _conditions(self, workspace_id: int, f: CustomerFilter) -> list[ColumnElement[bool]]:
        conditions = [self._search(f.search)]
        conditions += [self._has_tag(workspace_id, [tag_id]) for tag_id in f.tag_ids]
        if f.any_tag_ids:
            conditions.append(self._has_tag(workspace_id, f.any_tag_ids))
        if f.staff_id is not None:
            conditions.append(self._followed_by(workspace_id, f.staff_id))
        if f.stage is not None:
            conditions.append(Customer.lifecycle_stage == f.stage)
        if f.source is not None:
            conditions.append(Customer.source == f.source)
        conditions += [self._custom(c) for c in f.custom]
        for column, start, end in (
            (Customer.created_at, f.created_from, f.created_to),
            (Customer.last_order_at, f.last_order_from, f.last_order_to),
            (Customer.last_active_at, f.last_active_from, f.last_active_to),
        ):
            if start is not None:
                conditions.append(column >= start)
            if end is not None:
                conditions.append(column < end)
        return conditions

    def page(
        self,
        scope: Scope,
        f: CustomerFilter,
        *,
        sort_field: str,
        descending: bool,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Customer], str | None]:
        """One page in (sort value, id) order, customers without a value last."""
        check_limit(limit)
        base = self._scoped(scope).where(*self._conditions(scope.workspace_id, f))
        column = SORT_COLUMNS[sort_field]
        after = decode_cursor(cursor, 2) if cursor else None
        nullable = sort_field in NULLABLE_SORTS

        def id_beyond(last_id: int) -> ColumnElement[bool]:
            return Customer.id < last_id if descending else Customer.id > last_id

        rows: list[Customer] = []
        if after is None or after[0] is not None:
            stmt = base.where(column.is_not(None)) if nullable else base
            if after is not None:
                value, last_id = after
                beyond = column < value if descending else column > value
                stmt = stmt.where(
                    column <= value if descending else column >= value,
                    or_(beyond, and_(column == value, id_beyond(last_id))),
                )
            order = [column.desc(), Customer.id.desc()] if descending else [column, Customer.id]
            rows = list(self.session.scalars(stmt.order_by(*order).limit(limit + 1)))
        if nullable and len(rows) <= limit:
            stmt = base.where(column.is_(None))
            if after is not None and after[0] is None:
                stmt = stmt.where(id_beyond(after[1]))
            order_id = Customer.id.desc() if descending else Customer.id
            more = limit + 1 - len(rows)
            rows += list(self.session.scalars(stmt.order_by(order_id).limit(more)))
        items = rows[:limit]
        if len(rows) <= limit:
            return items, None
        last = items[-1]
        return items, encode_cursor([getattr(last, sort_field), last.id])

    # --- follow relations ------------------------------------------------------------------

    def follow_relation(self, workspace_id: int, relation_id: int) -> FollowRelation | None:
        return self.session.scalar(
            select(FollowRelation).where(
                FollowRelation.workspace_id == workspace_id, FollowRelation.id == relation_id
            )
        )

    def follow_relation_of(
        self, workspace_id: int, customer_id: int, staff_id: int
    ) -> FollowRelation | None:
        return self.session.scalar(
            select(FollowRelation).where(
                FollowRelation.workspace_id == workspace_id,
                FollowRelation.customer_id == customer_id,
                FollowRelation.staff_id == staff_id,
            )
        )

    def follow_relations(
        self, workspace_id: int, customer_id: int
    ) -> list[tuple[FollowRelation, str]]:
        """The customer's follow relations with each staff member's name, oldest first."""
        stmt = (
            select(FollowRelation, Staff.name)
            .join(Staff, Staff.id == FollowRelation.staff_id)
            .where(
                FollowRelation.workspace_id == workspace_id,
                FollowRelation.customer_id == customer_id,
            )
            .order_by(FollowRelation.added_at, FollowRelation.id)
        )
        return [(relation, name) for relation, name in self.session.execute(stmt)]

    def followed_counts(self, workspace_id: int, staff_ids: Sequence[int]) -> dict[int, int]:
        """staff id -> how many live customers that staff member actively follows."""
        if not staff_ids:
            return {}
        rows = self.session.execute(
            select(FollowRelation.staff_id, func.count())
            .join(Customer, Customer.id == FollowRelation.customer_id)
            .where(
                FollowRelation.workspace_id == workspace_id,
                FollowRelation.staff_id.in_(set(staff_ids)),
                FollowRelation.status == ACTIVE,
                Customer.workspace_id == workspace_id,
                Customer.merged_into_id.is_(None),
            )
            .group_by(FollowRelation.staff_id)
        )
        return dict(rows.all())

    def staff_name(self, workspace_id: int, staff_id: int) -> str | None:
        return self.session.scalar(
            select(Staff.name).where(Staff.workspace_id == workspace_id, Staff.id == staff_id)
        )
