"""Aliyun SMS (阿里云短信, Dysmsapi 2017-05-25): a client, receipt parsing, templates."""

from siyu.connectors.aliyun_sms.client import DEFAULT_BASE_URL, AliyunSmsClient
from siyu.connectors.aliyun_sms.errors import AliyunSmsError
from siyu.connectors.aliyun_sms.receipts import ACK, is_opt_out, parse_reports, parse_uplinks
from siyu.connectors.aliyun_sms.schemas import (
    SendDetailsPage,
    SendStatus,
    SmsReport,
    SmsSendDetail,
    SmsSign,
    SmsTemplate,
    SmsUplink,
)
from siyu.connectors.aliyun_sms.templates import (
    TemplateType,
    check_params,
    render_template,
    segments,
)

__all__ = [
    "ACK",
    "DEFAULT_BASE_URL",
    "AliyunSmsClient",
    "AliyunSmsError",
    "SendDetailsPage",
    "SendStatus",
    "SmsReport",
    "SmsSendDetail",
    "SmsSign",
    "SmsTemplate",
    "SmsUplink",
    "TemplateType",
    "check_params",
    "is_opt_out",
    "parse_reports",
    "parse_uplinks",
    "render_template",
    "segments",
]
