"""The simulator's ASGI app: Dysmsapi's RPC endpoint at / plus a /control/ API."""

import asyncio
import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from siyu.connectors.aliyun_sms.client import API_VERSION
from siyu.connectors.aliyun_sms.signing import SIGNATURE_METHOD, TIMESTAMP_FORMAT, signature
from siyu.connectors.aliyun_sms_sim.actions import ACTIONS, SEND_ACTIONS
from siyu.connectors.aliyun_sms_sim.config import SimConfig
from siyu.connectors.aliyun_sms_sim.control import router as control_router
from siyu.connectors.aliyun_sms_sim.errors import ApiError, error_response, missing
from siyu.connectors.aliyun_sms_sim.pushes import Pusher
from siyu.connectors.aliyun_sms_sim.state import SimState


def create_sim_app(config: SimConfig, state: SimState | None = None) -> FastAPI:
    sim_state = state or SimState(config)
    pusher = Pusher(sim_state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pusher.start()
        yield
        pusher.stop()

    app = FastAPI(title="Aliyun SMS simulator", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.sim = sim_state
    app.include_router(control_router)

    @app.api_route("/", methods=["GET", "POST"])
    async def rpc(request: Request) -> Response:
        return await _answer(sim_state, request)

    return app


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        body = (await request.body()).decode("utf-8", errors="replace")
        params.update(parse_qsl(body, keep_blank_values=True))
    return params


async def _answer(state: SimState, request: Request) -> JSONResponse:
    with state.lock:
        state.total_calls += 1
        request_id = state.new_request_id()
        delay = state.delay_ms
        fail_5xx = state.error_rate_5xx > 0 and state.rng.random() < state.error_rate_5xx
    if delay:
        await asyncio.sleep(delay / 1000)
    if fail_5xx:
        with state.lock:
            code = state.rng.choice(("InternalError", "ServiceUnavailable"))
        return error_response(ApiError(code), request_id)
    params = await _params(request)
    held = False
    try:
        with state.lock:
            _authenticate(state, request.method, params)
            name = params.get("Action", "")
            action = ACTIONS.get(name)
            if action is None:
                raise ApiError("InvalidAction.NotFound")
            if state.throttle_burst > 0:
                state.throttle_burst -= 1
                raise ApiError("Throttling.User")
            if state.system_error_burst > 0:
                state.system_error_burst -= 1
                raise ApiError("isp.SYSTEM_ERROR")
            if name in SEND_ACTIONS and state.request_timeouts > 0:
                state.request_timeouts -= 1
                held = True
                raise ApiError("ServiceUnavailable")  # never accepted; the caller gave up
            if name in SEND_ACTIONS and state.answer_timeouts > 0:
                state.answer_timeouts -= 1
                held = True
            response = JSONResponse(action(state, params, request_id))
    except ApiError as exc:
        response = error_response(exc, request_id)
    if held:
        await _hold(request, state.config.answer_hold_seconds)
    return response


async def _hold(request: Request, seconds: float) -> None:
    """Keep the answer back until the caller hangs up (its timeout) or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not await request.is_disconnected():
        await asyncio.sleep(0.02)


def _authenticate(state: SimState, method: str, params: dict[str, str]) -> None:
    """Aliyun's gateway checks: version, key, timestamp, signature, then the nonce."""
    for name in ("AccessKeyId", "Signature", "SignatureNonce", "Timestamp", "Action", "Version"):
        if not params.get(name):
            raise missing(name)
    if params["Version"] != API_VERSION:
        raise ApiError("InvalidVersion")
    if params.get("SignatureMethod", SIGNATURE_METHOD) != SIGNATURE_METHOD:
        raise ApiError("InvalidSignatureMethod")
    secret = state.keys.get(params["AccessKeyId"])
    if secret is None:
        raise ApiError("InvalidAccessKeyId.NotFound")
    try:
        sent_at = datetime.strptime(params["Timestamp"], TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise ApiError("InvalidTimeStamp.Format") from exc
    # The gateway compares with real time, not the simulator clock tests move.
    wall = time.time()
    if abs(wall - sent_at.timestamp()) > state.config.timestamp_skew_seconds:
        raise ApiError("InvalidTimeStamp.Expired")
    expected = signature(method, params, secret)
    if not hmac.compare_digest(expected, params["Signature"]):
        raise ApiError("SignatureDoesNotMatch")
    horizon = wall - 2 * state.config.timestamp_skew_seconds
    while state.nonce_times and state.nonce_times[0][0] < horizon:
        state.nonces.discard(state.nonce_times.popleft()[1])
    if params["SignatureNonce"] in state.nonces:
        raise ApiError("SignatureNonceUsed")
    state.nonces.add(params["SignatureNonce"])
    state.nonce_times.append((wall, params["SignatureNonce"]))
