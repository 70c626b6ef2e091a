"""Browser tests of the home dashboard, the customers export, bulk tags and tag reordering.

Same setup as test_browser.py (whose fixtures this module reuses): the built console served
by the real `siyu serve` on a SQLite file with the demo brand, driven in Debian's Chromium.
Screenshots land in test-output/console/.
"""

import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.console import test_browser as base
from tests.console.test_browser import Served, shot

# The served console, the browser and the signed-in page of test_browser.py, one per module.
browser = base.browser
served = base.served
signed_in = base.signed_in


def _api(page: Page, served: Served, method: str, path: str, body: Any = None) -> Any:
    """Call the API as the signed-in browser does (session cookie + CSRF token)."""
    me = page.request.get(f"{served.url}/api/v1/auth/me").json()
    response = page.request.fetch(
        f"{served.url}/api/v1{path}",
        method=method,
        headers={"X-CSRF-Token": me["csrf_token"]},
        data=body,
    )
    assert response.ok, response.text()
    return response.json()


def _new_group(page: Page, served: Served, tags: list[str]) -> tuple[str, list[str]]:
    suffix = uuid.uuid4().hex[:6]
    group = _api(page, served, "POST", "/tag-groups", {"name": f"测试组{suffix}"})
    names = [f"{tag}{suffix}" for tag in tags]
    for name in names:
        _api(page, served, "POST", f"/tag-groups/{group['id']}/tags", {"name": name})
    return group["name"], names


def test_dashboard_shows_the_kpis_and_a_trend_chart(signed_in: Page, served: Served) -> None:
    page = signed_in
    page.goto(f"{served.url}/")
    expect(page.get_by_test_id("nav").get_by_text("首页", exact=True)).to_be_visible()
    total = page.get_by_test_id("kpi-total")
    expect(total).to_contain_text("客户总数")
    expect(total.locator(".kpi-value")).to_have_text("40")
    for kpi in ("kpi-new", "kpi-lost", "kpi-orders", "kpi-gmv"):
        expect(page.get_by_test_id(kpi)).to_be_visible()
    expect(page.get_by_test_id("trend-chart").locator("canvas").first).to_be_visible()
    expect(page.get_by_test_id("top-tags").locator("li").first).to_be_visible()
    shot(page, "h7-01-dashboard")


def test_export_downloads_the_filtered_customers_as_csv(signed_in: Page, served: Served) -> None:
    page = signed_in
    page.goto(f"{served.url}/customers")
    page.get_by_test_id("customer-search").locator("input").fill(served.mobile_last4)
    page.get_by_test_id("customer-search-submit").click()
    expect(page.get_by_test_id("customers-table").locator("tbody tr")).to_have_count(1)
    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = [line for line in raw.decode("utf-8-sig").splitlines() if line.strip()]
    assert lines[0].startswith("ID,姓名,手机号")
    assert len(lines) == 2
    assert served.customer_name in lines[1]
    shot(page, "h7-02-export")


def test_bulk_tag_on_the_selection_shows_the_tag_on_that_customer(
    signed_in: Page, served: Served
) -> None:
    page = signed_in
    _, (tag_name,) = _new_group(page, served, ["批量"])
    page.goto(f"{served.url}/customers")
    page.get_by_test_id("customer-search").locator("input").fill(served.mobile_last4)
    page.get_by_test_id("customer-search-submit").click()
    rows = page.get_by_test_id("customers-table").locator("tbody tr")
    expect(rows).to_have_count(1)
    rows.first.locator(".t-checkbox").click()
    expect(page).to_have_url(f"{served.url}/customers")
    page.get_by_test_id("bulk-tags-button").click()
    dialog = page.get_by_test_id("bulk-dialog")
    dialog.get_by_test_id("bulk-tags").click()
    page.locator(".t-select-option", has_text=tag_name).click()
    dialog.locator(
        ".t-dialog__header"
    ).click()  # closes the dropdown (Escape would close the dialog)
    shot(page, "h7-03-bulk-dialog")
    dialog.get_by_test_id("bulk-apply").click()
    expect(dialog.get_by_test_id("bulk-done")).to_contain_text("1")
    dialog.get_by_test_id("bulk-close").click()
    page.goto(f"{served.url}/customers/{served.customer_id}")
    expect(page.get_by_test_id("customer-tags")).to_contain_text(tag_name)
    shot(page, "h7-04-bulk-tagged")


