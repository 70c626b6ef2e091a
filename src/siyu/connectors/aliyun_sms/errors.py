"""Aliyun SMS codes: how a failed send is classified, and a Chinese hint for common codes.

A failed SendSms is one of:
- in doubt: no answer came back, or the gateway answered 5xx for a backend that may have
  taken the message; the sender asks QuerySendDetails before sending it again;
- retryable: Aliyun refused it for now (API flow control, its own faults, per-number flow
  control, an empty balance); API throttling and account-wide refusals also pause the pass;
- final: anything else (a bad number, template, sign, variable or key).
"""

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from siyu.exceptions import SiyuError

OK = "OK"
NETWORK = "network"  # no connection: the request never left
IN_DOUBT = "in_doubt"  # the request left, its answer never came
# Flow control of the API itself: every call of the account is refused for a moment.
THROTTLING_CODES = frozenset({"Throttling", "Throttling.User", "Throttling.Api"})
# Aliyun's own faults: the same call may pass later.
RETRYABLE_CODES = THROTTLING_CODES | frozenset(
    {
        "ServiceUnavailable",
        "InternalError",
        "isp.SYSTEM_ERROR",
        "isp.GATEWAY_ERROR",
        "SignatureNonceUsed",  # a resend signs with a new nonce
    }
)
# Per number (isv.BUSINESS_LIMIT_CONTROL): the window Aliyun's message names, in seconds.
FLOW_CONTROL = "isv.BUSINESS_LIMIT_CONTROL"
FLOW_WINDOWS = {"分钟": 60.0, "小时": 3600.0, "天": 86400.0}
_FLOW_WINDOW = re.compile(r"(分钟|小时|天)级")
# The account sends nothing until someone acts or the day rolls over: seconds to wait.
ACCOUNT_WAITS = {
    "isv.AMOUNT_NOT_ENOUGH": 600.0,
    "isv.OUT_OF_SERVICE": 600.0,
    "isv.DAY_LIMIT_CONTROL": 3600.0,
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a failed send is treated (the fields of the same name on `SendOutcome`)."""

    retryable: bool
    in_doubt: bool = False
    retry_after: float | None = None
    pause: bool = False


def classify_send(code: str, http_status: int, message: str = "") -> Verdict:
    """What a SendSms answer other than OK means for trying again."""
    if http_status >= 500:
        return Verdict(retryable=True, in_doubt=True)
    if code in THROTTLING_CODES:
        return Verdict(retryable=True, pause=True)
    if code in RETRYABLE_CODES:
        return Verdict(retryable=True)
    if code == FLOW_CONTROL:
        window = _FLOW_WINDOW.search(message)
        return Verdict(
            retryable=True, retry_after=FLOW_WINDOWS[window.group(1) if window else "分钟"]
        )
    if code in ACCOUNT_WAITS:
        return Verdict(retryable=True, retry_after=ACCOUNT_WAITS[code], pause=True)
    return Verdict(retryable=False)


HINTS: dict[str, str] = {
    "isv.BUSINESS_LIMIT_CONTROL": "触发阿里云号码级流控：同一签名对同一号码，验证码默认 1 条/分钟、"
    "5 条/小时、10 条/天，通知和推广短信（同一签名同一模板）50 条/天；流控窗口过后会自动重试。",
    "isv.MOBILE_NUMBER_ILLEGAL": "手机号码格式不正确：请检查客户的手机号（国内号码为 11 位）。",
    "isv.MOBILE_COUNT_OVER_LIMIT": "单次提交的手机号码超过上限（1000 个）：请分批发送。",
    "isv.AMOUNT_NOT_ENOUGH": "阿里云账户余额不足：请在阿里云控制台充值，充值后会自动继续发送。",
    "isv.OUT_OF_SERVICE": "阿里云短信业务已停机（通常是余额不足）：请充值，充值后会自动继续发送。",
    "isv.SMS_TEMPLATE_ILLEGAL": "短信模板不存在或未通过审核：请在阿里云短信控制台 → 模板管理中"
    "确认模板 Code 属于本 AccessKey 所在账号且已审核通过。",
    "isv.SMS_SIGNATURE_ILLEGAL": "短信签名不存在或未通过审核：请在阿里云短信控制台 → 签名管理中"
    "确认签名名称完全一致（不含【】）且已审核通过。",
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": "签名和模板类型不一致：验证码签名只能发验证码模板，"
    "请改用「通用」签名。",
    "isv.TEMPLATE_MISSING_PARAMETERS": "模板变量缺少取值：请为模板中的每个 ${变量} 提供值。",
    "isv.TEMPLATE_PARAMS_ILLEGAL": "模板变量取值不符合变量属性：请检查变量内容（如验证码只能是"
    "数字或字母）。",
    "isv.PARAM_LENGTH_LIMIT": "模板变量超出长度限制（默认每个变量 35 个字符）：请缩短变量内容。",
    "isv.INVALID_JSON_PARAM": "模板变量 JSON 不合法：变量值只能是字符串。",
    "isv.INVALID_PARAMETERS": "参数不合法：请检查手机号、签名、模板 Code 和变量。",
    "isv.BLACK_KEY_CONTROL_LIMIT": "触发黑名单管控：变量内容含禁止发送的内容（例如变量中透传网址）"
    "或号码在黑名单中。",
    "isv.DAY_LIMIT_CONTROL": "已达到在阿里云控制台设置的日发送量上限，稍后会自动重试。",
    "isv.MONTH_LIMIT_CONTROL": "已达到在阿里云控制台设置的月发送量上限。",
    "isv.SMS_CONTENT_ILLEGAL": "短信内容包含禁止发送的内容：请修改文案。",
    "isp.RAM_PERMISSION_DENY": "AccessKey 没有短信权限："
    "请为该 RAM 用户授权 AliyunDysmsFullAccess。",
    "SignatureDoesNotMatch": "AccessKey Secret 不正确：请在阿里云控制台 → AccessKey 管理中"
    "重新复制 Secret 保存到 Siyu。",
    "InvalidAccessKeyId.NotFound": "AccessKey ID 不存在：请检查 AccessKey ID 是否复制完整。",
    "InvalidAccessKeyId.Inactive": "AccessKey 已被禁用：请在阿里云控制台启用或换一个。",
    "InvalidTimeStamp.Expired": "请求时间与阿里云相差超过 15 分钟：请校准本服务器的系统时间。",
    "Throttling.User": "调用阿里云接口过于频繁，稍后会自动重试。",
    "isp.SYSTEM_ERROR": "阿里云短信系统错误，稍后会自动重试。",
    "ServiceUnavailable": "阿里云短信服务暂时不可用，稍后会自动重试。",
    NETWORK: "无法连接阿里云短信服务：请检查本服务器的网络，稍后会自动重试。",
    IN_DOUBT: "请求已发出但没有收到阿里云的应答：重发前会先用 QuerySendDetails "
    "查询阿里云是否已受理，已受理的不会再发。",
}

# Delivery-report codes (回执错误码) as SmsReport / QuerySendDetails carry them.
REPORT_MESSAGES: dict[str, str] = {
    "DELIVERED": "用户接收成功",
    "MOBILE_NOT_ON_SERVICE": "停机、空号、暂停服务、关机、不在服务区",
    "MOBILE_ACCOUNT_ABNORMAL": "用户账户异常（欠费等）",
    "MOBILE_IN_BLACK": "手机号在黑名单（用户退订或投诉过）",
    "MOBILE_TERMINAL_ERROR": "手机终端问题（内存满、SIM 卡满、非法设备等）",
    "CONTENT_KEYWORD": "内容关键字拦截",
    "INVALID_NUMBER": "号码状态异常",
    "MOBILE_SEND_LIMIT": "单个号码日或月发送上限，或流控超限",
}


def is_retryable(code: str, http_status: int | None = None) -> bool:
    return code in RETRYABLE_CODES or (http_status is not None and http_status >= 500)


def hint_for(code: str) -> str | None:
    return HINTS.get(code)


class AliyunSmsError(SiyuError):
    """Aliyun answered a query with a code other than OK (or could not be reached)."""

    status_code = 502
    code: ClassVar[str] = "aliyun_sms_error"

    def __init__(
        self, aliyun_code: str, message: str, *, retryable: bool = False, request_id: str = ""
    ) -> None:
        self.aliyun_code = aliyun_code
        self.aliyun_message = message
        self.retryable = retryable
        self.hint = hint_for(aliyun_code)
        details: dict[str, Any] = {
            "aliyun_code": aliyun_code,
            "aliyun_message": message,
            "hint": self.hint,
            "retryable": retryable,
            "request_id": request_id,
        }
        text = f"阿里云短信接口错误 {aliyun_code}: {message}"
        if self.hint:
            text = f"{text}（{self.hint}）"
        super().__init__(text, details)
