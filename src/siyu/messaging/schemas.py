from datetime import datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from siyu.messaging.reasons import ReasonLabel


class Channel(StrEnum):
    WECOM = "wecom"
    WECOM_GROUP = "wecom_group"
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


class BroadcastStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PLANNING = "planning"
    SENDING = "sending"
    # WeCom: tasks created, waiting for staff to confirm them in their client
    WAITING = "waiting"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class DeliveryStatus(StrEnum):
    EXCLUDED = "excluded"
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ExclusionReason(StrEnum):
    DUPLICATE = "duplicate"
    OPTED_OUT = "opted_out"
    NO_ADDRESS = "no_address"
    NO_FOLLOW = "no_follow"
    FREQUENCY_CAP = "frequency_cap"
    WECOM_QUOTA = "wecom_quota"


class SmsContent(BaseModel):
    sign_name: str = Field(min_length=1, max_length=40)
    template_code: str = Field(min_length=1, max_length=40)
    # template variable → text with {客户昵称}-style variables
    params: dict[str, str] = Field(default_factory=dict)


class Content(BaseModel):
    """What is sent. Which fields matter depends on the channel; variables like {客户昵称} are
    filled per recipient and every link in text and html becomes a tracked short link."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=20000)
    subject: str | None = Field(default=None, max_length=200)
    html: str | None = Field(default=None, max_length=500000)
    material_ids: list[int] = Field(default_factory=list, max_length=9)
    poster_id: int | None = None
    poster_url: str | None = Field(default=None, max_length=2000)
    sms: SmsContent | None = None
    webhook_url: HttpUrl | None = None
    webhook_event: str = Field(default="broadcast.message", max_length=64)


class Variant(BaseModel):
    key: str = Field(min_length=1, max_length=8)
    percent: int = Field(ge=1, le=100)
    content: Content


class BroadcastIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    channel: Channel
    segment_id: int | None = None
    customer_group_ids: list[int] | None = None
    content: Content
    variants: list[Variant] | None = Field(default=None, max_length=5)
    send_at: datetime | None = None
    recurrence: str | None = Field(default=None, max_length=64)
    attribution_days: int = Field(default=7, ge=1, le=90)

    @model_validator(mode="after")
    def _variants_add_up(self) -> Self:
        if self.variants is not None:
            if sum(v.percent for v in self.variants) != 100:
                raise ValueError("variant percents must add up to 100")
            if len({v.key for v in self.variants}) != len(self.variants):
                raise ValueError("variant keys must be unique")
        return self


class BroadcastUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    segment_id: int | None = None
    customer_group_ids: list[int] | None = None
    content: Content | None = None
    variants: list[Variant] | None = None
    send_at: datetime | None = None
    recurrence: str | None = None
    attribution_days: int | None = Field(default=None, ge=1, le=90)


class BroadcastOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    channel: str
    status: str
    segment_id: int | None
    snapshot_id: int | None
    customer_group_ids: list[int] | None
    content: Content
    variants: list[dict[str, Any]] | None
    send_at: datetime | None
    recurrence: str | None
    parent_id: int | None
    attribution_days: int
    created_by: str | None
    planned_count: int
    excluded_count: int
    planned_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    created_at: datetime


class GroupEligibility(BaseModel):
    """A chosen customer group of a WeCom group broadcast, and why it would be left out."""

    customer_group_id: int
    name: str
    owner_staff_id: int | None
    owner_name: str | None
    customers: int
    reason: str | None


class Eligibility(BaseModel):
    """Who would get the broadcast now, and why the others would not (for a group
    broadcast: its customer groups, each listed in `groups`)."""

    audience: int
    eligible: int
    excluded: dict[str, int]
    groups: list[GroupEligibility] = Field(default_factory=list)


class Counts(BaseModel):
    planned: int = 0
    excluded: int = 0
    pending: int = 0
    sending: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    cancelled: int = 0
    # read: the email's open pixel was fetched, or one of its tracked links clicked
    opened: int = 0
    clicked: int = 0
    converted: int = 0
    converted_fen: int = 0


class GroupCounts(BaseModel):
    key: str
    label: str
    counts: Counts


class ResultsOut(BaseModel):
    broadcast_id: int
    status: str
    counts: Counts
    excluded_by_reason: dict[str, int]
    failed_by_reason: dict[str, int]
    # Deliveries not finished yet because a try failed for now (smtp_451, http_503,
    # isv.BUSINESS_LIMIT_CONTROL …): pending for the next pass, or in doubt (an SMS whose
    # answer was lost, until Aliyun is asked), by the reason of their last try.
    waiting_by_reason: dict[str, int]
    # The label of every reason code of the broadcast's deliveries (messaging/reasons.py).
    reason_labels: dict[str, ReasonLabel]
    # People who clicked, by the channel of the link they clicked: a WeCom message's text
    # and link cards ("wecom", "wecom_group"), a poster's QR code ("poster"), an email
    # or SMS; someone who clicked two kinds counts in each.
    clicked_by_link: dict[str, int]
    by_staff: list[GroupCounts]
    by_variant: list[GroupCounts]
    shares: int
    share_visitors: int
    tasks: list["TaskOut"]
    # wecom_group: one row per customer group
    groups: list["GroupResultOut"] = Field(default_factory=list)


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    staff_id: int | None
    userid: str
    chunk: int
    msgid: str | None
    recipient_count: int
    status: str
    error: str | None
    created_at: datetime
    confirmed_at: datetime | None


class GroupResultOut(BaseModel):
    """One customer group of a WeCom group broadcast and what became of its message."""

    model_config = ConfigDict(from_attributes=True)

    customer_group_id: int | None
    chat_id: str
    name: str
    owner_userid: str | None
    staff_id: int | None
    task_id: int | None
    status: str
    reason: str | None
    sent_at: datetime | None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    channel: str
    variant: str | None
    staff_id: int | None
    address: str | None
    status: str
    reason: str | None
    detail: str | None
    provider_id: str | None
    attempts: int
    sent_at: datetime | None
    delivered_at: datetime | None


class QuietHours(BaseModel):
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class FrequencyCap(BaseModel):
    max_messages: int = Field(ge=1, le=1000)
    days: int = Field(ge=1, le=365)


class MessagingRules(BaseModel):
    quiet_hours: QuietHours | None = None
    # channel → cap; a customer who got `max_messages` in the last `days` days is skipped
    frequency_caps: dict[Channel, FrequencyCap] = Field(default_factory=dict)
    # WeCom's platform quota on mass messages per customer (群发规则), see protocol.md §5
    wecom_quota: str = Field(default="days_of_month", pattern="^(days_of_month|week|day)$")
    # Calls a minute each WeCom API a broadcast uses (add_msg_template, get_groupmsg_*) may
    # make, when other tools of the corp share WeCom's 10,000 a minute; None: WeCom's own.
    wecom_calls_per_minute: int | None = Field(default=None, ge=1, le=10_000)
    # a 1×1 image in each email's HTML tells when it was first opened (content/opens.py)
    email_open_tracking: bool = True


class ChannelAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any] = Field(default_factory=dict)
    # write-only: the SMTP password, SMS access key secret or webhook signing secret
    secret: str | None = Field(default=None, max_length=500)
    enabled: bool = True


class AccountCheck(BaseModel):
    """What trying the account showed: `code` names the provider's error when it failed."""

    ok: bool
    message: str
    code: str | None = None


class ReceiptUrlsOut(BaseModel):
    """Where Aliyun's console should push delivery reports and replies (SMS only)."""

    report_url: str
    uplink_url: str


class ChannelAccountOut(BaseModel):
    channel: str
    config: dict[str, Any]
    has_secret: bool
    enabled: bool
    updated_at: datetime | None
    receipt_urls: ReceiptUrlsOut | None = None
