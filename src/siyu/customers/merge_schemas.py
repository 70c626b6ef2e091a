"""Request and response models of identities, lookups, merges and merge rules."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from siyu.models import MergeRecord


class IdentityIn(BaseModel):
    kind: str = Field(max_length=40, description="an identity kind, e.g. mobile, wechat_unionid")
    value: str = Field(max_length=320)


class IdentityOut(BaseModel):
    id: int
    kind: str
    value: str = Field(description="masked for roles that must not see personal data")
    source: str | None
    created_at: datetime


class LookupOut(BaseModel):
    customer_id: int


class ResolutionOut(BaseModel):
    customer_id: int = Field(description="the customer now holding the identity")
    merged_customer_ids: list[int] = Field(description="customers merged into it by this call")


class MergeIn(BaseModel):
    merged_id: int = Field(description="the customer to merge into the one in the path")
    reason: str = Field(min_length=1, max_length=200)


class MergeOut(BaseModel):
    id: int
    survivor_id: int
    merged_id: int
    reason: str
    actor: str | None
    created_at: datetime
    undone_at: datetime | None
    undone_by: str | None
    moved: dict[str, int] = Field(description="how many rows of each kind moved or were kept")

    @classmethod
    def of(cls, record: MergeRecord) -> "MergeOut":
        return cls(
            id=record.id,
            survivor_id=record.survivor_id,
            merged_id=record.merged_id,
            reason=record.reason,
            actor=record.actor,
            created_at=record.created_at,
            undone_at=record.undone_at,
            undone_by=record.undone_by,
            moved={key: _size(value) for key, value in record.moved.items()},
        )


def _size(value: Any) -> int:
    return len(value) if isinstance(value, list | dict) else 0


class MergeRules(BaseModel):
    merge_kinds: list[str] = Field(
        description="identity kinds strong enough that one record matching two customers "
        "merges them, strongest first"
    )
