"""Browser test of the WeCom pages (sync status and history, lost customers, handover,
customer groups) and of the demo's simulated staff confirmation on a broadcast's results.

The built console is served by the real `siyu serve` in demo mode, on a SQLite file with the
demo brand, connected to a WeCom simulator on a free port that mirrors the demo workspace
(as `siyu demo` does) and pushes its callbacks to the served app. Every page is driven in
Debian's Chromium in zh-CN; none may log a console error.
"""

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy import select

from siyu.connectors.wecom.connection import connect, crypto_for
from siyu.connectors.wecom_sim.server import SimServer
from siyu.db.engine import build_engine
from siyu.db.session import unit_of_work
from siyu.demo import data as demo_data
from siyu.demo.wecom import SIM_CONFIG, mirror_workspace
from siyu.models import Customer, Identity, Workspace
from tests.console import test_browser as base
from tests.console.prerequisites import BUILT_CONSOLE, CHROMIUM, require
from tests.console.test_browser import shot

pytestmark = base.pytestmark

browser = base.browser
# a deadline for a loaded machine, not a speed assertion
SERVER_START_SECONDS = 120
# How long the served worker may take to process a callback or a job the test waits for.
SETTLE_SECONDS = 30


class Sink:
    """An SMTP server that takes every message (the check never sends one)."""

    async def handle_DATA(self, _server: Any, _session: Any, _envelope: Any) -> str:  # noqa: N802
        return "250 OK"


@dataclass(frozen=True)
class Corp:
    url: str
    sim: SimServer
    # (staff userid, customer external_userid) of every active follow relation
    follows: list[tuple[str, str]]
    names: dict[str, str]  # external_userid -> customer name
    customer_ids: dict[str, int]  # external_userid -> customer id

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{self.sim.base_url}/control{path}", json=body, timeout=10)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def customers_of(self, userid: str) -> list[str]:
        return [e for u, e in self.follows if u == userid]


def _wait_for(what: str, probe: Callable[[], bool]) -> None:
    """Wait for the served worker to finish something (a job, a callback)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"the served app did not {what} within {SETTLE_SECONDS} s")
        time.sleep(0.2)


def _connect_demo_workspace(url: str, sim: SimServer) -> tuple[str, str]:
    """Mirror the demo workspace into the simulator and connect the workspace to it."""
    engine = build_engine(url)
    with unit_of_work(engine) as session:
        workspace_id = session.scalars(
            select(Workspace.id).where(Workspace.slug == demo_data.WORKSPACE_SLUG)
        ).one()
        mirror_workspace(sim.state, session, workspace_id)
        connection = connect(
            session,
            workspace_id=workspace_id,
            corp_id=SIM_CONFIG.resolved_corp_id,
            contact_secret=SIM_CONFIG.resolved_contact_secret,
            directory_secret=SIM_CONFIG.resolved_directory_secret,
            agent_id=SIM_CONFIG.agent_id,
            api_base_url=sim.base_url,
        )
        crypto = crypto_for(connection)
        token, key = crypto.token, crypto.encoding_aes_key
    engine.dispose()
    return token, key


def _names(url: str) -> tuple[dict[str, str], dict[str, int]]:
    engine = build_engine(url)
    with unit_of_work(engine) as session:
        rows = session.execute(
            select(Identity.value, Customer.id, Customer.name)
            .join(Customer, Customer.id == Identity.customer_id)
            .where(Identity.kind == "wecom_external_userid")
        ).all()
    engine.dispose()
    return {r.value: r.name or r.value for r in rows}, {r.value: r.id for r in rows}


@pytest.fixture(scope="module")
def corp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corp]:
    require(BUILT_CONSOLE.exists(), "the built console", "make console")
    home = tmp_path_factory.mktemp("served-wecom")
    url = f"sqlite:///{home / 'siyu.db'}"
    port = base._free_port()
    env = {
        **os.environ,
        "SIYU_DATABASE_URL": url,
        "SIYU_DATA_DIR": str(home / "data"),
        "SIYU_MODE": "demo",
        "SIYU_WORKER_POLL_SECONDS": "0.2",
    }
    env.pop("SIYU_TEST_DATABASE_URL", None)
    base._prepare_database(url)
    subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        base._siyu("demo", "--no-serve", "--customers", "40"),
        env=env,
        cwd=home,
        check=True,
        capture_output=True,
    )
    sim = SimServer(SIM_CONFIG)
    token, key = _connect_demo_workspace(url, sim)
    sim.start()
    log = (home / "serve.log").open("w")
    server = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
        base._siyu("serve", "--host", "127.0.0.1", "--port", str(port)),
        env=env,
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    served = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                if httpx.get(f"{served}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"siyu serve did not start:\n{(home / 'serve.log').read_text()}")
            time.sleep(0.2)
        callback = f"{served}/wecom/callback/{demo_data.WORKSPACE_SLUG}"
        verified = httpx.post(
            f"{sim.base_url}/control/callback",
            json={"url": callback, "token": token, "encoding_aes_key": key, "verify": True},
            timeout=10,
        )
        assert verified.status_code == 200, verified.text
        with sim.state.lock:
            follows = sorted(
                key for key, follow in sim.state.follows.items() if not follow.deleted_by_customer
            )
        names, customer_ids = _names(url)
        yield Corp(served, sim, follows, names, customer_ids)
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()
        sim.stop()


@dataclass
class Console:
    page: Page
    url: str
    errors: list[str]

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the API as the signed-in browser does (session cookie + CSRF token)."""
        me = self.page.request.get(f"{self.url}/api/v1/auth/me").json()
        response = self.page.request.fetch(
            f"{self.url}/api/v1{path}",
            method=method,
            headers={"X-CSRF-Token": me["csrf_token"]},
            data=body,
        )
        assert response.ok, response.text()
        return response.json()


