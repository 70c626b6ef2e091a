"""What a delivery's reason code means: the label the console shows for it.

A delivery is excluded, fails or waits for a retry with a reason code: one of Siyu's own
(opted_out, not_friend, in_doubt …), or one its provider gave (smtp_550, http_503,
isv.BUSINESS_LIMIT_CONTROL, a carrier's delivery-report code …). Provider codes are
open-ended, so each code maps to a `ReasonLabel`: the code itself when Siyu knows it, else
the family it belongs to (smtp_5xx, http_4xx, sms_refused …), which the console shows with
the raw code beside it. `ReasonLabel` is in the OpenAPI schema, so the console's labels
are checked against it (ui/src/messaging/reasons.test.ts).
"""

import re
from enum import StrEnum

from siyu.connectors.aliyun_sms import errors as sms_errors


class ReasonLabel(StrEnum):
    # left out when planned
    DUPLICATE = "duplicate"
    OPTED_OUT = "opted_out"
    NO_ADDRESS = "no_address"
    NO_FOLLOW = "no_follow"
    FREQUENCY_CAP = "frequency_cap"
    WECOM_QUOTA = "wecom_quota"
    DISMISSED = "dismissed"
    NO_OWNER = "no_owner"
    CANCELLED = "cancelled"
    # WeCom
    NOT_FRIEND = "not_friend"
    GROUP_GONE = "group_gone"
    WECOM_REFUSED = "wecom_refused"
    CONTENT = "content"
    WECOM_ERROR = "wecom_error"  # wecom_<errcode>
    # email
    INVALID_ADDRESS = "invalid_address"
    SMTP_BAD_MESSAGE = "smtp_bad_message"
    SMTP_BAD_REPLY = "smtp_bad_reply"
    SMTP_CONNECTION = "smtp_connection"
    SMTP_DISCONNECTED = "smtp_disconnected"
    SMTP_TIMEOUT = "smtp_timeout"
    SMTP_UNREACHABLE = "smtp_unreachable"
    SMTP_TLS_FAILED = "smtp_tls_failed"
    SMTP_AUTH_FAILED = "smtp_auth_failed"
    SMTP_REJECTED = "smtp_rejected"
    SMTP_ERROR = "smtp_error"
    SMTP_4XX = "smtp_4xx"  # a temporary refusal: tried again
    SMTP_5XX = "smtp_5xx"  # a permanent refusal
    # webhooks
    WEBHOOK_URL_REFUSED = "webhook_url_refused"
    WEBHOOK_UNREACHABLE = "webhook_unreachable"
    WEBHOOK_TIMEOUT = "webhook_timeout"
    HTTP_3XX = "http_3xx"
    HTTP_4XX = "http_4xx"
    HTTP_429 = "http_429"
    HTTP_5XX = "http_5xx"
    # SMS: Aliyun's answer to SendSms
    IN_DOUBT = "in_doubt"
    NETWORK = "network"
    SMS_THROTTLED = "sms_throttled"
    SMS_PROVIDER_ERROR = "sms_provider_error"
    SMS_FLOW_CONTROL = "sms_flow_control"
    SMS_NO_BALANCE = "sms_no_balance"
    SMS_DAY_LIMIT = "sms_day_limit"
    SMS_MONTH_LIMIT = "sms_month_limit"
    SMS_BAD_NUMBER = "sms_bad_number"
    SMS_TEMPLATE = "sms_template"
    SMS_SIGNATURE = "sms_signature"
    SMS_CONTENT = "sms_content"
    SMS_CREDENTIALS = "sms_credentials"
    SMS_REFUSED = "sms_refused"  # any other code of Aliyun's API
    # SMS: the carrier's delivery report
    MOBILE_NOT_ON_SERVICE = "mobile_not_on_service"
    MOBILE_ACCOUNT_ABNORMAL = "mobile_account_abnormal"
    MOBILE_IN_BLACK = "mobile_in_black"
    MOBILE_TERMINAL_ERROR = "mobile_terminal_error"
    CONTENT_KEYWORD = "content_keyword"
    INVALID_NUMBER = "invalid_number"
    MOBILE_SEND_LIMIT = "mobile_send_limit"
    REPORT_UNKNOWN = "report_unknown"
    REPORT_OTHER = "report_other"  # any other carrier code
    # no code, or one Siyu cannot place
    FAILED = "failed"
    UNKNOWN = "unknown"
    OTHER = "other"


