import asyncio
import hashlib
import hmac
import ipaddress
import json
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from siyu.config import get_settings
from siyu.connectors.webhook.guard import UrlRefused, check_url, is_public, resolve_target
from siyu.connectors.webhook.sender import WebhookOutcome, WebhookSender, parse_retry_after
from siyu.connectors.webhook.signing import sign, verify_signature
from tests.connectors.webhook.conftest import Receiver

SECRET = "whsec_测试-secret"
PAYLOAD = {"broadcast_id": 12, "customer_id": 345, "name": "王五", "text": "您好！"}


def post(
    url: str,
    *,
    payload: dict[str, Any] | None = None,
    allow_private: bool = True,
    timeout: float = 10.0,
    delivery_id: str = "12.345",
) -> WebhookOutcome:
    async def run() -> WebhookOutcome:
        async with WebhookSender(timeout=timeout, allow_private=allow_private) as sender:
            return await sender.post(
                url,
                SECRET,
                "broadcast.message",
                PAYLOAD if payload is None else payload,
                delivery_id=delivery_id,
            )

    return asyncio.run(run())


# -- what the receiver gets ---------------------------------------------------------------


def test_the_receiver_gets_signed_json_with_event_delivery_and_timestamp(
    receiver: Receiver,
) -> None:
    outcome = post(receiver.url)

    assert outcome.ok
    assert outcome.provider_id == "12.345"
    assert outcome.status_code == 200
    [request] = receiver.requests
    assert request.path == "/hooks/siyu"
    assert json.loads(request.body) == PAYLOAD
    headers = request.headers
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["X-Siyu-Event"] == "broadcast.message"
    assert headers["X-Siyu-Delivery"] == "12.345"
    assert abs(int(headers["X-Siyu-Timestamp"]) - time.time()) < 3600
    assert headers["X-Siyu-Signature"].startswith("sha256=")
    assert verify_signature(
        SECRET, headers["X-Siyu-Timestamp"], request.body, headers["X-Siyu-Signature"]
    )


def test_a_retried_delivery_carries_the_same_delivery_id(receiver: Receiver) -> None:
    post(receiver.url, delivery_id="12.345")
    post(receiver.url, delivery_id="12.345")

    assert [r.headers["X-Siyu-Delivery"] for r in receiver.requests] == ["12.345", "12.345"]


def test_payload_values_json_cannot_express_natively_are_serialised(receiver: Receiver) -> None:
    sent_at = datetime(2026, 11, 11, 8, 0, tzinfo=UTC)

    outcome = post(receiver.url, payload={"sent_at": sent_at, "tags": ("VIP", "复购")})

    assert outcome.ok
    assert json.loads(receiver.requests[0].body) == {
        "sent_at": "2026-11-11T08:00:00Z",
        "tags": ["VIP", "复购"],
    }


# -- the signature --------------------------------------------------------------------------


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"a":1}'
    expected = (
        "sha256=" + hmac.new(SECRET.encode(), b"1767225600." + body, hashlib.sha256).hexdigest()
    )

    assert sign(SECRET, 1767225600, body) == expected


def test_a_tampered_body_or_wrong_secret_fails_verification() -> None:
    body = json.dumps(PAYLOAD, ensure_ascii=False).encode()
    signature = sign(SECRET, 1767225600, body)
    now = 1767225600.0

    assert verify_signature(SECRET, "1767225600", body, signature, now=now)
    assert verify_signature(SECRET, 1767225600, body.decode(), signature, now=now)
    tampered = body.replace("王五".encode(), "赵六".encode())
    assert not verify_signature(SECRET, "1767225600", tampered, signature, now=now)
    assert not verify_signature("other-secret", "1767225600", body, signature, now=now)
    assert not verify_signature(SECRET, "1767225601", body, signature, now=now)
    assert not verify_signature(SECRET, "1767225600", body, signature.upper(), now=now)
    assert not verify_signature(SECRET, "1767225600", body, "", now=now)


