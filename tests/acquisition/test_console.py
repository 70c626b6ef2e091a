"""The live codes console in Chromium, against Siyu on a real port with its in-process
worker and the WeCom simulator: the demo's "scan, and watch the customer arrive"."""

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import Engine

from siyu.app import create_app
from siyu.config import Mode, Settings
from siyu.connectors.wecom_sim import WecomSim
from siyu.connectors.wecom_sim.server import ThreadedServer
from tests.acquisition.conftest import Corp, create_code
from tests.conftest import WorkspaceFixture
from tests.console.prerequisites import BUILT_CONSOLE, CHROMIUM, SCREENSHOTS, require

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SIYU_TEST_DATABASE_URL")),
    reason="browser tests run in the SQLite pass",
)
TIMEOUT_MS = 20_000


@pytest.fixture
def demo_app(engine: Engine, tmp_path: Path) -> FastAPI:
    settings = Settings(
        mode=Mode.DEMO, data_dir=tmp_path / "data", worker_in_process=True, worker_poll_seconds=0.1
    )
    return create_app(settings, engine=engine, run_worker=True)


@pytest.fixture
def served(demo_app: FastAPI) -> Iterator[str]:
    require(BUILT_CONSOLE.exists(), "the built console", "make console")
    server = ThreadedServer(demo_app)
    server.start()
    yield server.base_url
    server.stop()


@pytest.fixture
def page() -> Iterator[Page]:
    require(CHROMIUM.exists(), "/usr/bin/chromium", "make chromium")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        yield context.new_page()
        browser.close()


def test_demo_user_scans_a_live_code_and_sees_the_customer_arrive_welcomed(
    served: str,
    page: Page,
    wecom_sim: WecomSim,
    corp: Corp,
    workspace: WorkspaceFixture,
) -> None:
    registered = wecom_sim.control.post(
        "/callback",
        json={
            "url": f"{served}/wecom/callback/{workspace.slug}",
            "token": corp.callback_token,
            "encoding_aes_key": corp.encoding_aes_key,
            "verify": True,
        },
    )
    assert registered.json()["verified"] is True
    with httpx.Client(base_url=served, headers=workspace.headers, timeout=30) as api:
        code = create_code(api, [{"staff_id": corp.staff_ids[0]}], welcome={"text": "欢迎光临"})

    page.goto(f"{served}/login")
    page.locator("input[name=email]").fill(workspace.admin_email)
    page.locator("input[name=password]").fill(workspace.admin_password)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("nav").get_by_text("渠道活码").click()
    expect(page.get_by_test_id("live-codes")).to_contain_text("门店海报")
    page.get_by_test_id("simulate-scan").click()
    expect(page.locator(".t-message")).to_contain_text("模拟客户已扫码")
    with httpx.Client(base_url=served, headers=workspace.headers) as api:
        for _ in range(100):  # the callback, the worker and the welcome job run on their own
            adds = api.get(f"/api/v1/live-codes/{code['id']}/adds").json()
            if adds and adds[0]["welcome_status"] != "pending":
                break
            time.sleep(0.2)
    page.goto(f"{served}/live-codes/{code['id']}/stats")
    expect(page.get_by_test_id("live-code-adds")).to_contain_text("已发送")
    page.screenshot(path=str(SCREENSHOTS / "live-code-stats.png"), full_page=True)

    assert [m.text for m in wecom_sim.state.welcome_messages] == [{"content": "欢迎光临"}]