@pytest.fixture(scope="module")
def console(browser: Browser, corp: Corp) -> Iterator[Console]:
    require(CHROMIUM.exists(), "/usr/bin/chromium", "make chromium")
    context = base._new_context(browser, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{corp.url}/login")
    page.locator("input[name=email]").fill(demo_data.LOGIN_EMAIL)
    page.locator("input[name=password]").fill(demo_data.LOGIN_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("customers-table")).to_be_visible()
    yield Console(page, corp.url, errors)
    context.close()


@pytest.fixture(scope="module")
def synced(console: Console, corp: Corp) -> Console:
    """The demo workspace after a full sync from the simulator, started in the sync page."""
    page = console.page
    page.goto(f"{corp.url}/wecom/sync")
    expect(page.get_by_test_id("sync-runs")).to_contain_text("还没有同步记录")
    page.get_by_test_id("start-sync").click()
    page.locator(".t-dialog").get_by_role("button", name="开始全量同步").click()
    expect(page.get_by_text("已开始，进度见下方")).to_be_visible()
    _wait_for(
        "finish the full sync",
        lambda: console.api("GET", "/wecom/sync/runs")[0]["status"] == "succeeded",
    )
    return console


@pytest.fixture
def clean(synced: Console) -> Iterator[Console]:
    synced.errors.clear()
    yield synced
    assert synced.errors == [], f"console errors: {synced.errors}"


def test_sync_page_shows_the_finished_full_sync_and_a_reconcile_started_there(
    clean: Console, corp: Corp
) -> None:
    page = clean.page
    page.goto(f"{corp.url}/wecom/sync")
    runs = page.get_by_test_id("sync-runs")
    first = runs.locator("tbody tr").first
    expect(first).to_contain_text("全量同步")
    expect(first).to_contain_text("成功")
    expect(first).to_contain_text("客户")
    expect(first).to_contain_text("跟进关系")
    shot(page, "w-01-sync-history")

    page.get_by_test_id("start-reconcile").click()
    page.locator(".t-dialog").get_by_role("button", name="立即对账").click()
    _wait_for(
        "finish the reconcile",
        lambda: clean.api("GET", "/wecom/sync/runs")[0]["status"] == "succeeded",
    )
    expect(runs.locator("tbody tr").first).to_contain_text("对账修复")
    expect(runs.locator("tbody tr").first).to_contain_text("成功")
    expect(runs.locator("tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("current-run")).to_have_count(0)
    shot(page, "w-02-sync-reconciled")


def test_a_customer_who_deletes_a_staff_member_is_listed_as_lost(
    clean: Console, corp: Corp
) -> None:
    userid, external_userid = corp.follows[0]
    corp.control("/customer-deletes-staff", {"userid": userid, "external_userid": external_userid})
    customer_id = corp.customer_ids[external_userid]
    _wait_for(
        "record the loss from the callback",
        lambda: any(
            item["customer_id"] == customer_id
            for item in clean.api("GET", "/wecom/lost-customers")["items"]
        ),
    )

    page = clean.page
    page.goto(f"{corp.url}/wecom/lost-customers")
    row = page.get_by_test_id("lost-table").locator("tr", has_text=corp.names[external_userid])
    expect(row).to_contain_text("客户删除了员工")
    expect(row).to_contain_text("实时回调")
    shot(page, "w-03-lost-customers")


def test_a_group_created_in_wecom_is_listed_with_its_members(clean: Console, corp: Corp) -> None:
    owner = corp.follows[-1][0]
    members = corp.customers_of(owner)[:3]
    corp.control("/groups", {"owner": owner, "name": "山茶集品鉴群", "external_userids": members})
    _wait_for(
        "sync the new group from the callback",
        lambda: bool(clean.api("GET", "/wecom/groups?q=品鉴")["items"]),
    )

    page = clean.page
    page.goto(f"{corp.url}/wecom/groups")
    row = page.get_by_test_id("groups-table").locator("tr", has_text="山茶集品鉴群")
    expect(row).to_contain_text(f"客户 {len(members)}")
    expect(row).to_contain_text("正常")
    row.get_by_test_id("group-open").click()
    detail = page.get_by_test_id("group-detail")
    for external_userid in members:
        expect(detail).to_contain_text(corp.names[external_userid])
    shot(page, "w-04-group-detail")
    page.keyboard.press("Escape")


def test_an_onjob_handover_is_submitted_and_its_transfers_shown(clean: Console, corp: Corp) -> None:
    staff = clean.api("GET", "/staff?limit=200")["items"]
    by_userid = {s["wecom_userid"]: s for s in staff if s["wecom_userid"]}
    followed = {u for u, _ in corp.follows if u in by_userid}
    source = max(followed, key=lambda u: len(corp.customers_of(u)))
    target = next(u for u in sorted(by_userid) if u != source and u in followed)
    page = clean.page
    page.goto(f"{corp.url}/wecom/handover")
    page.get_by_test_id("handover-kind").get_by_text("在职继承").click()
    page.get_by_test_id("handover-from").click()
    page.locator(".t-select-option:visible", has_text=f"({source})").click()
    page.get_by_test_id("handover-to").click()
    page.locator(".t-select-option:visible", has_text=f"({target})").click()
    candidates = page.get_by_test_id("handover-candidates").locator("tbody tr")
    expect(candidates.first).to_contain_text("可继承")
    eligible = candidates.filter(has_text="可继承").count()
    shot(page, "w-05-handover-candidates")

    page.get_by_test_id("handover-submit").click()
    page.locator(".t-dialog").get_by_role("button", name="确认继承").click()
    transfers = page.get_by_test_id("handover-transfers").locator("tbody tr")
    expect(transfers.first).to_contain_text("在职继承")
    # submitted by a job; the page polls every 10 s until WeCom answers
    expect(transfers.first).to_contain_text("等待接替", timeout=SETTLE_SECONDS * 1000)
    expect(transfers).to_have_count(eligible)
    shot(page, "w-06-handover-transfers")


def test_demo_results_page_confirms_a_wecom_broadcast_as_simulated_staff(
    clean: Console, corp: Corp
) -> None:
    followed = sorted({corp.customer_ids[e] for _, e in corp.follows if e in corp.customer_ids})
    segment = clean.api(
        "POST", "/segments", {"name": "企微好友演示", "kind": "static", "rule": None}
    )
    clean.api("POST", f"/segments/{segment['id']}/members", {"customer_ids": followed[:12]})
    broadcast = clean.api(
        "POST",
        "/broadcasts",
        {
            "name": "明前龙井到店提醒",
            "channel": "wecom",
            "segment_id": segment["id"],
            "content": {
                "text": "您好，我是{员工姓名}，明前龙井到店了 https://shop.shanchaji.example/longjing"
            },
        },
    )
    clean.api("POST", f"/broadcasts/{broadcast['id']}/send")
    _wait_for(
        "create the staff's WeCom tasks",
        lambda: clean.api("GET", f"/broadcasts/{broadcast['id']}")["status"] == "waiting",
    )

    page = clean.page
    page.goto(f"{corp.url}/broadcasts/{broadcast['id']}")
    expect(page.get_by_test_id("broadcast-status")).to_contain_text("待员工确认")
    expect(page.get_by_test_id("tasks")).to_contain_text("待员工确认")
    expect(page.get_by_test_id("send-progress")).to_be_visible()
    shot(page, "w-07-broadcast-waiting")

    page.get_by_test_id("simulate-confirm").click()
    expect(page.get_by_test_id("broadcast-status")).to_contain_text("已完成")
    expect(page.get_by_test_id("simulate-confirm")).to_have_count(0)
    expect(page.get_by_test_id("tasks")).not_to_contain_text("待员工确认")
    results = clean.api("GET", f"/broadcasts/{broadcast['id']}/results")
    sent = results["counts"]["sent"] + results["counts"]["delivered"]
    assert sent > 0
    expect(page.get_by_test_id("kpi-sent")).to_contain_text(f"{sent:,}")
    staff_with_customers = [s for s in results["by_staff"] if s["counts"]["planned"]]
    expect(page.get_by_test_id("by-staff").locator("tbody tr")).to_have_count(
        len(staff_with_customers)
    )
    shot(page, "w-08-broadcast-confirmed")

    page.get_by_test_id("simulate-responses").click()
    expect(page.get_by_text("位点击")).to_be_visible()
    clicked = clean.api("GET", f"/broadcasts/{broadcast['id']}/results")["counts"]["clicked"]
    assert clicked > 0
    expect(page.get_by_test_id("kpi-clicked")).to_contain_text(f"{clicked:,}")
    shot(page, "w-09-broadcast-responses")


def test_email_account_check_shows_what_the_server_said(clean: Console, corp: Corp) -> None:
    port = base._free_port()
    page = clean.page
    page.goto(f"{corp.url}/broadcasts/settings")
    card = page.get_by_test_id("account-email")
    page.get_by_test_id("smtp-host").locator("input").fill("127.0.0.1")
    port_input = page.get_by_test_id("smtp-port").locator("input")
    port_input.fill(str(port))
    port_input.press("Tab")  # the number input commits its value on blur
    expect(port_input).to_have_value(str(port))
    card.get_by_text("不加密").click()
    page.get_by_test_id("smtp-username").locator("input").fill("")
    page.get_by_test_id("smtp-from").locator("input").fill("member@shanchaji.example")

    page.get_by_test_id("test-email").click()
    failed = page.get_by_test_id("email-check")
    expect(failed).to_contain_text(f"无法连接邮件服务器 127.0.0.1:{port}")
    expect(failed).to_contain_text("错误码")
    shot(page, "w-09-email-check-failed")

    smtp = Controller(Sink(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        page.get_by_test_id("test-email").click()
        expect(page.get_by_test_id("email-check")).to_contain_text("邮件服务器连接并登录成功")
        expect(page.get_by_test_id("email-check")).not_to_contain_text("错误码")
    finally:
        smtp.stop()
    shot(page, "w-10-email-check-ok")
