"""How every WeCom call travels: token, shared rate limit, retries, errors, redaction.

Every call first passes the shared rate limit of its API ("wecom:" + path), then:
* 40014 / 42001 / 40001 → the token is dropped, refreshed and the call retried once;
* 45009 / 45033 → backed off with jitter and retried (bounded);
* HTTP 5xx, -1 and network errors → retried with backoff for reads only;
* any other errcode → the typed `WecomApiError` of `siyu.connectors.wecom.errors`.
The access token (and the secret sent to gettoken) travel in the query string, so they are
redacted from every message this module or httpx writes.
"""

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from functools import partial
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import httpx

from siyu.connectors.wecom.errors import (
    HINTS,
    RATE_LIMIT_CODES,
    REFRESH_CODES,
    WecomUnavailable,
    error_for,
)
from siyu.connectors.wecom.schemas.base import AccessTokenResponse, CursorPage, WecomModel
from siyu.connectors.wecom.tokens import TOKENS, TokenCache, token_key
from siyu.kit.ratelimit import Limiter, RateLimit, Window, WindowLimit

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
# WeCom allows each API 10,000 calls a minute and 150,000 an hour per corp (protocol.md §5),
# counted per window: a minute's quota may go at once.
DEFAULT_LIMIT: RateLimit = WindowLimit((Window(10_000, 60), Window(150_000, 3600)))
MAX_RETRIES = 4
# 45009/45033 count calls per minute: with the 30 s cap these pauses (0.5 s doubling, about
# 60 s in all at the default backoff) outlast one window instead of giving up inside it.
RATE_LIMIT_RETRIES = 7

logger = logging.getLogger(__name__)

_SECRET_PARAMS = re.compile(r"(access_token|corpsecret)=[^&\s'\"]*")

Page = TypeVar("Page", bound=CursorPage)
T = TypeVar("T")

# Set by `started`: the event its call's request sets once it is on the wire.
_SENT: ContextVar[asyncio.Event | None] = ContextVar("wecom_request_sent", default=None)


def redact(text: str) -> str:
    """`text` with access tokens and secrets in URLs replaced by ***."""
    return _SECRET_PARAMS.sub(r"\1=***", text)


