"""WeCom errcodes as typed errors, with a Chinese hint telling the admin what to change.

`error_for(errcode, errmsg)` picks the family (token, rate limit, permission, invalid
parameter, not found, unavailable) and the hint; every error is a `SiyuError` (502), so an
endpoint that lets one through answers with the errcode and the hint.
"""

import re
from typing import Any, ClassVar

from siyu.exceptions import SiyuError

TRUSTED_IP_FIX = (
    "在企业微信管理后台 → 应用管理 → 本应用 → 「企业可信IP」中添加本服务器的出口 IP"
    "（需先配置可信域名或接收消息服务器 URL），约 1 分钟后生效。"
)
CONTACT_APP_FIX = (
    "在企业微信管理后台 → 客户与上下游 → 客户联系 → 「可调用接口的应用」中添加本应用，"
    "并确认相关成员在应用的可见范围内。"
)

HINTS: dict[int, str] = {
    -1: "企业微信繁忙或暂时无法访问，请稍后重试；"
    "若持续出现，请检查本服务器能否访问企业微信 API 地址。",
    40001: "Secret 不正确：请在管理后台 → 应用管理 → 本应用中查看 Secret，重新复制后保存到 Siyu。",
    40003: "成员 UserID 不存在或已离职：请先同步通讯录。",
    40013: "CorpID 不正确：请在管理后台 → 我的企业 → 企业信息底部复制「企业ID」。",
    40014: "access_token 无效，Siyu 会自动重新获取。",
    40056: "AgentId 不正确：请在管理后台 → 应用管理 → 本应用中查看 AgentId。",
    40068: "标签或标签组 ID 不存在：请先同步客户标签。",
    40071: "同名标签已存在：请换一个名称。",
    40091: "Secret 不正确：请在管理后台重新复制本应用的 Secret。",
    40096: "外部联系人 external_userid 无效：该客户可能已被删除，请重新同步客户。",
    40097: "该成员尚未离职，不能进行离职继承。",
    40098: "接替成员尚未实名认证或未激活，请让其完成企业微信实名认证。",
    41001: "缺少 access_token（Siyu 的缺陷，请反馈）。",
    41002: "缺少 CorpID：请在企业微信连接设置中填写「企业ID」。",
    41004: "缺少 Secret：请在企业微信连接设置中填写应用 Secret。",
    41041: "「联系我」中的成员超过 100 人：请减少成员或部门。",
    41044: "「联系我」配置 config_id 无效：该渠道码可能已在企业微信中删除。",
    41045: "「联系我」二维码数量已达上限：请删除不再使用的渠道码。",
    41048: "没有可发送的客户：目标客户可能都已删除成员或不在范围内。",
    41049: "缺少欢迎语 welcome_code。",
    41050: "欢迎语 welcome_code 已失效（有效期 20 秒，只能使用一次）："
    "请确认回调能及时处理，或管理后台是否已配置了欢迎语（配置后企业微信不再下发 welcome_code）。",
    41051: "客户和成员已经开始聊天，或其他应用已发送过欢迎语（welcome_code 只能使用一次）："
    "请检查是否有其他第三方应用或管理后台同时在发欢迎语。",
    41053: "客户未同意会话存档条款，无法发送欢迎语。",
    41054: "成员未激活或未实名认证：请让成员登录企业微信完成激活和实名认证。",
    41063: "群发任务还在派发中，请稍后再查询。",
    42001: "access_token 已过期，Siyu 会自动重新获取。",
    45009: "接口调用超过企业微信频率限制，Siyu 会自动放慢重试；频繁出现请降低同步频率。",
    45033: "接口并发调用超过企业微信限制，Siyu 会自动放慢重试。",
    48002: "本应用没有调用该接口的权限：" + CONTACT_APP_FIX,
    48009: "本应用没有客户联系接口的权限：" + CONTACT_APP_FIX,
    60011: "成员或部门不在本应用的可见范围内："
    "在管理后台 → 应用管理 → 本应用 → 「可见范围」中添加。",
    60020: "调用来源 IP 不在「企业可信IP」中：" + TRUSTED_IP_FIX,
    60111: "成员 UserID 不存在：请检查 UserID 或先同步通讯录。",
    60123: "部门 ID 不存在：请先同步通讯录。",
    81013: "指定的成员、部门和标签全部无效：请先同步通讯录。",
    81017: "请求的数量超过企业微信上限：请缩小范围（例如按成员筛选）。",
    84061: "该成员和客户不是好友关系（客户可能已删除成员）。",
    84074: "本应用没有客户联系权限：" + CONTACT_APP_FIX,
    301002: "Secret 与应用不匹配（无权操作指定的应用）："
    "请确认 Secret 和 AgentId 属于同一个自建应用。",
}

TOKEN_CODES = frozenset({40001, 40013, 40014, 40091, 41001, 41002, 41004, 42001})
REFRESH_CODES = frozenset({40001, 40014, 42001})
RATE_LIMIT_CODES = frozenset({45009, 45033})
PERMISSION_CODES = frozenset({48001, 48002, 48009, 60011, 60020, 84074, 301002})
NOT_FOUND_CODES = frozenset({40003, 40050, 40068, 40096, 41044, 41047, 60111, 60123, 84061})
UNAVAILABLE_CODES = frozenset({-1})

_FROM_IP = re.compile(r"from ip: ([0-9a-fA-F.:]+)")


class WecomApiError(SiyuError):
    """WeCom answered with a non-zero errcode (or could not be reached)."""

    status_code = 502
    code: ClassVar[str] = "wecom_error"

    def __init__(self, errcode: int, errmsg: str, hint: str | None = None) -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.hint = hint
        details: dict[str, Any] = {"errcode": errcode, "errmsg": errmsg, "hint": hint}
        text = f"企业微信接口错误 {errcode}: {errmsg}"
        if hint:
            text = f"{text}（{hint}）"
        super().__init__(text, details)

    @property
    def caller_ip(self) -> str | None:
        """The IP WeCom saw the call from (its errmsg says `from ip: …`)."""
        found = _FROM_IP.search(self.errmsg)
        return found.group(1) if found else None


class WecomTokenError(WecomApiError):
    code = "wecom_token"


class WecomRateLimited(WecomApiError):
    code = "wecom_rate_limited"


class WecomPermissionDenied(WecomApiError):
    code = "wecom_permission"


class WecomInvalidParam(WecomApiError):
    code = "wecom_invalid_param"


class WecomNotFound(WecomApiError):
    code = "wecom_not_found"


class WecomUnavailable(WecomApiError):
    """WeCom is busy (-1), answered 5xx or could not be reached; `errcode` is -1."""

    code = "wecom_unavailable"


FAMILIES: tuple[tuple[frozenset[int], type[WecomApiError]], ...] = (
    (TOKEN_CODES, WecomTokenError),
    (RATE_LIMIT_CODES, WecomRateLimited),
    (PERMISSION_CODES, WecomPermissionDenied),
    (NOT_FOUND_CODES, WecomNotFound),
    (UNAVAILABLE_CODES, WecomUnavailable),
)


def error_class(errcode: int) -> type[WecomApiError]:
    for codes, family in FAMILIES:
        if errcode in codes:
            return family
    if 40000 <= errcode < 50000:
        return WecomInvalidParam
    return WecomApiError


def error_for(errcode: int, errmsg: str) -> WecomApiError:
    return error_class(errcode)(errcode, errmsg, HINTS.get(errcode))
