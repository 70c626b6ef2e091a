"""Post signed JSON events to a receiver's URL and classify its answer.

    async with WebhookSender() as webhooks:
        outcome = await webhooks.post(url, secret, "broadcast.message", payload,
                                      delivery_id="123.456")

2xx → ok (provider_id = the delivery id). Retryable, with the reason: 408, 429 and every
5xx, timeouts and connection errors. 429 and 503 say the receiver is overloaded as a
whole: `pause` is set, and its Retry-After (seconds or an HTTP date) is in `retry_after`.
Final: every other 4xx, redirects (not followed: a redirect could lead past the SSRF
guard) and a refused URL.

Retrying is the caller's business, not this module's (`siyu.messaging.retrying` spaces a
broadcast's passes); every attempt carries the same X-Siyu-Delivery, so receivers drop
duplicates.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import httpx
import pydantic_core

from siyu.config import get_settings
from siyu.connectors.outcome import SendOutcome
from siyu.connectors.webhook.guard import UrlRefused, resolve_target
from siyu.connectors.webhook.signing import sign

USER_AGENT = "Siyu-Webhook/1"
RETRYABLE_STATUSES = frozenset({408, 429})
# The receiver is overloaded as a whole; these carry Retry-After.
OVERLOADED_STATUSES = frozenset({429, 503})
# Only this much of a receiver's answer is read: it goes into the reason, nothing else.
MAX_RESPONSE_BYTES = 4096
REASON_CHARS = 300


@dataclass(frozen=True, slots=True)
class WebhookOutcome(SendOutcome):
    """A `SendOutcome` that also carries the receiver's HTTP status."""

    status_code: int | None = None


class WebhookSender:
    """One HTTP client (connection pool) for many posts; use as an async context manager.

    `allow_private` defaults to the setting `SIYU_WEBHOOK_ALLOW_PRIVATE`.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        allow_private: bool | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.timeout = timeout
        self.allow_private = (
            get_settings().webhook_allow_private if allow_private is None else allow_private
        )
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
        )

    async def __aenter__(self) -> Self:
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._client.__aexit__(exc_type, exc, traceback)

    async def post(
        self,
        url: str,
        secret: str,
        event: str,
        payload: Mapping[str, Any],
        *,
        delivery_id: str,
    ) -> WebhookOutcome:
        """Send one event; never raises for anything the receiver or network does."""
        try:
            target = await resolve_target(url, allow_private=self.allow_private)
        except UrlRefused as exc:
            return WebhookOutcome(ok=False, code="webhook_url_refused", reason=exc.message)
        except OSError as exc:  # the name did not resolve: DNS may be back later
            return _transport_failure("webhook_unreachable", exc)
        body = pydantic_core.to_json(dict(payload))
        timestamp = str(int(time.time()))
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json; charset=utf-8",
            "X-Siyu-Event": event,
            "X-Siyu-Delivery": delivery_id,
            "X-Siyu-Timestamp": timestamp,
            "X-Siyu-Signature": sign(secret, timestamp, body),
        }
        extensions = {"sni_hostname": target.server_name} if target.pinned else None
        try:
            request = self._client.build_request(
                "POST", target.url, content=body, headers=headers, extensions=extensions
            )
            response = await self._client.send(request, stream=True)
            try:
                answer = await _read_some(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            return _transport_failure(
                "webhook_timeout", exc, f"no answer within {self.timeout:g} s"
            )
        except (httpx.TransportError, OSError) as exc:
            return _transport_failure("webhook_unreachable", exc)
        return _classify(response, answer, delivery_id)


async def _read_some(response: httpx.Response) -> bytes:
    chunks = bytearray()
    async for chunk in response.aiter_bytes():
        chunks += chunk
        if len(chunks) >= MAX_RESPONSE_BYTES:
            break
    return bytes(chunks[:MAX_RESPONSE_BYTES])


def _classify(response: httpx.Response, answer: bytes, delivery_id: str) -> WebhookOutcome:
    status = response.status_code
    if 200 <= status < 300:
        return WebhookOutcome(ok=True, provider_id=delivery_id, status_code=status)
    text = " ".join(answer.decode("utf-8", "replace").split())[:REASON_CHARS]
    reason = f"HTTP {status}" + (f": {text}" if text else "")
    retryable = status in RETRYABLE_STATUSES or status >= 500
    overloaded = status in OVERLOADED_STATUSES
    retry_after = parse_retry_after(response.headers.get("Retry-After")) if overloaded else None
    if retry_after is not None:
        reason += f" (retry after {retry_after:g} s)"
    if 300 <= status < 400:
        reason += f" (redirect to {response.headers.get('Location', '?')} not followed)"
    return WebhookOutcome(
        ok=False,
        retryable=retryable,
        code=f"http_{status}",
        reason=reason,
        status_code=status,
        retry_after=retry_after,
        pause=overloaded,
    )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _transport_failure(code: str, exc: BaseException, what: str = "") -> WebhookOutcome:
    detail = str(exc) or type(exc).__name__
    reason = f"{what}: {detail}" if what else detail
    return WebhookOutcome(ok=False, retryable=True, code=code, reason=reason[:REASON_CHARS])
