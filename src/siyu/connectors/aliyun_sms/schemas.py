"""What Dysmsapi answers and pushes, as typed models (Aliyun's field names as aliases)."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from siyu.connectors.aliyun_sms.templates import TemplateType

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
_LOCAL_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S")


def china_time(value: Any) -> Any:
    """Aliyun writes Beijing time without a zone ("2017-01-01 00:00:00"): aware UTC."""
    if isinstance(value, str):
        for fmt in _LOCAL_FORMATS:
            try:
                return datetime.strptime(value, fmt).replace(tzinfo=CHINA).astimezone(UTC)
            except ValueError:
                continue
    return value


class AliyunModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class SendStatus:
    """QuerySendDetails' SendStatus."""

    WAITING = 1  # no receipt yet
    FAILED = 2
    DELIVERED = 3


class SmsSendDetail(AliyunModel):
    phone_number: str = Field(alias="PhoneNum")
    send_status: int = Field(alias="SendStatus")
    err_code: str = Field(default="", alias="ErrCode")
    template_code: str = Field(default="", alias="TemplateCode")
    content: str = Field(default="", alias="Content")
    send_date: str = Field(default="", alias="SendDate")
    receive_date: str = Field(default="", alias="ReceiveDate")
    out_id: str = Field(default="", alias="OutId")

    @property
    def delivered(self) -> bool:
        return self.send_status == SendStatus.DELIVERED


class SendDetailsPage(AliyunModel):
    total_count: int
    details: list[SmsSendDetail]


class SmsTemplate(AliyunModel):
    template_code: str = Field(alias="TemplateCode")
    template_name: str = Field(default="", alias="TemplateName")
    template_content: str = Field(default="", alias="TemplateContent")
    template_type: int = Field(default=TemplateType.NOTIFICATION, alias="OuterTemplateType")
    audit_status: str = Field(default="", alias="AuditStatus")
    create_date: str = Field(default="", alias="CreateDate")
    reject_info: str = ""

    @property
    def approved(self) -> bool:
        return self.audit_status == "AUDIT_STATE_PASS"


class SmsSign(AliyunModel):
    sign_name: str = Field(alias="SignName")
    audit_status: str = Field(default="", alias="AuditStatus")
    business_type: str = Field(default="", alias="BusinessType")
    create_date: str = Field(default="", alias="CreateDate")
    reject_info: str = ""

    @property
    def approved(self) -> bool:
        return self.audit_status == "AUDIT_STATE_PASS"


def _reject_info(raw: dict[str, Any]) -> str:
    reason = raw.get("Reason")
    if isinstance(reason, dict):
        return str(reason.get("RejectInfo") or "")
    return ""


def template_from(raw: dict[str, Any]) -> SmsTemplate:
    data = dict(raw)
    if "OuterTemplateType" not in data and "TemplateType" in data:
        data["OuterTemplateType"] = data["TemplateType"]
    return SmsTemplate.model_validate({**data, "reject_info": _reject_info(raw)})


def sign_from(raw: dict[str, Any]) -> SmsSign:
    return SmsSign.model_validate({**raw, "reject_info": _reject_info(raw)})


class SmsReport(AliyunModel):
    """One delivery receipt (回执) of an SmsReport push."""

    phone_number: str
    send_time: datetime
    report_time: datetime
    success: bool
    err_code: str
    err_msg: str = ""
    sms_size: int = 1
    biz_id: str
    out_id: str = ""

    @field_validator("out_id", "err_msg", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("send_time", "report_time", mode="before")
    @classmethod
    def _china_time(cls, value: Any) -> Any:
        return china_time(value)


class SmsUplink(AliyunModel):
    """One reply a customer sent (SmsUp), e.g. "T" to unsubscribe."""

    phone_number: str
    send_time: datetime
    content: str
    sign_name: str = ""
    dest_code: str = ""
    sequence_id: str

    @field_validator("sequence_id", "dest_code", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        # Aliyun documents sequence_id as a Number in one page and a String in another.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("sign_name", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("send_time", mode="before")
    @classmethod
    def _china_time(cls, value: Any) -> Any:
        return china_time(value)
