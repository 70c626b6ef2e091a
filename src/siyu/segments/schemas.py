from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from siyu.customers.schemas import CustomerListItem

RULE_DESCRIPTION = """A rule tree. Groups: {"all": [...]}, {"any": [...]}, {"not": node}.
Conditions carry a "type": profile, tag, identity, follow, orders, rfm, clv, event, stage,
group, segment, subscription (see the segments guide for each one's fields and operators).
Relative windows count calendar days in the workspace time zone, today included. Errors
name the JSON path of the bad node, e.g. rule.all[2].op."""


class SegmentIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    kind: Literal["dynamic", "static"] = "dynamic"
    rule: dict[str, Any] | None = Field(default=None, description=RULE_DESCRIPTION)


class SegmentUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    rule: dict[str, Any] | None = Field(default=None, description=RULE_DESCRIPTION)


class SizePoint(BaseModel):
    day: date
    member_count: int


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    kind: str
    rule: dict[str, Any] | None
    depends_on: list[int]
    status: str
    member_count: int
    built_at: datetime | None
    build_ms: int | None
    last_error: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    size_trend: list[SizePoint] = []


class PreviewIn(BaseModel):
    rule: dict[str, Any] = Field(description=RULE_DESCRIPTION)
    sample_size: int = Field(default=0, ge=0, le=20, description="also list this many matches")


class PreviewOut(BaseModel):
    count: int
    took_ms: int
    sample: list[CustomerListItem] = []


class ChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    change: str
    changed_at: datetime


class SnapshotIn(BaseModel):
    purpose: str | None = Field(default=None, max_length=200)


class SnapshotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    segment_id: int | None
    segment_name: str
    rule: dict[str, Any] | None
    member_count: int
    taken_at: datetime
    taken_by: str | None
    purpose: str | None


class MembersIn(BaseModel):
    customer_ids: list[int] = Field(min_length=1, max_length=10_000)


class MembersOut(BaseModel):
    added: int = 0
    removed: int = 0
    member_count: int


class ListRowOut(BaseModel):
    row: int
    value: str
    status: Literal["matched", "unknown", "invalid"]
    customer_id: int | None = None
    reason: str | None = None


class ListUploadOut(BaseModel):
    """Per-row report of a static list upload; matched rows are added, nothing else is."""

    matched: int
    unknown: int
    invalid: int
    added: int
    member_count: int
    rows: list[ListRowOut]
