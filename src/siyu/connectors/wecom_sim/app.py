"""The simulator's ASGI app: WeCom's /cgi-bin/ APIs plus a /control/ API that plays the people."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from siyu.connectors.wecom_sim import apis  # noqa: F401 - registers every API
from siyu.connectors.wecom_sim.callbacks import Pusher
from siyu.connectors.wecom_sim.config import SimConfig
from siyu.connectors.wecom_sim.control import router as control_router
from siyu.connectors.wecom_sim.errors import ApiError, error_response, ok_response
from siyu.connectors.wecom_sim.limits import check_limits, enter, leave
from siyu.connectors.wecom_sim.qr import qr_png
from siyu.connectors.wecom_sim.registry import APIS, Api
from siyu.connectors.wecom_sim.state import SecretKind, SimState
from siyu.connectors.wecom_sim.task_actions import settle_transfers


def create_sim_app(config: SimConfig, state: SimState | None = None) -> FastAPI:
    sim_state = state or SimState(config)
    pusher = Pusher(sim_state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pusher.start()
        yield
        pusher.stop()

    app = FastAPI(title="WeCom simulator", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.sim = sim_state
    app.include_router(control_router)

    @app.get("/sim/qr/{config_id}.png")
    def contact_way_qr(config_id: str) -> Response:
        with sim_state.lock:
            if config_id not in sim_state.contact_ways:
                return Response(status_code=404)
        return Response(
            qr_png(f"https://work.weixin.qq.com/ca/{config_id}"), media_type="image/png"
        )

    @app.api_route("/cgi-bin/{path:path}", methods=["GET", "POST"])
    async def cgi(path: str, request: Request) -> Response:
        api = APIS.get(path)
        if api is None:
            return JSONResponse({"errcode": 404, "errmsg": "not found"}, status_code=404)
        return await _answer(sim_state, api, request)

    return app


async def _answer(state: SimState, api: Api, request: Request) -> JSONResponse:
    """One call as WeCom answers it: faults, limits, token, scope, then the handler."""
    with state.lock:
        delay = state.delay_ms
        fail_5xx = state.error_rate_5xx > 0 and state.rng.random() < state.error_rate_5xx
    if fail_5xx:
        return JSONResponse({"message": "bad gateway"}, status_code=state.rng.choice((500, 502)))
    try:
        with state.lock:
            if state.untrusted_ip:
                raise ApiError(60020)
            check_limits(state, api.path, debug=request.query_params.get("debug") == "1")
        if request.method != api.method:
            raise ApiError(43001 if api.method == "GET" else 43002)
        if api.needs_token:
            kind = _token_kind(state, request.query_params.get("access_token"))
            if kind not in api.scopes:
                raise ApiError(48002, "this secret cannot call this api")
        params = await _params(request, api.method)
        with state.lock:
            state.public_url = str(request.base_url).rstrip("/")
            settle_transfers(state)
        enter(state, api.path)
        try:
            if delay:
                await asyncio.sleep(delay / 1000)
            with state.lock:
                body = api.handler(state, params)
        finally:
            leave(state, api.path)
    except ApiError as exc:
        return error_response(exc.errcode, exc.detail, **{**api.empty_on_error, **exc.extra})
    return ok_response(body)


def _token_kind(state: SimState, token: str | None) -> SecretKind:
    if not token:
        raise ApiError(41001)
    with state.lock:
        found = state.tokens.get(token)
        if found is None:
            raise ApiError(40014)
        if found.expires_at <= state.now():
            raise ApiError(42001)
        return found.kind


async def _params(request: Request, method: str) -> dict[str, Any]:
    params: dict[str, Any] = {k: v for k, v in request.query_params.items() if k != "access_token"}
    if method == "POST" and request.headers.get("content-type", "").startswith("multipart/"):
        # media/upload and media/uploadimg: a file part arrives as (filename, type, bytes).
        async with request.form() as form:
            for name, value in form.multi_items():
                if isinstance(value, str):
                    params[name] = value
                else:
                    params[name] = (value.filename or "", value.content_type, await value.read())
    elif method == "POST":
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(47001) from exc
        if not isinstance(body, dict):
            raise ApiError(47001)
        params.update(body)
    # A JSON null reads as an absent field, as WeCom's own parser treats it.
    return {k: v for k, v in params.items() if v is not None}
