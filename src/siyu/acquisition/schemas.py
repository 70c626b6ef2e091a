"""Request and response models of the acquisition domain (live codes, welcome messages)."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from siyu.acquisition.duty import CodeType, Rotation

Clock = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$", examples=["09:00"])]


class LiveCodeStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    DELETED = "deleted"


class WelcomeStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class ShiftIn(BaseModel):
    """Working hours on some weekdays (1 = Monday … 7 = Sunday); each range is [start, end)."""

    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(min_length=1, max_length=7)
    ranges: list[tuple[Clock, Clock]] = Field(min_length=1, max_length=6)


class LiveCodeStaffIn(BaseModel):
    staff_id: int
    weight: int = Field(default=1, ge=1, le=100, description="share of adds (random, least load)")
    daily_cap: int | None = Field(
        default=None, ge=1, description="adds per day for this member; default the code's cap"
    )
    schedule: list[ShiftIn] = Field(default=[], max_length=14, description="empty = always")
    is_backup: bool = Field(default=False, description="receives adds only when no one else can")


class ImageAttachment(BaseModel):
    media_id: str | None = Field(default=None, max_length=200)
    pic_url: str | None = Field(default=None, max_length=1000, pattern=r"^https?://")


class LinkAttachment(BaseModel):
    title: str = Field(min_length=1, max_length=128)
    picurl: str | None = Field(default=None, max_length=1000, pattern=r"^https?://")
    desc: str | None = Field(default=None, max_length=512)
    url: str = Field(max_length=2000, pattern=r"^https?://")


class MiniprogramAttachment(BaseModel):
    title: str = Field(min_length=1, max_length=64)
    pic_media_id: str = Field(min_length=1, max_length=200)
    appid: str = Field(min_length=1, max_length=64)
    page: str = Field(min_length=1, max_length=500)


class FileAttachment(BaseModel):
    media_id: str = Field(min_length=1, max_length=200)


class AttachmentIn(BaseModel):
    """One welcome attachment, shaped as WeCom's send_welcome_msg takes it."""

    model_config = ConfigDict(extra="forbid")

    msgtype: Literal["image", "link", "miniprogram", "file"]
    image: ImageAttachment | None = None
    link: LinkAttachment | None = None
    miniprogram: MiniprogramAttachment | None = None
    file: FileAttachment | None = None


class WelcomeIn(BaseModel):
    text: str | None = Field(
        default=None,
        description="≤ 4,000 bytes once filled; variables {客户昵称} {员工姓名} {渠道}",
    )
    attachments: list[AttachmentIn] = Field(default=[], max_length=9)


class LiveCodeIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    channel: str = Field(min_length=1, max_length=64, description="channel or group name")
    code_type: CodeType = CodeType.SINGLE
    rotation: Rotation = Rotation.ROUND_ROBIN
    staff: list[LiveCodeStaffIn] = Field(min_length=1, max_length=100)
    skip_verify: bool = True
    skip_verify_from: Clock | None = Field(default=None, description="window start (local time)")
    skip_verify_to: Clock | None = None
    daily_cap: int | None = Field(default=None, ge=1, description="adds per staff member per day")
    remark_template: str | None = Field(
        default=None, max_length=100, description="e.g. {渠道}-{客户昵称}; WeCom keeps 20 chars"
    )
    welcome: WelcomeIn = WelcomeIn()
    tag_ids: list[int] = Field(default=[], max_length=100)


class LiveCodePatch(BaseModel):
    """Fields to change; lists (staff, tags, attachments) replace the old ones."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    channel: str | None = Field(default=None, min_length=1, max_length=64)
    rotation: Rotation | None = None
    staff: list[LiveCodeStaffIn] | None = Field(default=None, min_length=1, max_length=100)
    skip_verify: bool | None = None
    skip_verify_from: Clock | None = None
    skip_verify_to: Clock | None = None
    daily_cap: int | None = Field(default=None, ge=1)
    remark_template: str | None = Field(default=None, max_length=100)
    welcome: WelcomeIn | None = None
    tag_ids: list[int] | None = Field(default=None, max_length=100)
    status: Literal["active", "paused"] | None = None


class LiveCodeStaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    staff_id: int
    staff_name: str | None = None
    weight: int
    daily_cap: int | None
    schedule: list[ShiftIn]
    is_backup: bool
    on_duty: bool = False
    adds_today: int = 0


class LiveCodeOut(BaseModel):
    id: int
    name: str
    channel: str
    state: str
    code_type: CodeType
    rotation: Rotation
    status: LiveCodeStatus
    skip_verify: bool
    skip_verify_from: str | None
    skip_verify_to: str | None
    daily_cap: int | None
    remark_template: str | None
    welcome: WelcomeIn
    tag_ids: list[int]
    staff: list[LiveCodeStaffOut]
    config_id: str | None
    qr_code: str | None
    synced_at: datetime | None
    sync_error: str | None = Field(description="WeCom's last refusal, shown until a sync works")
    adds_today: int = 0
    adds_total: int = 0
    created_at: datetime


class DefaultWelcome(BaseModel):
    """The welcome message for codes that have none of their own."""

    text: str | None = None
    attachments: list[AttachmentIn] = Field(default=[], max_length=9)


class DayCount(BaseModel):
    day: date
    adds: int
    losses: int


class StaffStats(BaseModel):
    staff_id: int
    staff_name: str | None
    adds: int
    losses: int
    welcome_sent: int
    welcome_failed: int


class Retention(BaseModel):
    eligible: int = Field(description="adds at least this many days old")
    retained: int = Field(description="of those, still friends this many days after adding")
    rate: float | None


class LiveCodeStats(BaseModel):
    total_adds: int
    losses: int
    welcome_sent: int
    welcome_failed: int
    welcome_skipped: int
    retention_7d: Retention
    retention_30d: Retention
    per_day: list[DayCount]
    per_staff: list[StaffStats]


class LiveCodeAddOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    staff_id: int
    external_userid: str
    added_at: datetime
    welcome_status: WelcomeStatus
    welcome_errcode: int | None
    welcome_error: str | None
    welcome_sent_at: datetime | None
    lost_at: datetime | None


class SimulateScanIn(BaseModel):
    name: str | None = Field(default=None, max_length=50, description="the customer's nickname")


class SimulatedScan(BaseModel):
    userid: str = Field(description="the staff member WeCom handed the customer to")
    external_userid: str
    pending: bool = Field(default=False, description="waiting for the staff member to accept")