def test_a_timestamp_outside_the_tolerance_fails_verification() -> None:
    body = b"{}"
    sent = 1767225600
    signature = sign(SECRET, sent, body)

    assert verify_signature(SECRET, sent, body, signature, now=sent + 300)
    assert verify_signature(SECRET, sent, body, signature, now=sent - 300)
    assert not verify_signature(SECRET, sent, body, signature, now=sent + 301)
    assert not verify_signature(SECRET, sent, body, signature, now=sent - 301)
    assert verify_signature(SECRET, sent, body, signature, now=sent + 3000, tolerance_seconds=3600)
    assert not verify_signature(SECRET, "yesterday", body, signature, now=sent)


# -- classification -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_is_delivered(receiver: Receiver, status: int) -> None:
    receiver.answer(status)

    assert post(receiver.url).ok


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_timeouts_overload_and_server_errors_are_retryable(receiver: Receiver, status: int) -> None:
    receiver.answer(status, body="稍后再试".encode())

    outcome = post(receiver.url)

    assert not outcome.ok
    assert outcome.retryable
    assert outcome.code == f"http_{status}"
    assert outcome.reason == f"HTTP {status}: 稍后再试"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422, 425])
def test_other_client_errors_are_final(receiver: Receiver, status: int) -> None:
    receiver.answer(status, body=b'{"error":"bad signature"}')

    outcome = post(receiver.url)

    assert not outcome.ok
    assert not outcome.retryable
    assert outcome.code == f"http_{status}"
    assert outcome.reason is not None
    assert "bad signature" in outcome.reason


def test_a_redirect_is_not_followed_and_is_final(receiver: Receiver) -> None:
    receiver.answer(302, headers={"Location": "http://169.254.169.254/latest/meta-data"})

    outcome = post(receiver.url)

    assert outcome.code == "http_302"
    assert not outcome.retryable
    assert outcome.reason is not None
    assert "not followed" in outcome.reason
    assert len(receiver.requests) == 1


def test_retry_after_in_seconds_is_captured(receiver: Receiver) -> None:
    receiver.answer(429, headers={"Retry-After": "120"})

    outcome = post(receiver.url)

    assert outcome.retryable
    assert outcome.retry_after == 120.0
    assert outcome.reason == "HTTP 429 (retry after 120 s)"


@pytest.mark.parametrize("status", [429, 503])
def test_overload_pauses_the_sender_even_without_retry_after(
    receiver: Receiver, status: int
) -> None:
    receiver.answer(status)

    outcome = post(receiver.url)

    assert (outcome.retryable, outcome.pause, outcome.retry_after) == (True, True, None)


@pytest.mark.parametrize("status", [408, 500, 502])
def test_other_retryable_answers_do_not_pause_and_ignore_retry_after(
    receiver: Receiver, status: int
) -> None:
    receiver.answer(status, headers={"Retry-After": "120"})

    outcome = post(receiver.url)

    assert (outcome.retryable, outcome.pause, outcome.retry_after) == (True, False, None)


def test_retry_after_as_an_http_date_is_captured(receiver: Receiver) -> None:
    later = datetime.now(UTC) + timedelta(minutes=10)
    receiver.answer(503, headers={"Retry-After": format_datetime(later, usegmt=True)})

    outcome = post(receiver.url)

    assert outcome.retry_after is not None
    assert 500 < outcome.retry_after <= 600


def test_retry_after_parsing() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None
    assert parse_retry_after("٣٠") is None  # Arabic-Indic digits are not delay-seconds
    assert parse_retry_after(None) is None


def test_a_receiver_that_does_not_answer_in_time_is_retryable(receiver: Receiver) -> None:
    receiver.answer(200, delay=2.0)

    outcome = post(receiver.url, timeout=0.2)

    assert not outcome.ok
    assert outcome.retryable
    assert outcome.code == "webhook_timeout"
    assert outcome.reason is not None
    assert outcome.reason.startswith("no answer within 0.2 s")