class _RedactingFilter(logging.Filter):
    """httpx logs every request URL at INFO; the token is in that URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "access_token=" in message or "corpsecret=" in message:
            record.msg, record.args = redact(message), None
        return True


logging.getLogger("httpx").addFilter(_RedactingFilter())


async def started(call: Callable[[], Awaitable[T]]) -> "asyncio.Task[T]":
    """Start a WeCom call and return (its task) once its request was sent or it ended, so
    blocking work done next overlaps WeCom's answer instead of waiting for it before or
    after. A call that waits for its rate limit first returns when the wait is over."""
    sent = asyncio.Event()

    async def run() -> T:
        _SENT.set(sent)
        return await call()

    task = asyncio.create_task(run())
    signal = asyncio.create_task(sent.wait())
    await asyncio.wait((task, signal), return_when=asyncio.FIRST_COMPLETED)
    signal.cancel()
    return task


async def _trace(sent: asyncio.Event, event: str, _info: dict[str, Any]) -> None:
    if event.endswith("send_request_body.complete"):
        sent.set()


def _dump(model: WecomModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


class WecomTransport:
    """Calls of one corp with one app secret. Use `async with`, or `aclose()` when done,
    unless you passed in the `http` client (then closing it is yours)."""

    def __init__(
        self,
        corp_id: str,
        secret: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        limiter: Limiter | None = None,
        http: httpx.AsyncClient | None = None,
        tokens: TokenCache | None = None,
        limits: Mapping[str, RateLimit] | None = None,
        backoff: float = 0.5,
        timeout: float = 10.0,
    ) -> None:
        self.corp_id = corp_id
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.tokens = tokens or TOKENS
        self.limits = dict(limits or {})
        self.backoff = backoff
        self.timeout = timeout
        self._key = token_key(corp_id, secret)
        self._http = http
        self._owned: httpx.AsyncClient | None = None
        self._owned_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(corp_id={self.corp_id!r}, base_url={self.base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owned is not None:
            await self._owned.aclose()
            self._owned = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is not None:
            return self._http
        loop = asyncio.get_running_loop()
        # An httpx client's pool belongs to the event loop it was first used in.
        if self._owned is None or self._owned_loop is not loop:
            self._owned = httpx.AsyncClient(timeout=self.timeout)
            self._owned_loop = loop
        return self._owned

    def limit_for(self, path: str) -> RateLimit:
        """The rate limit of one API (path below /cgi-bin/), shared by every process."""
        return self.limits.get(path, DEFAULT_LIMIT)

    # ------------------------------------------------------------------ transport

    async def _pause(self, attempt: int) -> None:
        await asyncio.sleep(min(30.0, self.backoff * 2 ** (attempt - 1)) * random.uniform(1, 1.5))  # noqa: S311

    async def _send(  # noqa: PLR0912 - one retry loop, every branch a documented rule
        self,
        method: Literal["GET", "POST"],
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        read: bool,
        with_token: bool = True,
    ) -> dict[str, Any]:
        url = f"{self.base_url}/cgi-bin/{path}"
        refreshed = False
        attempt = 0
        while True:
            if self.limiter is not None:
                await self.limiter.acquire(f"wecom:{path}", self.limit_for(path))
            query = {k: v for k, v in (params or {}).items() if v is not None}
            token = ""
            if with_token:
                token = await self.tokens.get(self._key, self._fetch_token)
                query["access_token"] = token
            failure: str
            sent = _SENT.get() if with_token else None  # gettoken is not the call started
            extensions = {} if sent is None else {"trace": partial(_trace, sent)}
            try:
                response = await self._client().request(
                    method, url, params=query, json=body, files=files, extensions=extensions
                )
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {redact(str(exc))}"
            else:
                if response.status_code < 500:
                    try:
                        data: dict[str, Any] = response.json()
                    except ValueError:
                        failure = f"HTTP {response.status_code}, not JSON"
                    else:
                        errcode = int(data.get("errcode", 0))
                        if errcode == 0:
                            return data
                        errmsg = redact(str(data.get("errmsg", "")))
                        logger.info("wecom %s errcode %s: %s", path, errcode, errmsg)
                        if with_token and errcode in REFRESH_CODES and not refreshed:
                            self.tokens.invalidate(self._key, token)
                            refreshed = True
                            continue
                        rate_limited = errcode in RATE_LIMIT_CODES
                        retry = rate_limited or (errcode == -1 and read)
                        retries = RATE_LIMIT_RETRIES if rate_limited else MAX_RETRIES
                        if not retry or attempt >= retries:
                            raise error_for(errcode, errmsg)
                        attempt += 1
                        await self._pause(attempt)
                        continue
                else:
                    failure = f"HTTP {response.status_code}"
            logger.info("wecom %s failed: %s", path, failure)
            if not read or attempt >= MAX_RETRIES:
                raise WecomUnavailable(-1, failure, HINTS[-1])
            attempt += 1
            await self._pause(attempt)

    async def _fetch_token(self) -> tuple[str, int]:
        data = await self._send(
            "GET",
            "gettoken",
            params={"corpid": self.corp_id, "corpsecret": self._secret},
            read=True,
            with_token=False,
        )
        parsed = AccessTokenResponse.model_validate(data)
        return parsed.access_token, parsed.expires_in

    async def ensure_token(self) -> None:
        """Fetch the access token unless one is cached; raises what gettoken answered."""
        await self.tokens.get(self._key, self._fetch_token)

    async def _get(self, path: str, **params: Any) -> dict[str, Any]:
        return await self._send("GET", path, params=params, read=True)

    async def _post(self, path: str, body: WecomModel, *, read: bool) -> dict[str, Any]:
        return await self._send("POST", path, body=_dump(body), read=read)

    @staticmethod
    async def pages(fetch: Callable[[str | None], Awaitable[Page]]) -> AsyncIterator[Page]:
        """Every page of a cursor-paged list: `fetch(cursor)` until `next_cursor` is empty."""
        cursor: str | None = None
        while True:
            page = await fetch(cursor)
            yield page
            if not page.next_cursor or page.next_cursor == cursor:
                return
            cursor = page.next_cursor
