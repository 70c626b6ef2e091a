import asyncio
import logging

import pytest

from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.errors import WecomApiError, WecomTokenError
from siyu.connectors.wecom.tokens import TokenCache, token_key
from siyu.connectors.wecom_sim import WecomSim


def gettoken_calls(sim: WecomSim) -> int:
    with sim.state.lock:
        return len(sim.state.calls.get("gettoken", []))


def live_tokens(sim: WecomSim) -> list[str]:
    with sim.state.lock:
        return list(sim.state.tokens)


def new_client(sim: WecomSim, secret: str | None = None) -> WecomClient:
    secret = secret or sim.contact_secret
    return WecomClient(sim.corp_id, secret, sim.base_url, tokens=TokenCache(), backoff=0.01)


def test_token_is_fetched_once_and_reused(wecom_sim: WecomSim) -> None:
    async def run() -> None:
        async with new_client(wecom_sim) as wecom:
            await wecom.department_list()
            await wecom.externalcontact_get_follow_user_list()
            await wecom.department_list()

    asyncio.run(run())

    assert gettoken_calls(wecom_sim) == 1


def test_concurrent_first_calls_share_one_gettoken(wecom_sim: WecomSim) -> None:
    async def run() -> None:
        async with new_client(wecom_sim) as wecom:
            await asyncio.gather(*(wecom.department_list() for _ in range(12)))

    asyncio.run(run())

    assert gettoken_calls(wecom_sim) == 1


def test_expired_token_is_refreshed_and_the_call_retried_once(wecom_sim: WecomSim) -> None:
    async def run() -> list[str]:
        async with new_client(wecom_sim) as wecom:
            before = await wecom.externalcontact_get_follow_user_list()
            wecom_sim.control.post("/faults", json={"expire_tokens": True}).raise_for_status()
            after = await wecom.externalcontact_get_follow_user_list()
            return [*before.follow_user, "|", *after.follow_user]

    users = asyncio.run(run())

    first, second = " ".join(users).split(" | ")
    assert first == second != ""
    assert gettoken_calls(wecom_sim) == 2


def test_token_revoked_early_is_refreshed(wecom_sim: WecomSim) -> None:
    async def run() -> None:
        async with new_client(wecom_sim) as wecom:
            await wecom.department_list()
            with wecom_sim.state.lock:
                wecom_sim.state.tokens.clear()  # WeCom may invalidate tokens at any time
            await wecom.department_list()

    asyncio.run(run())

    assert gettoken_calls(wecom_sim) == 2


def test_each_secret_has_its_own_token(wecom_sim: WecomSim) -> None:
    tokens = TokenCache()

    async def not_again() -> tuple[str, int]:
        raise AssertionError("the token should be cached")

    async def run() -> list[str]:
        contact = WecomClient(
            wecom_sim.corp_id, wecom_sim.contact_secret, wecom_sim.base_url, tokens=tokens
        )
        directory = WecomClient(
            wecom_sim.corp_id, wecom_sim.directory_secret, wecom_sim.base_url, tokens=tokens
        )
        async with contact, directory:
            await contact.externalcontact_get_follow_user_list()
            await directory.user_list_id()
        return [
            await tokens.get(token_key(wecom_sim.corp_id, secret), not_again)
            for secret in (wecom_sim.contact_secret, wecom_sim.directory_secret)
        ]

    contact_token, directory_token = asyncio.run(run())

    assert gettoken_calls(wecom_sim) == 2
    assert contact_token != directory_token
    with wecom_sim.state.lock:
        kinds = {wecom_sim.state.tokens[t].kind for t in (contact_token, directory_token)}
    assert kinds == {"contact", "directory"}


def test_wrong_secret_is_a_token_error_with_a_hint_and_is_not_retried(wecom_sim: WecomSim) -> None:
    async def run() -> None:
        async with new_client(wecom_sim, secret="not-the-secret") as wecom:
            await wecom.department_list()

    with pytest.raises(WecomTokenError) as raised:
        asyncio.run(run())

    assert raised.value.errcode == 40001
    assert raised.value.hint is not None
    assert "Secret" in raised.value.hint
    assert gettoken_calls(wecom_sim) == 1


def test_token_is_refreshed_ahead_of_its_expiry() -> None:
    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    key = token_key("ww1", "secret")
    issued: list[str] = []

    async def fetch() -> tuple[str, int]:
        issued.append(f"token-{len(issued)}")
        return issued[-1], 7200

    async def get() -> str:
        return await cache.get(key, fetch)

    assert asyncio.run(get()) == "token-0"
    now[0] += 7200 - 301
    assert asyncio.run(get()) == "token-0"
    now[0] += 2  # less than five minutes left
    assert asyncio.run(get()) == "token-1"


def test_invalidating_an_old_token_keeps_the_newer_one() -> None:
    cache = TokenCache()
    key = token_key("ww1", "secret")
    issued = iter(["old", "new"])

    async def fetch() -> tuple[str, int]:
        return next(issued), 7200

    async def run() -> list[str]:
        old = await cache.get(key, fetch)
        cache.invalidate(key, old)
        new = await cache.get(key, fetch)
        cache.invalidate(key, old)  # a late caller that still saw the old token
        return [old, new, await cache.get(key, fetch)]

    assert asyncio.run(run()) == ["old", "new", "new"]


def test_tokens_and_secrets_never_reach_logs_or_errors(
    wecom_sim: WecomSim, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def run() -> WecomApiError:
        async with new_client(wecom_sim) as wecom:
            await wecom.department_list()
            wecom_sim.control.post("/faults", json={"expire_tokens": True}).raise_for_status()
            await wecom.externalcontact_get_follow_user_list()
            try:
                await wecom.externalcontact_get("wm-nobody")
            except WecomApiError as exc:
                return exc
        raise AssertionError("externalcontact/get of an unknown customer succeeded")

    error = asyncio.run(run())

    tokens = live_tokens(wecom_sim)
    assert "access_token=***" in caplog.text  # httpx logged the URLs, redacted
    for value in [*tokens, wecom_sim.contact_secret]:
        assert value not in caplog.text
        assert value not in str(error)
        assert value not in repr(error.details)


def test_a_burst_of_expired_token_errors_triggers_one_refresh(wecom_sim: WecomSim) -> None:
    async def run() -> None:
        async with new_client(wecom_sim) as wecom:
            await wecom.department_list()
            wecom_sim.control.post("/faults", json={"expire_tokens": True}).raise_for_status()
            await asyncio.gather(*(wecom.department_list() for _ in range(12)))

    asyncio.run(run())

    assert gettoken_calls(wecom_sim) == 2
