from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class StaffStatus(StrEnum):
    """WeCom member states: active, not yet activated, disabled, resigned."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    DISABLED = "disabled"
    RESIGNED = "resigned"


class DepartmentIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    parent_id: int | None = None
    sort_order: int | None = None
    manager_staff_id: int | None = Field(default=None, description="the department's manager")


class DepartmentPatch(BaseModel):
    """Only the fields sent change; `parent_id: null` moves a department to the top level."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    parent_id: int | None = None
    sort_order: int | None = None
    manager_staff_id: int | None = Field(default=None, description="null removes the manager")


class DepartmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    parent_id: int | None
    wecom_id: int | None
    sort_order: int
    manager_staff_id: int | None


class DepartmentNode(DepartmentOut):
    manager_name: str | None = None
    staff_count: int = 0
    children: list["DepartmentNode"] = []


class StaffIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    wecom_userid: str | None = Field(default=None, min_length=1, max_length=64)
    mobile: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=320)
    position: str | None = Field(default=None, max_length=100)
    department_id: int | None = None
    status: StaffStatus = StaffStatus.ACTIVE


class StaffPatch(BaseModel):
    """Only the fields sent change; null clears an optional field."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    wecom_userid: str | None = Field(default=None, min_length=1, max_length=64)
    mobile: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=320)
    position: str | None = Field(default=None, max_length=100)
    department_id: int | None = None
    status: StaffStatus | None = None


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    wecom_userid: str | None
    mobile: str | None
    email: str | None
    position: str | None
    department_id: int | None
    status: str
    created_at: datetime


class StaffListItem(StaffOut):
    customer_count: int = Field(description="live customers this member actively follows")


class ImportIssue(BaseModel):
    column: str
    message: str


class ImportRowResult(BaseModel):
    row: int
    status: str  # created | updated | failed
    staff_id: int | None = None
    errors: list[ImportIssue] = []


class StaffImportOut(BaseModel):
    created: int
    updated: int
    failed: int
    departments_created: int
    rows: list[ImportRowResult]
