"""The client takes every call from the workspace's shared bucket ("wecom:" + path)."""

import asyncio
import threading
import time

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.tokens import TokenCache
from siyu.connectors.wecom_sim import WecomSim
from siyu.db.engine import build_engine
from siyu.kit.ratelimit import DatabaseLimiter, Limit, Window, WindowLimit
from siyu.models import RateBucket
from tests.conftest import WorkspaceFixture

PATH = "department/list"


def test_workers_sharing_a_workspace_bucket_never_call_wecom_faster_than_its_limit(
    database_url: str, engine: Engine, workspace: WorkspaceFixture, wecom_sim: WecomSim
) -> None:
    limit = Limit(rate=25, capacity=3)
    per_worker = 8

    def worker() -> None:
        own_engine = build_engine(database_url)  # a separate pool, like another process
        wecom = WecomClient(
            wecom_sim.corp_id,
            wecom_sim.contact_secret,
            wecom_sim.base_url,
            limiter=DatabaseLimiter(own_engine, workspace.id),
            tokens=TokenCache(),
            limits={PATH: limit},
        )

        async def run() -> None:
            async with wecom:
                for _ in range(per_worker):
                    await wecom.department_list()

        try:
            asyncio.run(run())
        finally:
            own_engine.dispose()

    started = time.time()
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with wecom_sim.state.lock:
        seen = sorted(wecom_sim.state.calls.get(PATH, []))
    assert len(seen) == 2 * per_worker
    # WeCom saw at most capacity + rate·(t − start) calls by any moment t (+1 for clock reads).
    for count, called_at in enumerate(seen, start=1):
        assert count <= limit.capacity + limit.rate * (called_at - started) + 1


def test_each_api_counts_its_own_calls_in_wecom_s_minute_and_hour_windows(
    engine: Engine, db: Session, workspace: WorkspaceFixture, wecom_sim: WecomSim
) -> None:
    wecom = WecomClient(
        wecom_sim.corp_id,
        wecom_sim.contact_secret,
        wecom_sim.base_url,
        limiter=DatabaseLimiter(engine, workspace.id),
        tokens=TokenCache(),
    )

    async def run() -> None:
        async with wecom:
            await wecom.department_list()
            await wecom.department_list()
            await wecom.externalcontact_get_follow_user_list()

    asyncio.run(run())

    rows = db.execute(
        select(RateBucket.key, RateBucket.tokens).where(RateBucket.workspace_id == workspace.id)
    )
    calls: dict[tuple[str, str], float] = {}
    for key, tokens in rows:
        api, window = key.split("@")
        window = window.split("#")[0]
        calls[api, window] = calls.get((api, window), 0) + tokens
    assert calls == {
        (f"wecom:{path}", window): count
        for path, count in (
            ("gettoken", 1),
            ("department/list", 2),
            ("externalcontact/get_follow_user_list", 1),
        )
        for window in ("60s", "3600s")
    }
    assert wecom.limit_for("department/list") == WindowLimit(
        (Window(10_000, 60), Window(150_000, 3600))
    )


def test_calls_over_a_window_s_quota_wait_until_the_first_calls_left_the_window(
    engine: Engine, workspace: WorkspaceFixture, wecom_sim: WecomSim
) -> None:
    window = Window(3, 2.0)
    wecom = WecomClient(
        wecom_sim.corp_id,
        wecom_sim.contact_secret,
        wecom_sim.base_url,
        limiter=DatabaseLimiter(engine, workspace.id),
        tokens=TokenCache(),
        limits={PATH: WindowLimit((window,))},
    )

    async def run() -> None:
        async with wecom:
            await wecom.ensure_token()
            for _ in range(5):
                await wecom.department_list()

    asyncio.run(run())

    with wecom_sim.state.lock:
        seen = sorted(wecom_sim.state.calls[PATH])
    assert len(seen) == 5
    # WeCom never saw more than the window's calls in any span of its length.
    for first, later in zip(seen, seen[window.calls :], strict=False):
        assert later - first >= window.seconds
