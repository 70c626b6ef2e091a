"""Compile a rule tree into one SQL query of customer ids (SQLAlchemy Core, both dialects).

Every condition becomes the set of customer ids it holds for, read from the narrowest
indexed table (tag assignments, feature rows, event counters…); groups become set algebra:
all → INTERSECT, any → UNION, not → EXCEPT. A negative condition ("has none of these
tags", "not opted out") stays a complement as long as it can: inside "all" it is EXCEPTed
from the positive conditions, so the customer table is only scanned where a condition is
about the profile itself or nothing positive is left to subtract from. Merged customers
are taken out once at the end (they are few), instead of every id being looked up.

Evaluated for a few customers (the changed ones), every table read is scoped to them, so
the cost follows their number, not the workspace's.

Relative windows are calendar days in the workspace's time zone: "within the last 30
days" is today and the 29 days before it, from local midnight.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Float,
    Select,
    String,
    any_,
    bindparam,
    case,
    cast,
    except_,
    func,
    intersect,
    literal,
    or_,
    select,
    union,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import QueryableAttribute

from siyu.commerce.repository import COUNTED_STATUSES, PAID_STATUSES
from siyu.db.bulk import listed
from siyu.events import counters
from siyu.models import (
    Customer,
    CustomerFeature,
    CustomerGroupMember,
    CustomerTag,
    Department,
    Event,
    EventCounter,
    FollowRelation,
    Identity,
    LiveCode,
    OptOut,
    Order,
    OrderItem,
    Product,
    SegmentMember,
    Staff,
)
from siyu.segments.context import CompileContext
from siyu.segments.nodes import (
    AllOf,
    AnyOf,
    ClvCondition,
    Condition,
    EventCondition,
    FollowCondition,
    GroupCondition,
    IdentityCondition,
    Not,
    OrdersCondition,
    ProfileCondition,
    PropertyFilter,
    RfmCondition,
    RuleNode,
    SegmentCondition,
    StageCondition,
    SubscriptionCondition,
    TagCondition,
)
from siyu.segments.profile_sql import profile_column, profile_predicate

LOST_STATUSES = ("deleted_by_customer", "deleted_by_staff")
FEATURE_WINDOWS = {30: "30d", 90: "90d", 365: "365d"}
# A query of customer ids: one SELECT or a compound (INTERSECT/UNION/EXCEPT) of them.
IdSet = Select[Any] | CompoundSelect[Any]
# Conditions that hold for most customers (a WeCom friend, has a mobile, in a group).
BROAD = (FollowCondition, IdentityCondition, GroupCondition)


@dataclass(frozen=True)
class _Complement:
    """The live customers NOT in `ids` (kept unevaluated so "all" can EXCEPT it)."""

    ids: IdSet


@dataclass(frozen=True)
class _Rows:
    """The customers whose row in a table with one row per customer (customer,
    customer_feature) matches every predicate: conditions on the same such table inside
    "all" become one filter instead of an INTERSECT of scans."""

    table: str
    base: Select[Any]
    predicates: tuple[ColumnElement[bool], ...] = ()

    def also(self, *predicates: ColumnElement[bool]) -> "_Rows":
        return _Rows(self.table, self.base, self.predicates + predicates)

    def select(self) -> Select[Any]:
        return self.base.where(*self.predicates)


Answer = IdSet | _Rows | _Complement
_Column = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True)
class _Scope:
    ctx: CompileContext
    # Evaluate for these customers only, or for everyone: their ids as a CTE on SQLite, as
    # one array parameter on PostgreSQL, whose `= ANY` walks an index in the ids' order
    # (a semi-join to their rows hashes them and looks each up at random).
    only: Any = None

    @property
    def workspace_id(self) -> int:
        return self.ctx.workspace_id

    def narrow(self, stmt: Select[Any], customer_id: _Column) -> Select[Any]:
        if self.only is None:
            return stmt
        if isinstance(self.only, BindParameter):
            return stmt.where(customer_id == any_(self.only))
        return stmt.where(customer_id.in_(select(self.only.c.value)))


# -- entry points ---------------------------------------------------------------------------


def compile_rule(
    node: RuleNode, ctx: CompileContext, only: Sequence[int] | None = None
) -> Select[Any]:
    """The ids (column `id`) of the live customers the rule holds for, each once; with
    `only`, of those among these customers."""
    if only is not None:
        ids = sorted(set(only))
        listing = (
            bindparam(None, ids, type_=postgresql.ARRAY(BigInteger()))
            if ctx.dialect == "postgresql"
            else listed(ids).cte("scope")
        )
        scope = _Scope(ctx, listing)
        answer = _materialize(_compile(node, scope), scope)
        live = select(Customer.id).where(
            Customer.workspace_id == ctx.workspace_id, Customer.merged_into_id.is_(None)
        )
        return scope.narrow(live, Customer.id).where(Customer.id.in_(answer))
    scope = _Scope(ctx)
    # "> 0" rather than IS NOT NULL: SQLite's planner reads a range from the index but
    # scans the whole table for IS NOT NULL.
    merged = select(Customer.id).where(
        Customer.workspace_id == ctx.workspace_id, Customer.merged_into_id > 0
    )
    found = except_(_materialize(_compile(node, scope), scope), merged).subquery()
    return select(next(iter(found.c)).label("id"))


def count_query(node: RuleNode, ctx: CompileContext) -> Select[Any]:
    return select(func.count()).select_from(compile_rule(node, ctx).subquery())


def excluded(node: RuleNode, ctx: CompileContext) -> IdSet | None:
    """For a node that holds for every customer except a set ("not opted out", "has none
    of these tags"), that set, merged customers possibly among it; else None."""
    answer = _compile(node, _Scope(ctx))
    return answer.ids if isinstance(answer, _Complement) else None


def row_table(node: RuleNode, ctx: CompileContext) -> str | None:
    """For a condition on a table with one row per customer (customer, customer_feature),
    the table's name; else None."""
    answer = _compile(node, _Scope(ctx))
    return answer.table if isinstance(answer, _Rows) else None


def _everyone(scope: _Scope) -> Select[Any]:
    """The workspace's customers, merged ones included: inside a rule they need not be
    told apart, as both entry points leave merged customers out of the answer once; a
    filter on the customer table can then be answered from an index alone."""
    return scope.narrow(
        select(Customer.id).where(Customer.workspace_id == scope.workspace_id), Customer.id
    )


def _customers(scope: _Scope, *predicates: ColumnElement[bool]) -> _Rows:
    return _Rows("customer", _everyone(scope), predicates)


def _features(scope: _Scope, *predicates: ColumnElement[bool]) -> _Rows:
    rows = select(CustomerFeature.customer_id).where(
        CustomerFeature.workspace_id == scope.workspace_id
    )
    return _Rows("customer_feature", scope.narrow(rows, CustomerFeature.customer_id), predicates)


# -- set algebra ------------------------------------------------------------------------------


def _compile(node: RuleNode, scope: _Scope) -> Answer:
    if isinstance(node, AllOf):
        return _all(node.children, scope)
    if isinstance(node, AnyOf):
        branches = (_materialize(_compile(child, scope), scope) for child in node.children)
        return union(*branches).subquery().select()
    if isinstance(node, Not):
        return _negate(_compile(node.child, scope))
    return _condition(node, scope)


def _all(children: tuple[RuleNode, ...], scope: _Scope) -> Answer:
    answers = [_compile(child, scope) for child in children]
    rows: dict[str, _Rows] = {}
    for answer in answers:
        if isinstance(answer, _Rows):
            same = rows.get(answer.table)
            rows[answer.table] = same.also(*answer.predicates) if same else answer
    # Conditions most customers meet are checked for the few the others left (probes by
    # customer) instead of being read in full, unless the rule is for a few customers anyway.
    probing = scope.only is None
    positive: list[IdSet] = []
    broad: list[Select[Any]] = []
    if probing and any(_stored_list(child) for child in children):
        # A stored segment is usually far smaller than the workspace: its members' profile
        # and feature rows are read by key instead of every customer's being filtered.
        broad += [r.select() for r in rows.values()]
    else:
        positive += [r.select() for r in rows.values()]
    for child, answer in zip(children, answers, strict=True):
        if isinstance(answer, _Rows | _Complement):
            continue
        if probing and isinstance(child, BROAD) and isinstance(answer, Select):
            broad.append(answer)
        else:
            positive.append(answer)
    negative = [a.ids for a in answers if isinstance(a, _Complement)]
    if not positive and broad:
        positive.append(broad.pop(0))
    if not positive:
        return _Complement(union(*negative).subquery().select()) if negative else _everyone(scope)
    base = positive[0] if len(positive) == 1 else intersect(*positive).subquery().select()
    if broad:
        found = base.subquery()
        kept = next(iter(found.c))
        base = select(kept).where(
            *(ids.where(ids.selected_columns[0] == kept).exists() for ids in broad)
        )
    if not negative:
        return base
    return except_(base, *negative).subquery().select()


def _stored_list(node: RuleNode) -> bool:
    return isinstance(node, SegmentCondition) and node.op == "in"


def _in(column: _Column, ids: IdSet) -> ColumnElement[bool]:
    found = ids.subquery()
    return column.in_(select(next(iter(found.c))))


def _negate(answer: Answer) -> Answer:
    if isinstance(answer, _Complement):
        return answer.ids
    return _Complement(answer.select() if isinstance(answer, _Rows) else answer)


def _materialize(answer: Answer, scope: _Scope) -> IdSet:
    if isinstance(answer, _Complement):
        return except_(_everyone(scope), answer.ids).subquery().select()
    if isinstance(answer, _Rows):
        return answer.select()
    return answer


def _holds(positive: IdSet, *, negate: bool) -> Answer:
    return _Complement(positive) if negate else positive


def _compare(column: ColumnElement[Any], op: str, value: tuple[Any, Any]) -> ColumnElement[bool]:
    low, high = value
    if op == "between":
        return column.between(low, high)
    return {  # type: ignore[no-any-return]
        "eq": column == low,
        "gte": column >= low,
        "lte": column <= low,
    }[op]


def _zero_holds(op: str, value: tuple[float, float]) -> bool:
    """Whether a customer with nothing (count 0, sum 0) satisfies the comparison."""
    low, high = value
    return {
        "eq": low == 0,
        "gte": low <= 0,
        "lte": low >= 0,
        "between": low <= 0 <= high,
    }[op]


def _negated_compare(column: ColumnElement[Any], op: str, value: tuple[Any, Any]) -> Any:
    return ~_compare(column, op, value)


# -- conditions -------------------------------------------------------------------------------


def _condition(condition: Condition, scope: _Scope) -> Answer:
    compiler: Callable[[Any, _Scope], Answer] = _COMPILERS[type(condition)]
    return compiler(condition, scope)


def _identity(condition: IdentityCondition, scope: _Scope) -> Answer:
    ids = select(Identity.customer_id).where(
        Identity.workspace_id == scope.workspace_id, Identity.kind == condition.kind
    )
    return _holds(scope.narrow(ids, Identity.customer_id), negate=condition.op == "has_not")


def _clv(condition: ClvCondition, scope: _Scope) -> Answer:
    column = getattr(CustomerFeature, condition.metric)
    return _features(scope, _compare(column, condition.op, condition.value))


def _stage(condition: StageCondition, scope: _Scope) -> Answer:
    stage = Customer.lifecycle_stage.in_(condition.stages)
    return _customers(scope, stage if condition.op == "in" else ~stage)


def _group(condition: GroupCondition, scope: _Scope) -> Answer:
    members = select(CustomerGroupMember.customer_id).where(
        CustomerGroupMember.workspace_id == scope.workspace_id,
        CustomerGroupMember.customer_id.is_not(None),
        CustomerGroupMember.status == "active",
    )
    if condition.group_ids:
        members = members.where(CustomerGroupMember.group_id.in_(condition.group_ids))
    members = scope.narrow(members, CustomerGroupMember.customer_id)
    return _holds(members, negate=condition.op == "in_none")


def _segment(condition: SegmentCondition, scope: _Scope) -> Answer:
    members = select(SegmentMember.customer_id).where(
        SegmentMember.workspace_id == scope.workspace_id,
        SegmentMember.segment_id == condition.segment_id,
    )
    members = scope.narrow(members, SegmentMember.customer_id)
    return _holds(members, negate=condition.op == "not_in")


def _subscription(condition: SubscriptionCondition, scope: _Scope) -> Answer:
    opted = select(OptOut.customer_id).where(OptOut.workspace_id == scope.workspace_id)
    if condition.channel != "any":
        opted = opted.where(OptOut.channel.in_((condition.channel, "all")))
    opted = scope.narrow(opted, OptOut.customer_id)
    return _holds(opted, negate=condition.op == "not_opted_out")


# profile ---------------------------------------------------------------------------------


def _profile(condition: ProfileCondition, scope: _Scope) -> Answer:
    if condition.kind == "custom":
        msg = f"unresolved custom field {condition.field}: call resolve_rule first"
        raise ValueError(msg)
    column = profile_column(condition)
    return _customers(scope, profile_predicate(condition, column, scope.ctx))


# tags ------------------------------------------------------------------------------------


def _tag(condition: TagCondition, scope: _Scope) -> Answer:
    def carrying(tag_ids: tuple[int, ...]) -> Select[Any]:
        stmt = select(CustomerTag.customer_id).where(
            CustomerTag.workspace_id == scope.workspace_id, CustomerTag.tag_id.in_(tag_ids)
        )
        if condition.source is not None:
            stmt = stmt.where(CustomerTag.source == condition.source)
        return scope.narrow(stmt, CustomerTag.customer_id)

    if condition.op == "has_all" and len(condition.tag_ids) > 1:
        # One index range per tag, each ordered by customer: semi-joins can merge them.
        first, *rest = condition.tag_ids
        return carrying((first,)).where(
            *(_in(CustomerTag.customer_id, carrying((t,))) for t in rest)
        )
    return _holds(carrying(condition.tag_ids), negate=condition.op == "has_none")


# follow relations -------------------------------------------------------------------------


def _follow(condition: FollowCondition, scope: _Scope) -> Answer:
    ctx = scope.ctx
    stmt = select(FollowRelation.customer_id).where(FollowRelation.workspace_id == ctx.workspace_id)
    if condition.status == "active":
        stmt = stmt.where(FollowRelation.status == "active")
    elif condition.status == "lost":
        stmt = stmt.where(FollowRelation.status.in_(LOST_STATUSES))
    if condition.staff_ids:
        stmt = stmt.where(FollowRelation.staff_id.in_(condition.staff_ids))
    if condition.department_ids:
        tree = (
            select(Department.id)
            .where(
                Department.workspace_id == ctx.workspace_id,
                Department.id.in_(condition.department_ids),
            )
            .cte("department_tree", recursive=True)
        )
        tree = tree.union_all(select(Department.id).where(Department.parent_id == tree.c.id))
        staff = select(Staff.id).where(
            Staff.workspace_id == ctx.workspace_id, Staff.department_id.in_(select(tree.c.id))
        )
        stmt = stmt.where(FollowRelation.staff_id.in_(staff))
    states: list[ColumnElement[bool]] = []
    if condition.states:
        states.append(FollowRelation.state.in_(condition.states))
    if condition.live_code_ids:
        codes = select(LiveCode.state).where(
            LiveCode.workspace_id == ctx.workspace_id, LiveCode.id.in_(condition.live_code_ids)
        )
        states.append(FollowRelation.state.in_(codes))
    if states:
        stmt = stmt.where(or_(*states))
    if condition.added_within_days is not None:
        stmt = stmt.where(FollowRelation.added_at >= ctx.window_start(condition.added_within_days))
    stmt = scope.narrow(stmt, FollowRelation.customer_id)
    return _holds(stmt, negate=condition.op == "has_not")


# orders ----------------------------------------------------------------------------------


def _orders(condition: OrdersCondition, scope: _Scope) -> Answer:
    value = (float(condition.value[0]), float(condition.value[1]))
    # A customer without orders has count 0 and sum 0, but no average.
    zero_holds = condition.metric != "avg_paid" and _zero_holds(condition.op, value)
    filtered = condition.platforms or condition.product_ids or condition.categories
    metric = _order_metric_from_stats(condition, scope) if not filtered else None
    if metric is not None:
        table_ids, column = metric
        if zero_holds:
            failing = table_ids.also(_negated_compare(column, condition.op, condition.value))
            return _Complement(failing.select())
        return table_ids.also(_compare(column, condition.op, condition.value))
    aggregate = _order_aggregate(condition, scope)
    if zero_holds:
        return _Complement(
            aggregate.having(
                _negated_compare(_order_measure(condition), condition.op, condition.value)
            )
        )
    return aggregate.having(_compare(_order_measure(condition), condition.op, condition.value))


def _order_metric_from_stats(condition: OrdersCondition, scope: _Scope) -> tuple[_Rows, Any] | None:
    """Kept per-customer stats answer unfiltered counts and sums without reading orders."""
    if condition.within_days is None:
        count, paid = Customer.order_count, Customer.total_paid_fen
        ids = _customers(scope)
    elif condition.within_days in FEATURE_WINDOWS:
        suffix = FEATURE_WINDOWS[condition.within_days]
        count = getattr(CustomerFeature, f"orders_{suffix}")
        paid = getattr(CustomerFeature, f"paid_{suffix}_fen")
        ids = _features(scope)
    else:
        return None
    if condition.metric == "count":
        return ids, count
    if condition.metric == "sum_paid":
        return ids, paid
    return ids.also(count > 0), cast(paid, Float) / count


def _order_aggregate(condition: OrdersCondition, scope: _Scope) -> Select[Any]:
    ctx = scope.ctx
    stmt = select(Order.customer_id).where(
        Order.workspace_id == ctx.workspace_id,
        Order.customer_id.is_not(None),
        Order.status.in_(PAID_STATUSES),
    )
    if condition.within_days is not None:
        stmt = stmt.where(Order.ordered_at >= ctx.window_start(condition.within_days))
    if condition.platforms:
        stmt = stmt.where(Order.platform.in_(condition.platforms))
    if condition.product_ids or condition.categories:
        items = select(OrderItem.order_id).where(OrderItem.workspace_id == ctx.workspace_id)
        if condition.product_ids:
            items = items.where(OrderItem.product_id.in_(condition.product_ids))
        if condition.categories:
            products = select(Product.id).where(
                Product.workspace_id == ctx.workspace_id,
                Product.category.in_(condition.categories),
            )
            items = items.where(OrderItem.product_id.in_(products))
        stmt = stmt.where(Order.id.in_(items))
    return scope.narrow(stmt, Order.customer_id).group_by(Order.customer_id)


def _order_measure(condition: OrdersCondition) -> ColumnElement[Any]:
    count = func.sum(case((Order.status.in_(COUNTED_STATUSES), 1), else_=0))
    paid = func.sum(Order.paid_fen - Order.refunded_fen)
    if condition.metric == "count":
        return count
    if condition.metric == "sum_paid":
        return paid
    return cast(paid, Float) / func.nullif(count, 0)


# RFM ---------------------------------------------------------------------------------------


def _rfm(condition: RfmCondition, scope: _Scope) -> Answer:
    if condition.op == "class_in":
        return _features(scope, CustomerFeature.rfm_class.in_(condition.classes))
    column = getattr(CustomerFeature, f"rfm_{condition.score}")
    return _features(scope, _compare(column, condition.op, condition.value))


# events ------------------------------------------------------------------------------------


def counter_rows(
    condition: EventCondition, ctx: CompileContext
) -> tuple[Select[int, int], int] | None:
    """For "did / did at least N times" answered by the daily counters: their rows in the
    window (customer_id, count), each customer's counts to be summed and held against the
    threshold returned with them; None for other event conditions."""
    dimension = _counter_dimension(condition, ctx)
    if dimension is None or condition.op not in ("did", "at_least"):
        return None
    rows = select(EventCounter.customer_id, EventCounter.count).where(
        EventCounter.workspace_id == ctx.workspace_id,
        EventCounter.event_type == condition.event_type,
        EventCounter.dimension == dimension,
    )
    if condition.within_days is not None:
        rows = rows.where(EventCounter.day >= ctx.today - timedelta(days=condition.within_days - 1))
    return rows, condition.count if condition.op == "at_least" else 1


def _event(condition: EventCondition, scope: _Scope) -> Answer:
    ctx = scope.ctx
    threshold = {
        "did": 1,
        "did_not": 1,
        "at_least": condition.count,
        "at_most": condition.count + 1,
    }[condition.op]
    negate = condition.op in ("did_not", "at_most")
    counters = _counter_dimension(condition, ctx)
    if counters is not None:
        stmt = select(EventCounter.customer_id).where(
            EventCounter.workspace_id == ctx.workspace_id,
            EventCounter.event_type == condition.event_type,
            EventCounter.dimension == counters,
        )
        if condition.within_days is not None:
            first = ctx.today - timedelta(days=condition.within_days - 1)
            stmt = stmt.where(EventCounter.day >= first)
        stmt = scope.narrow(stmt, EventCounter.customer_id).group_by(EventCounter.customer_id)
        if threshold > 1:
            stmt = stmt.having(func.sum(EventCounter.count) >= threshold)
        return _holds(stmt, negate=negate)
    raw = select(Event.customer_id).where(
        Event.workspace_id == ctx.workspace_id, Event.event_type == condition.event_type
    )
    if condition.within_days is not None:
        raw = raw.where(Event.occurred_at >= ctx.window_start(condition.within_days))
    for where in condition.where:
        raw = raw.where(_property_predicate(where))
    raw = scope.narrow(raw, Event.customer_id).group_by(Event.customer_id)
    if threshold > 1:
        raw = raw.having(func.count() >= threshold)
    return _holds(raw, negate=negate)


def _counter_dimension(condition: EventCondition, ctx: CompileContext) -> str | None:
    """The counter dimension that answers the condition, if one does."""
    if not condition.where:
        return ""
    if len(condition.where) != 1:
        return None
    only = condition.where[0]
    counted = ctx.counted.get(condition.event_type, frozenset())
    if only.op != "eq" or only.property not in counted:
        return None
    return counters.dimension(only.property, only.value)


def _property_predicate(where: PropertyFilter) -> ColumnElement[bool]:
    element = Event.properties[where.property]
    value = where.value
    if where.op in ("gt", "gte", "lt", "lte"):
        number = element.as_float()
        return {  # type: ignore[no-any-return]
            "gt": number > value,
            "gte": number >= value,
            "lt": number < value,
            "lte": number <= value,
        }[where.op]
    if where.op == "in":
        return or_(*(_equals(element, v) for v in value))
    if where.op == "contains":
        return element.as_string().contains(str(value), autoescape=True)  # type: ignore[no-any-return]
    if where.op == "ne":
        return ~_equals(element, value)
    return _equals(element, value)


def _equals(element: Any, value: object) -> ColumnElement[bool]:
    if isinstance(value, bool):
        return element.as_boolean() == value  # type: ignore[no-any-return]
    if isinstance(value, int | float):
        return element.as_float() == float(value)  # type: ignore[no-any-return]
    return element.as_string() == cast(literal(value), String)  # type: ignore[no-any-return]


_COMPILERS: dict[type, Callable[[Any, _Scope], Answer]] = {
    ProfileCondition: _profile,
    TagCondition: _tag,
    IdentityCondition: _identity,
    FollowCondition: _follow,
    OrdersCondition: _orders,
    RfmCondition: _rfm,
    ClvCondition: _clv,
    EventCondition: _event,
    StageCondition: _stage,
    GroupCondition: _group,
    SegmentCondition: _segment,
    SubscriptionCondition: _subscription,
}