def test_a_refused_connection_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there

    outcome = post(f"http://127.0.0.1:{port}/hook")

    assert outcome.retryable
    assert outcome.code == "webhook_unreachable"


# -- SSRF ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "file:///etc/passwd",
        "gopher://127.0.0.1:25/",
        "hooks.example.com/no-scheme",
        "https://user:pass@hooks.example.com/x",
    ],
)
def test_urls_that_are_not_plain_http_are_refused(url: str) -> None:
    outcome = post(url)

    assert outcome.code == "webhook_url_refused"
    assert not outcome.retryable


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "api.localhost",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.169.254",
        "0.0.0.0",  # noqa: S104 - the address under test
        "[fd00::1]",
    ],
)
def test_private_and_loopback_addresses_are_refused_unless_allowed(
    receiver: Receiver, host: str
) -> None:
    outcome = post(f"http://{host}:{receiver.port}/hooks/siyu", allow_private=False)

    assert outcome.code == "webhook_url_refused"
    assert not outcome.retryable
    assert receiver.requests == []


def test_the_private_address_rule_follows_the_setting(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def post_with_defaults() -> WebhookOutcome:
        async with WebhookSender() as sender:
            return await sender.post(receiver.url, SECRET, "ping", {}, delivery_id="1")

    get_settings.cache_clear()
    try:
        monkeypatch.delenv("SIYU_WEBHOOK_ALLOW_PRIVATE", raising=False)
        assert asyncio.run(post_with_defaults()).code == "webhook_url_refused"
        monkeypatch.setenv("SIYU_WEBHOOK_ALLOW_PRIVATE", "true")
        get_settings.cache_clear()
        assert asyncio.run(post_with_defaults()).ok
    finally:
        get_settings.cache_clear()


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], None]:
    """Answers for names that have no DNS on this machine (there is no resolver to run)."""
    answers: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers.__setitem__


def test_a_name_that_resolves_to_a_private_address_is_refused(
    receiver: Receiver, dns: Callable[[str, str], None]
) -> None:
    dns("hooks.attacker.example", "127.0.0.1")

    outcome = post(f"http://hooks.attacker.example:{receiver.port}/x", allow_private=False)

    assert outcome.code == "webhook_url_refused"
    assert outcome.reason is not None
    assert "127.0.0.1" in outcome.reason
    assert receiver.requests == []


def test_a_public_name_is_sent_to_the_address_that_was_checked(
    dns: Callable[[str, str], None],
) -> None:
    dns("hooks.shop.example", "203.0.113.7")  # TEST-NET-3: documentation, not global
    dns("hooks.brand.example", "8.8.8.8")

    target = asyncio.run(
        resolve_target("https://hooks.brand.example:8443/in?x=1", allow_private=False)
    )

    assert target.pinned
    assert str(target.url) == "https://8.8.8.8:8443/in?x=1"
    assert target.host_header == "hooks.brand.example:8443"
    assert target.server_name == "hooks.brand.example"
    with pytest.raises(UrlRefused):
        asyncio.run(resolve_target("https://hooks.shop.example/in", allow_private=False))


def test_check_url_names_the_url_field() -> None:
    with pytest.raises(UrlRefused) as refused:
        asyncio.run(check_url("http://192.168.0.10/hook", allow_private=False))

    assert refused.value.field == "url"
    assert refused.value.code == "webhook_url_refused"
    asyncio.run(check_url("http://192.168.0.10/hook", allow_private=True))


def test_public_addresses() -> None:
    assert is_public(ipaddress.ip_address("8.8.8.8"))
    assert is_public(ipaddress.ip_address("2400:3200::1"))
    assert not is_public(ipaddress.ip_address("224.0.0.1"))
    assert not is_public(ipaddress.ip_address("::ffff:10.0.0.1"))
