"""The segment rule tree: parsed from JSON into typed nodes, every error naming its JSON path.

A rule is {"all": [...]}, {"any": [...]}, {"not": node} or a condition with a "type".
The format is documented on the API (see schemas.RULE_DESCRIPTION).
"""

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

from siyu.customers.identities import IdentityKind
from siyu.exceptions import ValidationFailed
from siyu.segments.nodes import (
    CHANNELS,
    CHOICES_OPS,
    CLV_METRICS,
    COMPARE_OPS,
    CUSTOM_PREFIX,
    DATE_OPS,
    DATETIME_FIELDS,
    MAX_CONDITIONS,
    MAX_DAYS,
    MAX_DEPTH,
    MAX_IDS,
    NUMBER_FIELDS,
    NUMBER_OPS,
    RFM_CLASSES,
    TAG_SOURCES,
    TEXT_FIELDS,
    TEXT_OPS,
    AllOf,
    AnyOf,
    ClvCondition,
    Condition,
    EventCondition,
    FollowCondition,
    GroupCondition,
    IdentityCondition,
    Kind,
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

T = TypeVar("T")


def _fail(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(path, message)


def _obj(data: object, path: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise _fail(path, "must be an object: a group (all/any/not) or a condition with a type")
    return data


def _choice(data: Mapping[str, Any], key: str, path: str, allowed: Sequence[str]) -> str:
    value = data.get(key)
    if value not in allowed:
        raise _fail(f"{path}.{key}", f"must be one of: {', '.join(allowed)}")
    return str(value)


def _int(value: object, path: str, *, low: int = 0, high: int = 2**62) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(path, f"must be a whole number from {low} to {high}")
    return value


def _number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, "must be a number")
    return float(value)


def _days(data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> int | None:
    if data.get(key) is None:
        if required:
            raise _fail(f"{path}.{key}", "is required")
        return None
    return _int(data[key], f"{path}.{key}", low=1, high=MAX_DAYS)


def _list(
    data: Mapping[str, Any],
    key: str,
    path: str,
    item: Callable[[object, str], T],
    *,
    required: bool = False,
) -> tuple[T, ...]:
    raw = data.get(key)
    if raw is None:
        if required:
            raise _fail(f"{path}.{key}", "is required")
        return ()
    if not isinstance(raw, list) or (required and not raw) or len(raw) > MAX_IDS:
        raise _fail(f"{path}.{key}", f"must be a list of 1 to {MAX_IDS} values")
    return tuple(dict.fromkeys(item(v, f"{path}.{key}[{i}]") for i, v in enumerate(raw)))


def _id(value: object, path: str) -> int:
    return _int(value, path, low=1)


def _text(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise _fail(path, "must be non-empty text of at most 200 characters")
    return value.strip()


def _date(value: object, path: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _fail(path, "must be a date like 2026-01-31") from None


def _range(value: object, path: str, convert: Callable[[object, str], T]) -> tuple[T, T]:
    if not isinstance(value, list) or len(value) != 2:
        raise _fail(path, "must be a list of two values [low, high]")
    low, high = convert(value[0], f"{path}[0]"), convert(value[1], f"{path}[1]")
    if high < low:  # type: ignore[operator]
        raise _fail(path, "the low value must not exceed the high value")
    return low, high


def _compare(
    data: Mapping[str, Any], path: str, ops: Sequence[str], convert: Callable[[object, str], T]
) -> tuple[str, tuple[T, T]]:
    op = _choice(data, "op", path, ops)
    if op == "between":
        return op, _range(data.get("value"), f"{path}.value", convert)
    single = convert(data.get("value"), f"{path}.value")
    return op, (single, single)


# -- conditions -----------------------------------------------------------------------------


def _profile(data: Mapping[str, Any], path: str) -> ProfileCondition:
    field = data.get("field")
    kind: Kind
    if field in TEXT_FIELDS:
        kind = "text"
    elif field in NUMBER_FIELDS:
        kind = "number"
    elif field in DATETIME_FIELDS:
        kind = "datetime"
    elif field == "birthday":
        kind = "date"
    elif isinstance(field, str) and field.startswith(CUSTOM_PREFIX) and len(field) > 7:
        if not isinstance(data.get("op"), str):
            raise _fail(f"{path}.op", "is required")
        return ProfileCondition(field, "custom", str(data["op"]), data.get("value"))
    else:
        allowed = (*TEXT_FIELDS, *NUMBER_FIELDS, *DATETIME_FIELDS, "birthday", "custom.<key>")
        raise _fail(f"{path}.field", f"must be one of: {', '.join(allowed)}")
    return _profile_value(str(field), kind, data, path)


def _profile_value(field: str, kind: Kind, data: Mapping[str, Any], path: str) -> ProfileCondition:
    ops = {
        "text": TEXT_OPS,
        "number": NUMBER_OPS,
        "datetime": DATE_OPS,
        "date": (*DATE_OPS, "birthday_within_days"),
        "choices": CHOICES_OPS,
        "custom": (),
    }[kind]
    op = _choice(data, "op", path, ops)
    where = f"{path}.value"
    raw = data.get("value")
    value: Any = None
    if op in ("is_set", "is_not_set"):
        value = None
    elif op in ("within_last_days", "more_than_days_ago", "birthday_within_days"):
        value = _int(raw, where, low=1 if op != "more_than_days_ago" else 0, high=MAX_DAYS)
    elif op in ("in", "not_in"):
        value = _list(data, "value", path, _text, required=True)
    elif kind == "number":
        value = _range(raw, where, _number) if op == "between" else _number(raw, where)
    elif kind in ("date", "datetime"):
        value = _range(raw, where, _date)
    else:
        value = _text(raw, where)
    return ProfileCondition(field, kind, op, value)


def _tag(data: Mapping[str, Any], path: str) -> TagCondition:
    op = _choice(data, "op", path, ("has_any", "has_all", "has_none"))
    tag_ids = _list(data, "tag_ids", path, _id, required=True)
    source = data.get("source")
    if source is not None:
        source = _choice(data, "source", path, TAG_SOURCES)
    return TagCondition(op, tag_ids, source)


def _identity(data: Mapping[str, Any], path: str) -> IdentityCondition:
    op = _choice(data, "op", path, ("has", "has_not"))
    return IdentityCondition(op, _choice(data, "kind", path, [k.value for k in IdentityKind]))


def _follow(data: Mapping[str, Any], path: str) -> FollowCondition:
    op = _choice(data, "op", path, ("has", "has_not"))
    status = "active"
    if data.get("status") is not None:
        status = _choice(data, "status", path, ("active", "lost", "any"))
    return FollowCondition(
        op,
        status,
        _list(data, "staff_ids", path, _id),
        _list(data, "department_ids", path, _id),
        _list(data, "states", path, _text),
        _list(data, "live_code_ids", path, _id),
        _days(data, "added_within_days", path),
    )


def _money_or_count(value: object, path: str) -> int:
    return _int(value, path)


def _orders(data: Mapping[str, Any], path: str) -> OrdersCondition:
    metric = _choice(data, "metric", path, ("count", "sum_paid", "avg_paid"))
    op, value = _compare(data, path, COMPARE_OPS, _money_or_count)
    return OrdersCondition(
        metric,
        op,
        value,
        _days(data, "within_days", path),
        _list(data, "platforms", path, _text),
        _list(data, "product_ids", path, _id),
        _list(data, "categories", path, _text),
    )


def _score(value: object, path: str) -> int:
    return _int(value, path, low=1, high=5)


def _rfm(data: Mapping[str, Any], path: str) -> RfmCondition:
    op = _choice(data, "op", path, ("class_in", *COMPARE_OPS))
    if op == "class_in":
        classes = _list(data, "classes", path, _classes, required=True)
        return RfmCondition(op, classes, None, (0, 0))
    score = _choice(data, "score", path, ("r", "f", "m"))
    _, value = _compare(data, path, COMPARE_OPS, _score)
    return RfmCondition(op, (), score, value)


def _classes(value: object, path: str) -> str:
    if value not in RFM_CLASSES:
        raise _fail(path, f"must be one of: {', '.join(RFM_CLASSES)}")
    return str(value)


def _clv(data: Mapping[str, Any], path: str) -> ClvCondition:
    metric = _choice(data, "metric", path, CLV_METRICS)
    op, value = _compare(data, path, ("gte", "lte", "between"), _number)
    return ClvCondition(metric, op, value)


def _property(value: object, path: str) -> PropertyFilter:
    data = _obj(value, path)
    name = _text(data.get("property"), f"{path}.property")
    op = _choice(data, "op", path, ("eq", "ne", "in", "contains", "gt", "gte", "lt", "lte"))
    raw = data.get("value")
    where = f"{path}.value"
    parsed: Any
    if op == "in":
        parsed = _list(data, "value", path, _scalar, required=True)
    elif op in ("gt", "gte", "lt", "lte"):
        parsed = _number(raw, where)
    else:
        parsed = _scalar(raw, where)
    return PropertyFilter(name, op, parsed)


def _scalar(value: object, path: str) -> str | float | bool:
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str) and len(value) <= 200:
        return value
    raise _fail(path, "must be text (at most 200 characters), a number or true/false")


def _event(data: Mapping[str, Any], path: str) -> EventCondition:
    event_type = _text(data.get("event_type"), f"{path}.event_type")
    op = _choice(data, "op", path, ("did", "did_not", "at_least", "at_most"))
    count = 1
    if op in ("at_least", "at_most"):
        count = _int(data.get("count"), f"{path}.count", low=0 if op == "at_most" else 1)
    return EventCondition(
        event_type,
        op,
        count,
        _days(data, "within_days", path),
        _list(data, "where", path, _property),
    )


def _stage(data: Mapping[str, Any], path: str) -> StageCondition:
    op = _choice(data, "op", path, ("in", "not_in"))
    return StageCondition(op, _list(data, "stages", path, _text, required=True))


def _group(data: Mapping[str, Any], path: str) -> GroupCondition:
    op = _choice(data, "op", path, ("in_any", "in_none"))
    return GroupCondition(op, _list(data, "group_ids", path, _id))


def _segment(data: Mapping[str, Any], path: str) -> SegmentCondition:
    op = _choice(data, "op", path, ("in", "not_in"))
    return SegmentCondition(op, _id(data.get("segment_id"), f"{path}.segment_id"))


def _subscription(data: Mapping[str, Any], path: str) -> SubscriptionCondition:
    op = _choice(data, "op", path, ("opted_out", "not_opted_out"))
    return SubscriptionCondition(op, _choice(data, "channel", path, CHANNELS))


_CONDITIONS: dict[str, Callable[[Mapping[str, Any], str], Condition]] = {
    "profile": _profile,
    "tag": _tag,
    "identity": _identity,
    "follow": _follow,
    "orders": _orders,
    "rfm": _rfm,
    "clv": _clv,
    "event": _event,
    "stage": _stage,
    "group": _group,
    "segment": _segment,
    "subscription": _subscription,
}
CONDITION_TYPES = tuple(_CONDITIONS)


class _Parser:
    def __init__(self) -> None:
        self.conditions = 0

    def node(self, data: object, path: str, depth: int) -> RuleNode:
        if depth > MAX_DEPTH:
            raise _fail(path, f"groups may nest at most {MAX_DEPTH} levels deep")
        obj = _obj(data, path)
        groups = [key for key in ("all", "any", "not") if key in obj]
        if (groups and "type" in obj) or len(groups) > 1:
            raise _fail(path, "a node is either one group (all, any or not) or a condition")
        if groups == ["not"]:
            return Not(self.node(obj["not"], f"{path}.not", depth + 1))
        if groups:
            key = groups[0]
            children = obj[key]
            if not isinstance(children, list) or not children:
                raise _fail(f"{path}.{key}", "must be a non-empty list of nodes")
            parsed = tuple(
                self.node(child, f"{path}.{key}[{i}]", depth + 1)
                for i, child in enumerate(children)
            )
            return AllOf(parsed) if key == "all" else AnyOf(parsed)
        kind = obj.get("type")
        if kind not in _CONDITIONS:
            raise _fail(f"{path}.type", f"must be one of: {', '.join(CONDITION_TYPES)}")
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise _fail(path, f"a rule may hold at most {MAX_CONDITIONS} conditions")
        return _CONDITIONS[str(kind)](obj, path)


def parse_rule(data: object, *, field: str = "rule") -> RuleNode:
    """The typed rule tree; ValidationFailed names the JSON path of the first bad node."""
    return _Parser().node(data, field, 1)


def walk(node: RuleNode) -> list[Condition]:
    """Every condition of the tree, depth first."""
    if isinstance(node, AllOf | AnyOf):
        return [c for child in node.children for c in walk(child)]
    if isinstance(node, Not):
        return walk(node.child)
    return [node]


def referenced_segments(node: RuleNode) -> set[int]:
    return {c.segment_id for c in walk(node) if isinstance(c, SegmentCondition)}


def with_custom_kind(condition: ProfileCondition, field_type: str, path: str) -> ProfileCondition:
    """Read a custom-field condition's operator and value for the field's type."""
    kinds: dict[str, Kind] = {"number": "number", "date": "date", "multi_choice": "choices"}
    raw = {"op": condition.op, "value": condition.value}
    return _profile_value(condition.field, kinds.get(field_type, "text"), raw, path)