def test_tag_reorder_persists_after_reload(signed_in: Page, served: Served) -> None:
    page = signed_in
    group, (first, second) = _new_group(page, served, ["先", "后"])
    page.goto(f"{served.url}/tags")
    card = page.get_by_test_id(f"tag-group-{group}")
    rows = card.locator(".tag-row")
    expect(rows.first).to_contain_text(first)
    card.get_by_test_id(f"tag-down-{first}").click()
    expect(rows.first).to_contain_text(second)
    page.reload()
    card = page.get_by_test_id(f"tag-group-{group}")
    expect(card.locator(".tag-row").first).to_contain_text(second)
    expect(card.locator(".tag-row").nth(1)).to_contain_text(first)
    groups = page.locator(".groups > .t-card")
    before = groups.count()
    expect(groups.nth(before - 1)).to_have_attribute("data-testid", f"tag-group-{group}")
    card.get_by_test_id(f"group-up-{group}").click()
    expect(groups.nth(before - 2)).to_have_attribute("data-testid", f"tag-group-{group}")
    page.reload()
    expect(page.locator(".groups > .t-card").nth(before - 2)).to_have_attribute(
        "data-testid", f"tag-group-{group}"
    )
    shot(page, "h7-05-tags-reordered")


def test_tags_and_groups_are_reordered_by_drag_and_drop(signed_in: Page, served: Served) -> None:
    page = signed_in
    group, (first, second, third) = _new_group(page, served, ["甲", "乙", "丙"])
    page.goto(f"{served.url}/tags")
    card = page.get_by_test_id(f"tag-group-{group}")
    card.get_by_test_id(f"tag-row-{third}").drag_to(card.get_by_test_id(f"tag-row-{first}"))
    expect(card.locator(".tag-row").first).to_contain_text(third)
    groups = page.locator(".groups > .t-card")
    card.drag_to(groups.first, source_position={"x": 24, "y": 12})  # by its title bar
    expect(groups.first).to_have_attribute("data-testid", f"tag-group-{group}")

    page.reload()
    rows = page.get_by_test_id(f"tag-group-{group}").locator(".tag-row")
    expect(rows.nth(0)).to_contain_text(third)
    expect(rows.nth(1)).to_contain_text(first)
    expect(rows.nth(2)).to_contain_text(second)
    expect(page.locator(".groups > .t-card").first).to_have_attribute(
        "data-testid", f"tag-group-{group}"
    )
    shot(page, "h7-05b-tags-dragged")


def test_bulk_tag_on_the_whole_filter_confirms_the_count_and_runs_as_a_job(
    signed_in: Page, served: Served
) -> None:
    page = signed_in
    _, (tag_name,) = _new_group(page, served, ["筛选"])
    page.goto(f"{served.url}/customers")
    page.get_by_test_id("customer-search").locator("input").fill(served.mobile_last4)
    page.get_by_test_id("customer-search-submit").click()
    expect(page.get_by_test_id("customers-table").locator("tbody tr")).to_have_count(1)
    page.get_by_test_id("bulk-tags-button").click()
    dialog = page.get_by_test_id("bulk-dialog")
    dialog.get_by_text("当前筛选结果的全部客户").click()
    dialog.get_by_test_id("bulk-tags").click()
    page.locator(".t-select-option", has_text=tag_name).click()
    dialog.locator(".t-dialog__header").click()
    dialog.get_by_test_id("bulk-apply").click()
    confirm = page.locator(".t-dialog", has_text="对全部筛选结果操作？")
    expect(confirm).to_contain_text("1 位客户")
    expect(confirm).to_contain_text(tag_name)
    shot(page, "h7-06-bulk-confirm")
    confirm.locator(".t-dialog__confirm").click()
    expect(dialog.get_by_test_id("bulk-done")).to_contain_text("1 位客户")
    dialog.get_by_test_id("bulk-close").click()
    page.goto(f"{served.url}/customers/{served.customer_id}")
    expect(page.get_by_test_id("customer-tags")).to_contain_text(tag_name)
