from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TagGroupIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class TagGroupPatch(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class TagIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class TagPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    group_id: int | None = Field(default=None, description="move the tag to another group")


class OrderIn(BaseModel):
    ids: list[int] = Field(
        min_length=1,
        max_length=10_000,
        description="ids in their new order; ids left out keep their order after these",
    )


class TagOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    group_id: int
    name: str
    sort_order: int
    wecom_tag_id: str | None
    customer_count: int = 0


class TagGroupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    sort_order: int
    wecom_group_id: str | None
    tags: list[TagOut] = []


class CustomerTagOut(BaseModel):
    tag_id: int
    tag_name: str
    group_id: int
    group_name: str
    source: str
    actor: str | None
    added_at: datetime


class TagChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    tag_id: int | None
    tag_name: str
    action: str
    source: str
    actor: str | None
    created_at: datetime


class CustomerTagsIn(BaseModel):
    tag_ids: list[int] = Field(min_length=1, max_length=1000)


class BatchAction(StrEnum):
    ADD = "add"
    REMOVE = "remove"


class CustomerFilter(BaseModel):
    """The customers a batch reaches: the customer list's filters, all of which must match."""

    q: str | None = None
    tag_ids: list[int] = Field(default=[], max_length=100)
    any_tag_ids: list[int] = Field(default=[], max_length=100)
    staff_id: int | None = None
    stage: str | None = None
    source: str | None = None
    custom_fields: dict[str, Any] = {}
    created_from: datetime | None = None
    created_to: datetime | None = None
    last_order_from: datetime | None = None
    last_order_to: datetime | None = None
    last_active_from: datetime | None = None
    last_active_to: datetime | None = None


class BatchIn(BaseModel):
    action: BatchAction
    tag_ids: list[int] = Field(min_length=1, max_length=1000)
    customer_ids: list[int] | None = Field(default=None, max_length=1_000_000)
    filter: CustomerFilter | None = None


class BatchOut(BaseModel):
    """Inline batches report `changed`; larger ones report the job doing the work."""

    job_id: int | None = None
    changed: int | None = None
