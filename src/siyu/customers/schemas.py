"""Request and response models of the customers domain."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from siyu.customers.custom_fields import FieldType
from siyu.tags.schemas import CustomerTagOut


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"
    UNKNOWN = "unknown"


class FollowStatus(StrEnum):
    ACTIVE = "active"
    DELETED_BY_CUSTOMER = "deleted_by_customer"
    DELETED_BY_STAFF = "deleted_by_staff"
    TRANSFERRED = "transferred"


class ProfileChanges(BaseModel):
    """Profile fields to change; only the fields sent change, null clears one."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=100)
    gender: Gender | None = None
    birthday: date | None = None
    mobile: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=320)
    province: str | None = Field(default=None, max_length=32)
    city: str | None = Field(default=None, max_length=32)
    avatar_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://")
    lifecycle_stage: str | None = Field(default=None, min_length=1, max_length=32)
    source: str | None = Field(default=None, max_length=64)
    remark: str | None = Field(default=None, max_length=500)
    custom_fields: dict[str, Any] | None = Field(
        default=None, description="{key: value}; null removes a value"
    )


class IdentityIn(BaseModel):
    kind: str = Field(max_length=40)
    value: str = Field(max_length=200)


class CustomerCreate(ProfileChanges):
    identities: list[IdentityIn] = Field(default_factory=list, max_length=50)


class IdentityOut(BaseModel):
    kind: str
    value: str
    source: str | None = None


class CustomerListItem(BaseModel):
    id: int
    name: str | None
    gender: str | None
    mobile: str | None
    email: str | None
    avatar_url: str | None
    province: str | None
    city: str | None
    lifecycle_stage: str
    source: str | None
    remark: str | None
    order_count: int
    total_paid_fen: int
    last_order_at: datetime | None
    last_active_at: datetime | None
    created_at: datetime


class CustomerOut(CustomerListItem):
    birthday: date | None
    custom_fields: dict[str, Any]
    updated_at: datetime


class CustomerCreated(BaseModel):
    customer: CustomerOut
    created: bool = Field(description="false when the identities matched an existing customer")
    merged_customer_ids: list[int] = Field(default_factory=list)


class CustomFieldValue(BaseModel):
    key: str
    label: str
    field_type: FieldType
    value: Any


class FollowRelationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    staff_id: int
    staff_name: str | None = None
    remark: str | None
    description: str | None
    added_at: datetime
    add_way: str | None
    state: str | None
    status: str


class CustomerStats(BaseModel):
    order_count: int
    total_paid_fen: int
    aov_fen: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    last_active_at: datetime | None


class MergeOut(BaseModel):
    id: int
    survivor_id: int
    merged_id: int
    reason: str
    actor: str | None
    created_at: datetime
    undone_at: datetime | None


class Customer360(BaseModel):
    profile: CustomerOut
    custom_fields: list[CustomFieldValue]
    identities: list[IdentityOut]
    follow_relations: list[FollowRelationOut]
    tags: list[CustomerTagOut]
    stats: CustomerStats
    merge_history: list[MergeOut]


class TimelineEntryOut(BaseModel):
    kind: str
    id: int
    occurred_at: datetime
    title: str
    data: dict[str, Any]


class TimelinePage(BaseModel):
    items: list[TimelineEntryOut]
    next_cursor: str | None = None


class CustomFieldCreate(BaseModel):
    key: str = Field(max_length=64)
    label: str = Field(max_length=100)
    field_type: FieldType
    options: list[str] = Field(default_factory=list)
    sort_order: int = 0


class CustomFieldUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, max_length=100)
    options: list[str] | None = None
    sort_order: int | None = None


class CustomFieldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    label: str
    field_type: FieldType
    options: list[str]
    sort_order: int


class FollowRelationCreate(BaseModel):
    staff_id: int
    remark: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    added_at: datetime | None = Field(default=None, description="defaults to now")
    add_way: str | None = Field(default=None, max_length=32)
    state: str | None = Field(default=None, max_length=64)
    status: FollowStatus = FollowStatus.ACTIVE


class FollowRelationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    remark: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    add_way: str | None = Field(default=None, max_length=32)
    state: str | None = Field(default=None, max_length=64)
    status: FollowStatus | None = None


class ImportRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    filename: str
    status: str
    total_rows: int
    processed_rows: int
    imported: int
    updated: int
    failed: int
    message: str | None
    job_id: int | None
    created_at: datetime
    finished_at: datetime | None
    has_errors: bool = False
