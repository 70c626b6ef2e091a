"""The /control/ API: reset, inspect, point callbacks somewhere, move the clock, inject faults."""

import dataclasses
import secrets
import time
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from siyu.connectors.wecom.crypto import CallbackCrypto, CallbackCryptoError
from siyu.connectors.wecom_sim.callbacks import release_held
from siyu.connectors.wecom_sim.people import router as people_router
from siyu.connectors.wecom_sim.state import SimState

router = APIRouter(prefix="/control")
router.include_router(people_router)


def sim(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


class ResetIn(BaseModel):
    """Fields of SimConfig to change; everything else keeps the running config's value."""

    overrides: dict[str, Any] = Field(default_factory=dict)


class CallbackIn(BaseModel):
    url: str
    token: str
    encoding_aes_key: str = Field(min_length=43, max_length=43)
    verify: bool = False


class ClockIn(BaseModel):
    seconds: float


class FaultsIn(BaseModel):
    burst_45009: int | None = Field(default=None, ge=0)
    burst_path: str | None = None
    # What the burst answers instead of 45009, e.g. -1 (system busy) or 45033.
    burst_errcode: int | None = None
    untrusted_ip: bool | None = None
    error_rate_5xx: float | None = Field(default=None, ge=0, le=1)
    delay_ms: int | None = Field(default=None, ge=0)
    duplicate_callbacks: bool | None = None
    shuffle_callbacks: int | None = Field(default=None, ge=0)
    expire_tokens: bool = False


@router.post("/reset")
def reset(body: ResetIn, request: Request) -> dict[str, Any]:
    state = sim(request)
    try:
        config = dataclasses.replace(state.config, **body.overrides)
    except TypeError as exc:
        raise HTTPException(400, str(exc)) from exc
    state.reset(config)
    return {"corp_id": state.corp_id}


@router.get("/state")
def dump_state(request: Request) -> dict[str, Any]:
    state = sim(request)
    with state.lock:
        return {
            "corp_id": state.corp_id,
            "now": state.now(),
            "departments": [dataclasses.asdict(d) for d in state.departments.values()],
            "members": [dataclasses.asdict(m) for m in state.members.values()],
            "contacts": [dataclasses.asdict(c) for c in state.contacts.values()],
            "follows": [dataclasses.asdict(f) for f in state.follows.values()],
            "tag_groups": [dataclasses.asdict(g) for g in state.tag_groups.values()],
            "tags": [dataclasses.asdict(t) for t in state.tags.values()],
            "contact_ways": [dataclasses.asdict(w) for w in state.contact_ways.values()],
            "groups": [dataclasses.asdict(g) for g in state.groups.values()],
            "welcome_codes": [dataclasses.asdict(w) for w in state.welcome_codes.values()],
            "mass_tasks": [dataclasses.asdict(t) for t in state.mass_tasks.values()],
            "transfers": [dataclasses.asdict(t) for t in state.transfers],
            "chat_transfers": [dataclasses.asdict(t) for t in state.chat_transfers],
            "pushes": [dataclasses.asdict(p) for p in state.pushes],
            "total_calls": state.total_calls,
        }


@router.get("/pushes")
def pushes(request: Request) -> list[dict[str, Any]]:
    state = sim(request)
    with state.lock:
        return [dataclasses.asdict(p) for p in state.pushes]


@router.post("/callback")
def set_callback(body: CallbackIn, request: Request) -> dict[str, Any]:
    """Where to push callbacks; with `verify`, first the GET handshake of protocol.md §2.2."""
    state = sim(request)
    try:
        crypto = CallbackCrypto(body.token, body.encoding_aes_key, state.corp_id)
    except CallbackCryptoError as exc:
        raise HTTPException(400, exc.reason) from exc
    if body.verify:
        _verify_url(crypto, body.url)
    state.set_callback(body.url, body.token, body.encoding_aes_key)
    return {"url": body.url, "verified": body.verify}


def _verify_url(crypto: CallbackCrypto, url: str) -> None:
    echo = str(secrets.randbelow(10**19))
    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
    echostr, msg_signature = crypto.seal(echo.encode(), timestamp, nonce)
    params = {"msg_signature": msg_signature, "timestamp": timestamp, "nonce": nonce}
    try:
        response = httpx.get(url, params={**params, "echostr": echostr}, timeout=5)
    except httpx.HTTPError as exc:
        raise HTTPException(400, f"callback URL unreachable: {exc}") from exc
    if response.status_code != 200 or response.text != echo:
        raise HTTPException(400, f"callback URL verification failed ({response.status_code})")


@router.post("/clock/advance")
def advance_clock(body: ClockIn, request: Request) -> dict[str, float]:
    state = sim(request)
    state.advance(body.seconds)
    return {"now": state.now()}


@router.post("/faults")
def faults(body: FaultsIn, request: Request) -> dict[str, Any]:
    state = sim(request)
    with state.lock:
        if body.burst_45009 is not None:
            state.burst_45009 = (body.burst_45009, body.burst_path)
            state.burst_errcode = body.burst_errcode or 45009
        if body.untrusted_ip is not None:
            state.untrusted_ip = body.untrusted_ip
        if body.error_rate_5xx is not None:
            state.error_rate_5xx = body.error_rate_5xx
        if body.delay_ms is not None:
            state.delay_ms = body.delay_ms
        if body.duplicate_callbacks is not None:
            state.duplicate_callbacks = body.duplicate_callbacks
        if body.shuffle_callbacks is not None:
            state.shuffle_callbacks = body.shuffle_callbacks
            if body.shuffle_callbacks <= 1:
                release_held(state)
        if body.expire_tokens:
            state.expire_tokens()
        return {
            "burst_45009": state.burst_45009[0],
            "burst_errcode": state.burst_errcode,
            "untrusted_ip": state.untrusted_ip,
            "error_rate_5xx": state.error_rate_5xx,
            "delay_ms": state.delay_ms,
            "duplicate_callbacks": state.duplicate_callbacks,
            "shuffle_callbacks": state.shuffle_callbacks,
        }


@router.post("/callbacks/flush")
def flush_callbacks(request: Request) -> dict[str, int]:
    """Send the callbacks held back for shuffling now (shuffled)."""
    state = sim(request)
    with state.lock:
        held = len(state.held_pushes)
        release_held(state)
    return {"released": held}
