"""The /control/ API: reset, inspect, configure the account, play the customers, inject faults."""

import dataclasses
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from siyu.connectors.aliyun_sms.receipts import is_opt_out
from siyu.connectors.aliyun_sms_sim.pushes import queue_push, settle_reports
from siyu.connectors.aliyun_sms_sim.state import (
    AUDIT_PASS,
    Sign,
    SimState,
    Template,
    Uplink,
    china_text,
)

router = APIRouter(prefix="/control")


def sim(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


class ResetIn(BaseModel):
    """Fields of SimConfig to change; everything else keeps the running config's value."""

    overrides: dict[str, Any] = Field(default_factory=dict)


class KeyIn(BaseModel):
    access_key_id: str = Field(min_length=1)
    access_key_secret: str = Field(min_length=1)
    replace: bool = False  # drop every other key


class SignIn(BaseModel):
    sign_name: str = Field(min_length=1)
    audit_status: str = AUDIT_PASS
    business_type: Literal["通用", "验证码"] = "通用"
    reject_info: str = ""


class TemplateIn(BaseModel):
    template_code: str = Field(min_length=1)
    template_name: str = ""
    template_content: str = Field(min_length=1)
    template_type: int = Field(default=1, ge=0, le=3)
    audit_status: str = AUDIT_PASS
    reject_info: str = ""


class UrlsIn(BaseModel):
    report_url: str | None = None
    uplink_url: str | None = None


class OutcomesIn(BaseModel):
    fail_numbers: dict[str, str] | None = None
    fail_ratio: float | None = Field(default=None, ge=0, le=1)
    fail_code: str | None = None
    seed: int | None = None
    report_delay: float | None = Field(default=None, ge=0)


class FaultsIn(BaseModel):
    error_rate_5xx: float | None = Field(default=None, ge=0, le=1)
    throttle_burst: int | None = Field(default=None, ge=0)
    system_error_burst: int | None = Field(default=None, ge=0)
    delay_ms: int | None = Field(default=None, ge=0)
    balance_segments: int | None = Field(default=None, ge=0)
    unlimited_balance: bool = False
    answer_timeouts: int | None = Field(default=None, ge=0)
    request_timeouts: int | None = Field(default=None, ge=0)
    details_delay: float | None = Field(default=None, ge=0)


class ReplyIn(BaseModel):
    phone_number: str = Field(min_length=1)
    content: str = Field(min_length=1)
    sign_name: str | None = None


class ClockIn(BaseModel):
    seconds: float


@router.post("/reset")
def reset(body: ResetIn, request: Request) -> dict[str, Any]:
    state = sim(request)
    try:
        config = dataclasses.replace(state.config, **body.overrides)
    except TypeError as exc:
        raise HTTPException(400, str(exc)) from exc
    state.reset(config)
    return {"access_key_id": config.resolved_access_key_id}


@router.get("/state")
def dump_state(request: Request) -> dict[str, Any]:
    state = sim(request)
    with state.lock:
        return {
            "now": state.now(),
            "access_key_ids": sorted(state.keys),
            "signs": [dataclasses.asdict(s) for s in state.signs.values()],
            "templates": [dataclasses.asdict(t) for t in state.templates.values()],
            "messages": [dataclasses.asdict(m) for m in state.messages],
            "uplinks": [dataclasses.asdict(u) for u in state.uplinks],
            "opted_out": sorted(state.opted_out),
            "pushes": [dataclasses.asdict(p) for p in state.pushes],
            "report_url": state.report_url,
            "uplink_url": state.uplink_url,
            "balance_segments": state.balance_segments,
            "total_calls": state.total_calls,
        }


@router.get("/messages")
def messages(request: Request) -> list[dict[str, Any]]:
    state = sim(request)
    with state.lock:
        return [dataclasses.asdict(m) for m in state.messages]


@router.get("/pushes")
def pushes(request: Request) -> list[dict[str, Any]]:
    state = sim(request)
    with state.lock:
        return [dataclasses.asdict(p) for p in state.pushes]


@router.post("/keys")
def add_key(body: KeyIn, request: Request) -> dict[str, list[str]]:
    state = sim(request)
    with state.lock:
        if body.replace:
            state.keys.clear()
        state.keys[body.access_key_id] = body.access_key_secret
        return {"access_key_ids": sorted(state.keys)}


@router.post("/signs")
def put_sign(body: SignIn, request: Request) -> dict[str, Any]:
    state = sim(request)
    with state.lock:
        sign = Sign(
            body.sign_name, body.audit_status, body.business_type, reject_info=body.reject_info
        )
        state.signs[sign.sign_name] = sign
        return dataclasses.asdict(sign)


@router.post("/templates")
def put_template(body: TemplateIn, request: Request) -> dict[str, Any]:
    state = sim(request)
    with state.lock:
        template = Template(
            body.template_code,
            body.template_name or body.template_code,
            body.template_content,
            body.template_type,
            audit_status=body.audit_status,
            reject_info=body.reject_info,
        )
        state.templates[template.template_code] = template
        return dataclasses.asdict(template)


@router.post("/urls")
def set_urls(body: UrlsIn, request: Request) -> dict[str, str]:
    """Where receipts (SmsReport) and replies (SmsUp) are pushed; "" stops pushing."""
    state = sim(request)
    with state.lock:
        if body.report_url is not None:
            state.report_url = body.report_url
        if body.uplink_url is not None:
            state.uplink_url = body.uplink_url
        return {"report_url": state.report_url, "uplink_url": state.uplink_url}


@router.post("/outcomes")
def set_outcomes(body: OutcomesIn, request: Request) -> dict[str, Any]:
    """How receipts end: numbers that fail with a code, a seeded share of failures."""
    state = sim(request)
    with state.lock:
        if body.fail_numbers is not None:
            state.fail_numbers = dict(body.fail_numbers)
        if body.fail_ratio is not None:
            state.fail_ratio = body.fail_ratio
        if body.fail_code is not None:
            state.fail_code = body.fail_code
        if body.seed is not None:
            state.report_rng.seed(body.seed)
        if body.report_delay is not None:
            state.report_delay = body.report_delay
        return {
            "fail_numbers": state.fail_numbers,
            "fail_ratio": state.fail_ratio,
            "fail_code": state.fail_code,
            "report_delay": state.report_delay,
        }


@router.post("/faults")
def faults(body: FaultsIn, request: Request) -> dict[str, Any]:
    state = sim(request)
    with state.lock:
        if body.error_rate_5xx is not None:
            state.error_rate_5xx = body.error_rate_5xx
        if body.throttle_burst is not None:
            state.throttle_burst = body.throttle_burst
        if body.system_error_burst is not None:
            state.system_error_burst = body.system_error_burst
        if body.delay_ms is not None:
            state.delay_ms = body.delay_ms
        if body.balance_segments is not None:
            state.balance_segments = body.balance_segments
        if body.unlimited_balance:
            state.balance_segments = None
        if body.answer_timeouts is not None:
            state.answer_timeouts = body.answer_timeouts
        if body.request_timeouts is not None:
            state.request_timeouts = body.request_timeouts
        if body.details_delay is not None:
            state.details_delay = body.details_delay
        return {
            "error_rate_5xx": state.error_rate_5xx,
            "throttle_burst": state.throttle_burst,
            "system_error_burst": state.system_error_burst,
            "delay_ms": state.delay_ms,
            "balance_segments": state.balance_segments,
            "answer_timeouts": state.answer_timeouts,
            "request_timeouts": state.request_timeouts,
            "details_delay": state.details_delay,
        }


@router.post("/reply")
def reply(body: ReplyIn, request: Request) -> dict[str, Any]:
    """A customer answers by SMS (e.g. "T"): queued for the uplink URL; T/R/退订 opt out."""
    state = sim(request)
    with state.lock:
        sign_name = body.sign_name
        if sign_name is None:
            last = [m for m in state.messages if m.phone_number == body.phone_number]
            sign_name = last[-1].sign_name if last else state.config.brand
        uplink = Uplink(
            phone_number=body.phone_number,
            content=body.content,
            sign_name=sign_name,
            dest_code=str(1000 + state.config.seed % 9000),
            sequence_id=1_000_000_000 + state.next_id(),
            send_time=state.now(),
        )
        state.uplinks.append(uplink)
        if is_opt_out(body.content):
            state.opted_out.add(body.phone_number)
        queue_push(
            state,
            "uplink",
            [
                {
                    "phone_number": uplink.phone_number,
                    "send_time": china_text(uplink.send_time),
                    "content": uplink.content,
                    "sign_name": uplink.sign_name,
                    "dest_code": uplink.dest_code,
                    "sequence_id": uplink.sequence_id,
                }
            ],
        )
        return dataclasses.asdict(uplink)


@router.post("/reports/flush")
def flush(request: Request) -> dict[str, int]:
    """Every waiting message gets its receipt now, and every pending push is due now."""
    state = sim(request)
    with state.lock:
        settled = settle_reports(state, everything=True)
        now = state.now()
        due = 0
        for push in state.pushes:
            if push.status == "pending":
                push.next_at = now
                due += 1
        return {"settled": settled, "pushes_due": due}


@router.post("/clock/advance")
def advance_clock(body: ClockIn, request: Request) -> dict[str, float]:
    state = sim(request)
    state.advance(body.seconds)
    return {"now": state.now()}
