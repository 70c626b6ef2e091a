"""The Dysmsapi actions Siyu uses, answered from the simulated account."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from siyu.connectors.aliyun_sms.schemas import CHINA
from siyu.connectors.aliyun_sms.templates import (
    CODE_MAX_CHARS,
    CODE_MIN_CHARS,
    MESSAGE_MAX_CHARS,
    full_text,
    segments,
    variables,
)
from siyu.connectors.aliyun_sms_sim.errors import ApiError, missing
from siyu.connectors.aliyun_sms_sim.limits import check_flow, record_flow
from siyu.connectors.aliyun_sms_sim.state import (
    AUDIT_PASS,
    SentSms,
    SimState,
    Template,
    china_text,
)

Params = dict[str, str]
Action = Callable[[SimState, Params, str], dict[str, Any]]

SEND_MAX_NUMBERS = 1000
BATCH_MAX_NUMBERS = 100
_MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9]\d{9})")
_URL = re.compile(r"(https?://|www\.)|\b[a-z0-9-]+\.(?:com|cn|net|top|cc|vip)\b", re.IGNORECASE)
_CODE = re.compile(r"[A-Za-z0-9]+")


@dataclass
class Draft:
    phone: str
    sign_name: str
    template: Template
    params: dict[str, str]
    content: str
    segments: int


def _required(params: Params, name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise missing(name)
    return value


def _phone(raw: str) -> str:
    match = _MOBILE.fullmatch(raw.strip())
    if match is None:
        raise ApiError("isv.MOBILE_NUMBER_ILLEGAL", f"非法手机号: {raw}")
    return match.group(1)


def _template(state: SimState, code: str) -> Template:
    template = state.templates.get(code)
    if template is None or template.audit_status != AUDIT_PASS:
        raise ApiError("isv.SMS_TEMPLATE_ILLEGAL")
    return template


def _check_sign(state: SimState, sign_name: str, template: Template) -> None:
    sign = state.signs.get(sign_name)
    if sign is None or sign.audit_status != AUDIT_PASS:
        raise ApiError("isv.SMS_SIGNATURE_ILLEGAL")
    if sign.business_type == "验证码" and template.template_type != 0:
        raise ApiError("isv.SMS_SIGNATURE_SCENE_ILLEGAL")


def _values(raw: str | dict[str, Any] | None) -> dict[str, str]:
    if raw is None or raw == "":
        return {}
    data = raw
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ApiError("isv.INVALID_JSON_PARAM") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ApiError("isv.INVALID_JSON_PARAM")
    return {str(k): v for k, v in data.items()}


def _draft(
    state: SimState, phone: str, sign_name: str, template: Template, values: dict[str, str]
) -> Draft:
    _check_sign(state, sign_name, template)
    names = variables(template.template_content)
    absent = [name for name in names if name not in values]
    if absent:
        raise ApiError("isv.TEMPLATE_MISSING_PARAMETERS", f"模板缺少变量: {','.join(absent)}")
    for name in names:
        value = values[name]
        if _URL.search(value) or any(word in value for word in state.config.black_keywords):
            raise ApiError("isv.BLACK_KEY_CONTROL_LIMIT", f"黑名单管控: 变量 {name}")
        if template.template_type == 0:
            if not (CODE_MIN_CHARS <= len(value) <= CODE_MAX_CHARS and _CODE.fullmatch(value)):
                raise ApiError("isv.TEMPLATE_PARAMS_ILLEGAL")
        elif not value.strip():
            raise ApiError("isv.TEMPLATE_PARAMS_ILLEGAL")
        elif len(value) > state.config.variable_max_chars:
            raise ApiError("isv.PARAM_LENGTH_LIMIT", f"参数超出长度限制: {name}")
    body = template.template_content
    for name in names:
        body = body.replace(f"${{{name}}}", values[name])
    content = full_text(sign_name, body)
    if len(content) > MESSAGE_MAX_CHARS:
        raise ApiError("isv.PARAM_LENGTH_LIMIT", "短信内容超过500字")
    return Draft(phone, sign_name, template, values, content, segments(content))


def _accept(state: SimState, drafts: list[Draft], out_id: str, request_id: str) -> str:
    """Flow control and balance for every number first, then record them all at once."""
    for draft in drafts:
        check_flow(state, draft.sign_name, draft.template, draft.phone)
    needed = sum(draft.segments for draft in drafts)
    if state.balance_segments is not None:
        if needed > state.balance_segments:
            raise ApiError("isv.AMOUNT_NOT_ENOUGH")
        state.balance_segments -= needed
    biz_id = state.new_biz_id()
    now = state.now()
    for draft in drafts:
        record_flow(state, draft.sign_name, draft.template, draft.phone)
        state.messages.append(
            SentSms(
                biz_id=biz_id,
                request_id=request_id,
                phone_number=draft.phone,
                sign_name=draft.sign_name,
                template_code=draft.template.template_code,
                template_type=draft.template.template_type,
                params=draft.params,
                content=draft.content,
                segments=draft.segments,
                out_id=out_id,
                send_time=now,
                report_due=now + state.report_delay,
                blacklisted=draft.template.template_type == 2 and draft.phone in state.opted_out,
            )
        )
    return biz_id


def send_sms(state: SimState, params: Params, request_id: str) -> dict[str, Any]:
    numbers = [n for n in _required(params, "PhoneNumbers").split(",") if n.strip()]
    sign_name = _required(params, "SignName")
    template = _template(state, _required(params, "TemplateCode"))
    if len(numbers) > SEND_MAX_NUMBERS:
        raise ApiError("isv.MOBILE_COUNT_OVER_LIMIT")
    values = _values(params.get("TemplateParam"))
    drafts = [_draft(state, _phone(n), sign_name, template, values) for n in numbers]
    biz_id = _accept(state, drafts, params.get("OutId", ""), request_id)
    return {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": request_id}


def _json_list(params: Params, name: str, *, required: bool = True) -> list[Any]:
    raw = _required(params, name) if required else params.get(name, "")
    if not raw:
        return []
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ApiError("isv.INVALID_JSON_PARAM", f"{name} 不是合法的 JSON 数组") from exc
    if not isinstance(data, list):
        raise ApiError("isv.INVALID_JSON_PARAM", f"{name} 不是合法的 JSON 数组")
    return data


def send_batch_sms(state: SimState, params: Params, request_id: str) -> dict[str, Any]:
    numbers = _json_list(params, "PhoneNumberJson")
    signs = _json_list(params, "SignNameJson")
    template = _template(state, _required(params, "TemplateCode"))
    values = _json_list(params, "TemplateParamJson", required=False)
    if not numbers or len(numbers) > BATCH_MAX_NUMBERS:
        raise ApiError("isv.MOBILE_COUNT_OVER_LIMIT")
    if len(signs) != len(numbers) or (values and len(values) != len(numbers)):
        raise ApiError("isv.INVALID_PARAMETERS", "号码、签名和变量的个数不一致")
    drafts = [
        _draft(
            state,
            _phone(str(number)),
            str(signs[index]),
            template,
            _values(values[index] if values else None),
        )
        for index, number in enumerate(numbers)
    ]
    biz_id = _accept(state, drafts, "", request_id)
    return {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": request_id}


def _int(params: Params, name: str, default: int | None, low: int, high: int) -> int:
    raw = params.get(name, "")
    if not raw:
        if default is None:
            raise missing(name)
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError("isv.INVALID_PARAMETERS", f"{name} 不是整数") from exc
    if not low <= value <= high:
        raise ApiError("isv.INVALID_PARAMETERS", f"{name} 须在 {low}–{high} 之间")
    return value


def query_send_details(state: SimState, params: Params, request_id: str) -> dict[str, Any]:
    phone = _phone(_required(params, "PhoneNumber"))
    try:
        day = (
            datetime.strptime(_required(params, "SendDate"), "%Y%m%d").replace(tzinfo=CHINA).date()
        )
    except ValueError as exc:
        raise ApiError("isv.INVALID_PARAMETERS", "SendDate 格式应为 yyyyMMdd") from exc
    today = datetime.fromtimestamp(state.now(), UTC).astimezone(CHINA).date()
    if day > today or day < today - timedelta(days=30):
        raise ApiError("isv.INVALID_PARAMETERS", "只能查询最近 30 天的发送记录")
    page_size = _int(params, "PageSize", None, 1, 50)
    page = _int(params, "CurrentPage", None, 1, 10**6)
    biz_id = params.get("BizId", "")
    # Aliyun's records show an accepted message a while after the send.
    listed_before = state.now() - state.details_delay
    found = [
        m
        for m in state.messages
        if m.phone_number == phone
        and m.send_time <= listed_before
        and datetime.fromtimestamp(m.send_time, UTC).astimezone(CHINA).date() == day
        and (not biz_id or m.biz_id == biz_id)
    ]
    found.sort(key=lambda m: m.send_time, reverse=True)
    rows = found[(page - 1) * page_size : page * page_size]
    return {
        "Code": "OK",
        "Message": "OK",
        "RequestId": request_id,
        "TotalCount": len(found),
        "SmsSendDetailDTOs": {
            "SmsSendDetailDTO": [
                {
                    "PhoneNum": m.phone_number,
                    "SendStatus": m.send_status,
                    "ErrCode": m.err_code,
                    "TemplateCode": m.template_code,
                    "Content": m.content,
                    "SendDate": china_text(m.send_time),
                    "ReceiveDate": china_text(m.report_time) if m.report_time else "",
                    "OutId": m.out_id,
                }
                for m in rows
            ]
        },
    }


def _reason(reject_info: str, create_date: str) -> dict[str, str]:
    if not reject_info:
        return {}
    return {"RejectInfo": reject_info, "RejectDate": create_date, "RejectSubInfo": reject_info}


def _page(params: Params, items: list[Any]) -> list[Any]:
    page = _int(params, "PageIndex", 1, 1, 10**6)
    size = _int(params, "PageSize", 10, 1, 50)
    return items[(page - 1) * size : page * size]


def query_template_list(state: SimState, params: Params, request_id: str) -> dict[str, Any]:
    rows = _page(params, list(state.templates.values()))
    return {
        "Code": "OK",
        "Message": "OK",
        "RequestId": request_id,
        "SmsTemplateList": [
            {
                "TemplateCode": t.template_code,
                "TemplateName": t.template_name,
                "TemplateContent": t.template_content,
                "TemplateType": t.template_type,
                "OuterTemplateType": t.template_type,
                "AuditStatus": t.audit_status,
                "CreateDate": t.create_date,
                "OrderId": str(20000000 + index),
                "Reason": _reason(t.reject_info, t.create_date),
            }
            for index, t in enumerate(rows)
        ],
    }


def query_sign_list(state: SimState, params: Params, request_id: str) -> dict[str, Any]:
    rows = _page(params, list(state.signs.values()))
    return {
        "Code": "OK",
        "Message": "OK",
        "RequestId": request_id,
        "SmsSignList": [
            {
                "SignName": s.sign_name,
                "AuditStatus": s.audit_status,
                "BusinessType": s.business_type,
                "CreateDate": s.create_date,
                "OrderId": str(10000000 + index),
                "Reason": _reason(s.reject_info, s.create_date),
            }
            for index, s in enumerate(rows)
        ],
    }


SEND_ACTIONS = frozenset({"SendSms", "SendBatchSms"})
ACTIONS: dict[str, Action] = {
    "SendSms": send_sms,
    "SendBatchSms": send_batch_sms,
    "QuerySendDetails": query_send_details,
    "QuerySmsTemplateList": query_template_list,
    "QuerySmsSignList": query_sign_list,
}
