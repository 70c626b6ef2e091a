"""create_app(): middleware, error handlers, routers."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import Engine, text
from starlette.exceptions import HTTPException as StarletteHTTPException

from siyu.api import api_router
from siyu.config import Settings, get_settings
from siyu.connectors.wecom.callbacks import router as wecom_callback_router
from siyu.console.serving import mount_console
from siyu.content.links_endpoints import public_router as short_links_router
from siyu.content.preferences_endpoints import router as preferences_router
from siyu.content.storage import configure_store, store_from_settings
from siyu.db.session import get_engine, unit_of_work
from siyu.exceptions import SiyuError, TooManyRequests, Unauthorized
from siyu.messaging.hooks import router as sms_hooks_router
from siyu.observability import MetricsMiddleware
from siyu.worker.runner import WorkerPool
from siyu.worker.schedules import ensure_installation_schedules
from siyu.workspace.throttle import LoginThrottle

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. not_found")
    message: str
    details: dict[str, Any] = Field(description="e.g. `field` naming the offending input")


class ErrorOut(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


# Declared on every API route so the OpenAPI schema (and the TypeScript client) know the
# error shape; 422 replaces FastAPI's default, which our handler does not render.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not signed in, or the session or key is invalid"},
    403: {"model": ErrorOut, "description": "the role does not allow this, or CSRF failed"},
    404: {"model": ErrorOut, "description": "no such object in this workspace"},
    422: {"model": ErrorOut, "description": "invalid input; details.field names it"},
}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[-1] if loc else "request")


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _field_path(tuple(e.get("loc", ()))),
            "message": e.get("msg", ""),
            "type": e.get("type"),
        }
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "request", "message": "invalid"}
    body = {
        "error": {
            "code": "validation_failed",
            "message": f"{first['field']}: {first['message']}",
            "details": {"field": first["field"], "errors": errors},
        }
    }
    return JSONResponse(body, status_code=422)


def _siyu_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SiyuError)
    headers = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    retry_after = exc.details.get("retry_after_seconds")
    if isinstance(exc, TooManyRequests) and isinstance(retry_after, int):
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)


def _unexpected_error(_request: Request, _exc: Exception) -> JSONResponse:
    """Same error shape for bugs. Starlette re-raises the exception after this answer, so
    the server logs the traceback; the client never sees it."""
    body = {"error": {"code": "internal_error", "message": "internal server error", "details": {}}}
    return JSONResponse(body, status_code=500)


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    body = {"error": {"code": code, "message": str(exc.detail), "details": {}}}
    return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


def start_worker_pool(engine: Engine, settings: Settings) -> WorkerPool:
    """The in-process worker: the installation's schedules, then the runner threads."""
    with unit_of_work(engine) as session:
        ensure_installation_schedules(session, settings)
    pool = WorkerPool(
        engine,
        concurrency=settings.worker_concurrency,
        realtime_concurrency=settings.worker_realtime_concurrency,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=settings.worker_poll_seconds,
    )
    pool.start()
    return pool


def serving_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    run_worker: bool | None = None,
) -> FastAPI:
    """create_app() as `siyu serve` runs it; uvicorn's factory in each of several web processes.

    What exists once the app is built lives as long as the process. Frozen, it is left out
    of the garbage collector's full passes, which otherwise stop every request in flight
    for ~0.3 s every few thousand requests.
    """
    application = create_app(settings, engine=engine, run_worker=run_worker)
    gc.collect()
    gc.freeze()
    return application


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    run_worker: bool | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    db_engine = engine or get_engine()
    start_worker = settings.worker_in_process if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        pool = start_worker_pool(db_engine, settings) if start_worker else None
        try:
            yield
        finally:
            if pool is not None:
                pool.stop()

    app = FastAPI(
        title="Siyu API",
        version="0.1.0",
        summary="私域 SCRM: customers, tags, events, orders and everything built on them",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.engine = db_engine
    app.state.settings = settings
    configure_store(store_from_settings(settings))
    app.state.login_throttle = LoginThrottle(
        max_failures=settings.login_max_failures,
        window_seconds=settings.login_failure_window_seconds,
    )
    app.add_exception_handler(SiyuError, _siyu_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)

    app.add_middleware(MetricsMiddleware)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        try:
            with db_engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # readiness reports any database failure
            log.warning("readiness check failed: %s", exc)
            return JSONResponse(
                {"status": "unavailable", "database": "unreachable"}, status_code=503
            )
        return JSONResponse({"status": "ready", "database": db_engine.dialect.name})

    @app.get("/metrics", include_in_schema=False)
    def metrics_endpoint() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    # Routes match in order, each candidate at a cost: the public high-volume paths
    # (WeCom callbacks, link redirects) come before the API's hundreds of routes.
    app.include_router(wecom_callback_router)
    app.include_router(short_links_router)
    app.include_router(preferences_router)
    app.include_router(sms_hooks_router)
    app.include_router(api_router, responses=ERROR_RESPONSES)
    mount_console(app)
    return app