_SMS_CODES: dict[str, ReasonLabel] = {
    **dict.fromkeys(sms_errors.THROTTLING_CODES, ReasonLabel.SMS_THROTTLED),
    **dict.fromkeys(
        sms_errors.RETRYABLE_CODES - sms_errors.THROTTLING_CODES, ReasonLabel.SMS_PROVIDER_ERROR
    ),
    sms_errors.FLOW_CONTROL: ReasonLabel.SMS_FLOW_CONTROL,
    "isv.AMOUNT_NOT_ENOUGH": ReasonLabel.SMS_NO_BALANCE,
    "isv.OUT_OF_SERVICE": ReasonLabel.SMS_NO_BALANCE,
    "isv.DAY_LIMIT_CONTROL": ReasonLabel.SMS_DAY_LIMIT,
    "isv.MONTH_LIMIT_CONTROL": ReasonLabel.SMS_MONTH_LIMIT,
    "isv.MOBILE_NUMBER_ILLEGAL": ReasonLabel.SMS_BAD_NUMBER,
    "isv.MOBILE_COUNT_OVER_LIMIT": ReasonLabel.SMS_BAD_NUMBER,
    "isv.SMS_TEMPLATE_ILLEGAL": ReasonLabel.SMS_TEMPLATE,
    "isv.TEMPLATE_MISSING_PARAMETERS": ReasonLabel.SMS_TEMPLATE,
    "isv.TEMPLATE_PARAMS_ILLEGAL": ReasonLabel.SMS_TEMPLATE,
    "isv.PARAM_LENGTH_LIMIT": ReasonLabel.SMS_TEMPLATE,
    "isv.INVALID_JSON_PARAM": ReasonLabel.SMS_TEMPLATE,
    "isv.INVALID_PARAMETERS": ReasonLabel.SMS_TEMPLATE,
    "isv.SMS_SIGNATURE_ILLEGAL": ReasonLabel.SMS_SIGNATURE,
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": ReasonLabel.SMS_SIGNATURE,
    "isv.SMS_CONTENT_ILLEGAL": ReasonLabel.SMS_CONTENT,
    "isv.BLACK_KEY_CONTROL_LIMIT": ReasonLabel.SMS_CONTENT,
    "isp.RAM_PERMISSION_DENY": ReasonLabel.SMS_CREDENTIALS,
    "SignatureDoesNotMatch": ReasonLabel.SMS_CREDENTIALS,
    "InvalidAccessKeyId.NotFound": ReasonLabel.SMS_CREDENTIALS,
    "InvalidAccessKeyId.Inactive": ReasonLabel.SMS_CREDENTIALS,
    "InvalidTimeStamp.Expired": ReasonLabel.SMS_CREDENTIALS,
    "UNKNOWN": ReasonLabel.REPORT_UNKNOWN,
    **{
        code: ReasonLabel(code.lower())
        for code in sms_errors.REPORT_MESSAGES
        if code != "DELIVERED"
    },
}
SMS_CHANNEL = "sms"  # schemas.Channel.SMS, which imports this module
_SMTP = re.compile(r"smtp_(\d)\d\d")
_SMTP_FAMILIES = {"4": ReasonLabel.SMTP_4XX, "5": ReasonLabel.SMTP_5XX}
_HTTP = re.compile(r"http_([345])\d\d")
_HTTP_FAMILIES = {"3": ReasonLabel.HTTP_3XX, "4": ReasonLabel.HTTP_4XX, "5": ReasonLabel.HTTP_5XX}
# the client's code when Aliyun's gateway answered without a body: "HTTP 503"
_SMS_HTTP = re.compile(r"HTTP ([45])\d\d")
_WECOM = re.compile(r"wecom_-?\d+")
_SMS_API = re.compile(r"(isv|isp)\.\w+|[A-Z][A-Za-z]+(\.[A-Za-z]+)*")
_EXACT = {label.value: label for label in ReasonLabel}


def label(code: str | None, channel: str) -> ReasonLabel:
    """The label of reason `code` of a delivery of `channel`."""
    if code is None:
        return ReasonLabel.UNKNOWN
    if channel == SMS_CHANNEL:
        return _sms_label(code)
    return _EXACT.get(code) or _family(code)


def _family(code: str) -> ReasonLabel:
    smtp = _SMTP.fullmatch(code)
    if smtp:
        return _SMTP_FAMILIES.get(smtp.group(1), ReasonLabel.SMTP_BAD_REPLY)
    http = _HTTP.fullmatch(code)
    if http:
        return _HTTP_FAMILIES[http.group(1)]
    return ReasonLabel.WECOM_ERROR if _WECOM.fullmatch(code) else ReasonLabel.OTHER


def _sms_label(code: str) -> ReasonLabel:
    if code in _SMS_CODES:
        return _SMS_CODES[code]
    if code in _EXACT and code.islower():
        return _EXACT[code]
    found = _SMS_HTTP.fullmatch(code)
    if found:
        return ReasonLabel.SMS_PROVIDER_ERROR if found.group(1) == "5" else ReasonLabel.SMS_REFUSED
    if _SMS_API.fullmatch(code) and not code.isupper():
        return ReasonLabel.SMS_REFUSED
    return ReasonLabel.REPORT_OTHER
