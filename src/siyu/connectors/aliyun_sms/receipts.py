"""Parsing what Aliyun pushes by HTTP batch push: delivery reports and customer replies.

Both are a JSON array posted to a URL set in the console (回执消息配置). The receiver answers
HTTP 200 with `ACK`; anything else (or a timeout) makes Aliyun push the batch again, so
handlers must be idempotent (key reports by biz_id + phone_number, replies by sequence_id).
Siyu's receiver of both is `siyu.messaging.hooks`.
"""

import json
from typing import Any, Final, TypeVar

from pydantic import ValidationError

from siyu.connectors.aliyun_sms.schemas import AliyunModel, SmsReport, SmsUplink
from siyu.exceptions import ValidationFailed

ACK: Final[dict[str, Any]] = {"code": 0, "msg": "接收成功"}
# What to answer when a batch could not be stored: Aliyun pushes it again later.
NACK_STATUS: Final[int] = 503
# Replies that mean "stop sending me marketing messages".
OPT_OUT_REPLIES: Final[frozenset[str]] = frozenset({"T", "TD", "R", "N", "退订", "拒收", "取消"})

Item = TypeVar("Item", bound=AliyunModel)


def _parse(body: bytes, model: type[Item], what: str) -> list[Item]:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed("body", f"{what}不是合法的 JSON：{exc}") from exc
    if not isinstance(data, list):
        raise ValidationFailed("body", f"{what}应为 JSON 数组，收到 {type(data).__name__}")
    items: list[Item] = []
    for index, raw in enumerate(data):
        if not isinstance(raw, dict):
            raise ValidationFailed(f"body[{index}]", f"{what}的每一项应为 JSON 对象")
        try:
            items.append(model.model_validate(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            raise ValidationFailed(
                f"body[{index}].{field}", f"{what}字段不合法：{first['msg']}"
            ) from exc
    return items


def parse_reports(body: bytes) -> list[SmsReport]:
    """The receipts of one SmsReport push; `ValidationFailed` names the bad item and field."""
    return _parse(body, SmsReport, "短信回执")


def parse_uplinks(body: bytes) -> list[SmsUplink]:
    """The replies of one SmsUp push; `ValidationFailed` names the bad item and field."""
    return _parse(body, SmsUplink, "上行短信")


def is_opt_out(content: str) -> bool:
    """A reply such as "T", "TD" or "退订" (回T退订 / 拒收请回复R)."""
    return content.strip().upper() in OPT_OUT_REPLIES
