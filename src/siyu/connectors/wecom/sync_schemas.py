"""Console API shapes of the WeCom sync: runs, lost customers, handovers of customers and
of customer groups."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SyncKind = Literal["full", "reconcile"]


class SyncStartIn(BaseModel):
    kind: SyncKind = "full"


class SyncRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    status: str  # queued | running | succeeded | failed
    phase: str
    counts: dict[str, Any]  # what was read from WeCom, per entity
    fixes: dict[str, Any]  # what Siyu changed to match, per entity
    error: str | None
    progress_done: int = 0
    progress_total: int | None = None
    started_at: datetime
    finished_at: datetime | None


class LostCustomerOut(BaseModel):
    id: int
    customer_id: int
    customer_name: str | None
    staff_id: int
    staff_name: str | None
    department_id: int | None
    deleted_by: str  # customer | staff | unknown
    detected_by: str  # callback | reconcile
    occurred_at: datetime
    alerted_userids: list[str]
    alerted_at: datetime | None


class HandoverIn(BaseModel):
    kind: Literal["onjob", "resigned"]
    handover_userid: str = Field(min_length=1, max_length=64)
    takeover_userid: str = Field(min_length=1, max_length=64)
    external_userids: list[str] = Field(min_length=1, max_length=10_000)


class TransferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    handover_userid: str
    takeover_userid: str
    external_userid: str
    customer_id: int | None
    # refused | pending | failed | waiting | done | customer_refused | takeover_limit | no_record
    status: str
    errcode: int | None
    reason: str | None
    requested_at: datetime
    takeover_time: datetime | None
    finished_at: datetime | None


class HandoverCandidateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    customer_id: int
    name: str | None
    external_userid: str
    added_at: datetime
    recent_onjob: int  # on-job transfers of this customer in the last 90 days
    eligible: bool
    reason: str | None  # why WeCom would refuse the customer now


class GroupHandoverIn(BaseModel):
    kind: Literal["onjob", "resigned"]
    handover_userid: str = Field(min_length=1, max_length=64)
    takeover_userid: str = Field(min_length=1, max_length=64)
    chat_ids: list[str] = Field(min_length=1, max_length=10_000)


class GroupTransferOut(BaseModel):
    id: int
    kind: str  # onjob | resigned
    handover_userid: str
    takeover_userid: str
    chat_id: str
    group_name: str | None  # as Siyu knows the group
    status: str  # refused | pending | failed | done
    errcode: int | None
    reason: str | None
    requested_at: datetime
    finished_at: datetime | None


class GroupHandoverCandidateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    customer_group_id: int
    chat_id: str
    name: str
    member_count: int
    recent_onjob: int  # on-job transfers of this group in the last 90 days
    eligible: bool
    reason: str | None  # why WeCom would refuse the group now
