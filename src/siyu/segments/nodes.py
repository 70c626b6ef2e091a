"""The typed rule tree: groups (all / any / not) and the condition kinds, with their limits."""

from dataclasses import dataclass
from typing import Any, Literal

MAX_DEPTH = 6
MAX_CONDITIONS = 100
MAX_IDS = 1000
MAX_DAYS = 3660

TEXT_FIELDS = (
    "name",
    "gender",
    "mobile",
    "email",
    "province",
    "city",
    "lifecycle_stage",
    "source",
    "remark",
)
NUMBER_FIELDS = ("order_count", "total_paid_fen")
DATETIME_FIELDS = ("created_at", "last_active_at", "first_order_at", "last_order_at")
TEXT_OPS = ("eq", "ne", "in", "not_in", "contains", "starts_with", "is_set", "is_not_set")
NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "between", "is_set", "is_not_set")
DATE_OPS = ("within_last_days", "more_than_days_ago", "between", "is_set", "is_not_set")
CHOICES_OPS = ("contains", "is_set", "is_not_set")
CUSTOM_PREFIX = "custom."
TAG_SOURCES = ("manual", "import", "rule", "wecom")
RFM_CLASSES = (
    "important_value",
    "important_develop",
    "important_keep",
    "important_retain",
    "general_value",
    "general_develop",
    "general_keep",
    "general_retain",
)
CLV_METRICS = (
    "p_alive",
    "predicted_value_fen",
    "expected_purchases_90d",
    "expected_purchases_180d",
    "expected_purchases_365d",
)
COMPARE_OPS = ("eq", "gte", "lte", "between")
CHANNELS = ("wecom", "sms", "email", "any")

# "custom": a custom field whose type only the workspace knows; resolve_rule settles it.
Kind = Literal["text", "number", "date", "datetime", "choices", "custom"]


@dataclass(frozen=True)
class ProfileCondition:
    field: str
    kind: Kind
    op: str
    value: Any


@dataclass(frozen=True)
class TagCondition:
    op: str
    tag_ids: tuple[int, ...]
    source: str | None


@dataclass(frozen=True)
class IdentityCondition:
    op: str
    kind: str


@dataclass(frozen=True)
class FollowCondition:
    op: str
    status: str
    staff_ids: tuple[int, ...]
    department_ids: tuple[int, ...]
    states: tuple[str, ...]
    live_code_ids: tuple[int, ...]
    added_within_days: int | None


@dataclass(frozen=True)
class OrdersCondition:
    metric: str
    op: str
    value: tuple[int, int]
    within_days: int | None
    platforms: tuple[str, ...]
    product_ids: tuple[int, ...]
    categories: tuple[str, ...]


@dataclass(frozen=True)
class RfmCondition:
    op: str
    classes: tuple[str, ...]
    score: str | None
    value: tuple[int, int]


@dataclass(frozen=True)
class ClvCondition:
    metric: str
    op: str
    value: tuple[float, float]


@dataclass(frozen=True)
class PropertyFilter:
    property: str
    op: str
    value: Any


@dataclass(frozen=True)
class EventCondition:
    event_type: str
    op: str
    count: int
    within_days: int | None
    where: tuple[PropertyFilter, ...]


@dataclass(frozen=True)
class StageCondition:
    op: str
    stages: tuple[str, ...]


@dataclass(frozen=True)
class GroupCondition:
    op: str
    group_ids: tuple[int, ...]


@dataclass(frozen=True)
class SegmentCondition:
    op: str
    segment_id: int


@dataclass(frozen=True)
class SubscriptionCondition:
    op: str
    channel: str


Condition = (
    ProfileCondition
    | TagCondition
    | IdentityCondition
    | FollowCondition
    | OrdersCondition
    | RfmCondition
    | ClvCondition
    | EventCondition
    | StageCondition
    | GroupCondition
    | SegmentCondition
    | SubscriptionCondition
)


@dataclass(frozen=True)
class AllOf:
    children: tuple["RuleNode", ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple["RuleNode", ...]


@dataclass(frozen=True)
class Not:
    child: "RuleNode"


RuleNode = AllOf | AnyOf | Not | Condition
