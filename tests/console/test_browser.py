"""The built console, served by the real `siyu serve`, driven in Debian's Chromium.

One server and one browser serve the whole module: a temporary SQLite database with the
demo brand loaded, a free localhost port. Screenshots of every step land in
test-output/console/.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from alembic import command
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlalchemy import func, select

import siyu.models  # noqa: F401 - registers every table
from siyu.db.base import Base
from siyu.db.engine import build_engine
from siyu.db.migrate import alembic_config
from siyu.demo import data as demo_data
from siyu.models import Customer
from tests.console.prerequisites import BUILT_CONSOLE, CHROMIUM, SCREENSHOTS, require

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SIYU_TEST_DATABASE_URL")),
    reason="the served console uses its own SQLite database; it runs in the SQLite pass",
)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000


@dataclass(frozen=True)
class Served:
    url: str
    mobile_last4: str
    customer_id: int
    customer_name: str
    database_url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _siyu(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("siyu")), *args]


def _prepare_database(url: str) -> None:
    # The schema the models declare, stamped at the newest revision; `siyu serve` then
    # finds nothing to migrate (migrations are proven against the models elsewhere).
    engine = build_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    command.stamp(alembic_config(url), "head")


def _customer_with_unique_last4(url: str) -> tuple[int, str, str]:
    engine = build_engine(url)
    with engine.connect() as connection:
        unique = (
            select(Customer.mobile_last4)
            .where(Customer.mobile_last4.is_not(None), Customer.merged_into_id.is_(None))
            .group_by(Customer.mobile_last4)
            .having(func.count() == 1)
            .limit(1)
            .scalar_subquery()
        )
        row = connection.execute(
            select(Customer.id, Customer.mobile_last4, Customer.name).where(
                Customer.mobile_last4 == unique, Customer.name.is_not(None)
            )
        ).one()
    engine.dispose()
    return row.id, str(row.mobile_last4), str(row.name)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    require(BUILT_CONSOLE.exists(), "the built console", "make console")
    home = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{home / 'siyu.db'}"
    port = _free_port()
    env = {
        **os.environ,
        "SIYU_DATABASE_URL": url,
        "SIYU_DATA_DIR": str(home / "data"),
        "SIYU_MODE": "dev",
        "SIYU_WORKER_POLL_SECONDS": "0.2",
    }
    env.pop("SIYU_TEST_DATABASE_URL", None)
    _prepare_database(url)
    subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        _siyu("demo", "--no-serve", "--customers", "40"),
        env=env,
        cwd=home,
        check=True,
        capture_output=True,
    )
    customer_id, last4, name = _customer_with_unique_last4(url)
    log = (home / "serve.log").open("w")
    server = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
        _siyu("serve", "--host", "127.0.0.1", "--port", str(port)),
        env=env,
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"siyu serve did not start:\n{(home / 'serve.log').read_text()}")
            time.sleep(0.2)
        yield Served(base, last4, customer_id, name, url)
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require(CHROMIUM.exists(), "/usr/bin/chromium", "make chromium")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


def _new_context(browser: Browser, **options: object) -> BrowserContext:
    context = browser.new_context(locale="zh-CN", **options)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    return context


def _sign_in(page: Page, served: Served) -> None:
    page.goto(f"{served.url}/login")
    page.locator("input[name=email]").fill(demo_data.LOGIN_EMAIL)
    page.locator("input[name=password]").fill(demo_data.LOGIN_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("customers-table")).to_be_visible()


@pytest.fixture(scope="module")
def signed_in(browser: Browser, served: Served) -> Iterator[Page]:
    context = _new_context(browser, viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    _sign_in(page, served)
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_login_page_signs_in_and_shows_role_aware_navigation(
    browser: Browser, served: Served
) -> None:
    context = _new_context(browser, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"{served.url}/customers")
    expect(page).to_have_url(f"{served.url}/login?redirect=/customers")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_text("请输入有效的邮箱")).to_be_visible()
    page.locator("input[name=email]").fill(demo_data.LOGIN_EMAIL)
    page.locator("input[name=password]").fill("wrong password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_be_visible()
    shot(page, "01-login-error")
    page.locator("input[name=password]").fill(demo_data.LOGIN_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("customers-table")).to_be_visible()
    nav = page.get_by_test_id("nav")
    for label in ("客户", "标签", "订单导入"):
        expect(nav.get_by_text(label, exact=True)).to_be_visible()
    shot(page, "02-customers")
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(f"{served.url}/login")
    page.goto(f"{served.url}/tags")
    expect(page).to_have_url(f"{served.url}/login?redirect=/tags")
    context.close()


def test_expired_session_returns_to_login_saying_so(browser: Browser, served: Served) -> None:
    context = _new_context(browser, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    _sign_in(page, served)
    context.clear_cookies()
    page.get_by_test_id("customer-search-submit").click()
    expect(page.get_by_test_id("session-expired")).to_be_visible()
    shot(page, "03-session-expired")
    context.close()


def test_customer_found_by_last_four_mobile_digits_opens_360(
    signed_in: Page, served: Served
) -> None:
    page = signed_in
    page.goto(f"{served.url}/customers")
    page.get_by_test_id("customer-search").locator("input").fill(served.mobile_last4)
    page.get_by_test_id("customer-search-submit").click()
    rows = page.get_by_test_id("customers-table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(served.customer_name)
    shot(page, "04-search-last4")
    rows.first.click()
    expect(page).to_have_url(f"{served.url}/customers/{served.customer_id}")
    expect(page.get_by_test_id("customer-name")).to_have_text(served.customer_name)
    expect(page.get_by_test_id("customer-stats")).to_be_visible()
    expect(page.get_by_test_id("timeline")).to_be_visible()
    shot(page, "05-customer-360")


def test_more_filters_find_customers_by_a_custom_field(signed_in: Page, served: Served) -> None:
    engine = build_engine(served.database_url)
    with engine.connect() as connection:
        levels = connection.execute(
            select(Customer.name, Customer.custom_fields).where(Customer.merged_into_id.is_(None))
        ).all()
    engine.dispose()
    gold = sorted(str(name) for name, fields in levels if fields.get("member_level") == "金卡")
    assert gold, "the demo gives some customers a gold card"
    page = signed_in
    page.goto(f"{served.url}/customers")
    page.get_by_test_id("more-filters").click()
    page.get_by_test_id("filter-custom-field").click()
    page.locator(".t-select-option").filter(has_text="会员等级").click()
    page.get_by_test_id("filter-custom-value").click()
    page.locator(".t-select-option").filter(has_text="金卡").click()
    page.get_by_test_id("more-filters-apply").click()
    rows = page.get_by_test_id("customers-table").locator("tbody tr")
    expect(rows).to_have_count(len(gold))
    shown = sorted(rows.nth(n).locator("td").nth(1).inner_text() for n in range(len(gold)))
    assert shown == gold
    expect(page.get_by_test_id("more-filters")).to_contain_text("(1)")
    shot(page, "04b-custom-field-filter")


def test_tag_added_on_360_appears_in_tags_and_on_timeline(signed_in: Page, served: Served) -> None:
    page = signed_in
    page.goto(f"{served.url}/customers/{served.customer_id}")
    picker = page.get_by_test_id("tag-picker")
    picker.click()
    option = page.locator(".t-select-option:not(.t-is-disabled)").first
    tag_name = option.inner_text().strip()
    option.click()
    page.keyboard.press("Escape")
    page.get_by_test_id("add-tags").click()
    expect(page.get_by_test_id("customer-tags")).to_contain_text(tag_name)
    expect(page.get_by_test_id("timeline").locator(".t-timeline-item").first).to_contain_text(
        tag_name
    )
    shot(page, "06-tag-added")


ORDERS_CSV = """订单号,订单状态,下单时间,付款时间,实付金额,收货人,收货人手机,商品名称,数量
UI-1001,已付款,2026-11-01 10:00:00,2026-11-01 10:01:00,199.00,林晓,13800001111,山茶花精华,1
UI-1002,已完成,2026-11-02 11:00:00,2026-11-02 11:05:00,88.50,周宁,13800002222,润唇膏,2
UI-1003,已付款,不是日期,,10.00,王五,13800003333,面膜,1
UI-1004,已付款,2026-11-03 09:00:00,,不是金额,赵六,13800004444,面膜,1
"""


def test_orders_import_reports_bad_rows_and_serves_the_error_file(
    signed_in: Page, served: Served, tmp_path: Path
) -> None:
    page = signed_in
    upload = tmp_path / "orders.csv"
    upload.write_text(ORDERS_CSV, encoding="utf-8")
    page.goto(f"{served.url}/imports/orders")
    page.get_by_test_id("import-file").set_input_files(str(upload))
    page.get_by_test_id("import-upload").click()
    expect(page.get_by_test_id("import-preview")).to_be_visible()
    expect(page.get_by_test_id("detected-platform")).to_be_visible()
    expect(page.get_by_test_id("import-preview")).to_contain_text("UI-1001")
    shot(page, "07-import-preview")
    page.get_by_test_id("import-run").click()
    result = page.get_by_test_id("import-result")
    expect(result).to_be_visible()
    expect(page.get_by_test_id("count-imported")).to_have_text("2")
    expect(page.get_by_test_id("count-failed")).to_have_text("2")
    shot(page, "08-import-result")
    with page.expect_download() as download_info:
        page.get_by_test_id("download-errors").click()
    download = download_info.value
    assert download.suggested_filename.endswith("-errors.csv")
    if download.failure() is None:
        errors = Path(download.path()).read_text(encoding="utf-8-sig")
    else:
        # A loaded CI machine's Chromium now and then cancels a download on its own; what we
        # own is that the link serves the file with the session's cookie, so ask for it again.
        again = page.request.get(download.url)
        assert again.ok, f"{download.failure()}; GET {download.url}: {again.status} {again.text()}"
        errors = again.body().decode("utf-8-sig")
    assert "不是日期" in errors or "ordered_at" in errors or "下单时间" in errors
    assert len([line for line in errors.splitlines() if line.strip()]) >= 3


def test_language_switch_turns_the_console_english_and_is_remembered(
    signed_in: Page, served: Served
) -> None:
    page = signed_in
    page.goto(f"{served.url}/customers")
    page.get_by_test_id("language-switch").click()
    page.locator(".t-select-option", has_text="English").click()
    expect(page.get_by_test_id("nav").get_by_text("Customers", exact=True)).to_be_visible()
    expect(page.get_by_test_id("customer-search-submit")).to_have_text("Search")
    shot(page, "09-english")
    page.reload()
    expect(page.get_by_test_id("nav").get_by_text("Tags", exact=True)).to_be_visible()
    page.get_by_test_id("language-switch").click()
    page.locator(".t-select-option", has_text="简体中文").click()
    expect(page.get_by_test_id("nav").get_by_text("客户", exact=True)).to_be_visible()


def test_sidebar_shows_the_customer_in_a_mobile_viewport(browser: Browser, served: Served) -> None:
    context = _new_context(
        browser, viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(f"{served.url}/sidebar?customer_id={served.customer_id}")
    page.locator("input[name=email]").fill(demo_data.LOGIN_EMAIL)
    page.locator("input[name=password]").fill(demo_data.LOGIN_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("sidebar-name")).to_have_text(served.customer_name)
    expect(page.get_by_test_id("sidebar-tags")).to_be_visible()
    shot(page, "10-sidebar-mobile")
    context.close()


def test_served_console_leaves_unknown_api_paths_to_the_api(served: Served) -> None:
    page = httpx.get(f"{served.url}/customers/123")
    assert page.status_code == 200
    assert '<div id="app">' in page.text
    missing = httpx.get(f"{served.url}/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
