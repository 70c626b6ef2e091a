"""Console API shapes of the WeCom sync: runs, lost customers."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

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
