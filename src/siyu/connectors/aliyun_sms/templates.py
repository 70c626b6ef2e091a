"""Aliyun SMS templates: `${var}` rendering, variable limits, segment counting.

Limits (Aliyun 短信服务 模板规范): a verification-code template has one variable of 4–6
letters or digits; in notification and marketing templates each variable value is 1–35
characters unless Aliyun lifted the limit for that template; the whole message (sign,
brackets, fixed text and values) is at most 500 characters. A message of up to 70
characters is one SMS; a longer one is split into segments of 67 characters.
"""

import re
from collections.abc import Mapping
from enum import IntEnum

from siyu.exceptions import ValidationFailed

VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
VARIABLE_MAX_CHARS = 35
CODE_MIN_CHARS, CODE_MAX_CHARS = 4, 6
MESSAGE_MAX_CHARS = 500
SINGLE_SEGMENT_CHARS = 70
LONG_SEGMENT_CHARS = 67
_CODE = re.compile(r"[A-Za-z0-9]+")


class TemplateType(IntEnum):
    """Aliyun's TemplateType / OuterTemplateType."""

    VERIFICATION_CODE = 0
    NOTIFICATION = 1
    MARKETING = 2
    INTERNATIONAL = 3


def variables(content: str) -> list[str]:
    """The variable names of a template, in order, each once."""
    return list(dict.fromkeys(VARIABLE.findall(content)))


def render_template(content: str, params: Mapping[str, str]) -> str:
    """`content` with every ${var} replaced; a variable without a value is an error."""
    missing = [name for name in variables(content) if name not in params]
    if missing:
        raise ValidationFailed(
            "params",
            f"模板缺少变量 {', '.join(missing)}",
            {"missing": missing, "aliyun_code": "isv.TEMPLATE_MISSING_PARAMETERS"},
        )
    return VARIABLE.sub(lambda match: str(params[match.group(1)]), content)


def check_params(
    content: str,
    params: Mapping[str, str],
    template_type: TemplateType | int = TemplateType.NOTIFICATION,
    *,
    max_chars: int = VARIABLE_MAX_CHARS,
) -> None:
    """Raise `ValidationFailed` naming the variable whose value Aliyun would refuse."""
    render_template(content, params)
    for name in variables(content):
        value = params[name]
        if not isinstance(value, str):
            raise ValidationFailed(
                f"params.{name}", "变量值必须是字符串", {"aliyun_code": "isv.INVALID_JSON_PARAM"}
            )
        if not value.strip():
            raise ValidationFailed(
                f"params.{name}", "变量值不能为空", {"aliyun_code": "isv.TEMPLATE_PARAMS_ILLEGAL"}
            )
        if template_type == TemplateType.VERIFICATION_CODE:
            if not CODE_MIN_CHARS <= len(value) <= CODE_MAX_CHARS or not _CODE.fullmatch(value):
                raise ValidationFailed(
                    f"params.{name}",
                    f"验证码变量须为 {CODE_MIN_CHARS}–{CODE_MAX_CHARS} 位数字或字母",
                    {"aliyun_code": "isv.TEMPLATE_PARAMS_ILLEGAL"},
                )
        elif len(value) > max_chars:
            raise ValidationFailed(
                f"params.{name}",
                f"变量值 {len(value)} 个字符，超过阿里云的上限 {max_chars} 个字符",
                {"length": len(value), "limit": max_chars, "aliyun_code": "isv.PARAM_LENGTH_LIMIT"},
            )


def full_text(sign_name: str, body: str) -> str:
    """The message as the handset shows it: 【sign】 then the body."""
    return f"【{sign_name}】{body}"


def segments(text: str) -> int:
    """How many SMS a message is billed as (70 characters, or 67 each when longer)."""
    if len(text) <= SINGLE_SEGMENT_CHARS:
        return 1
    return -(-len(text) // LONG_SEGMENT_CHARS)
