"""Browser tests of the segment builder (live count while editing) and the insights pages.

Same setup as test_browser.py: the built console served by `siyu serve` on a SQLite file
with the demo brand (features, RFM and demo segments computed), in Debian's Chromium.
"""

import uuid

from playwright.sync_api import Page, expect

from tests.console import test_browser as base
from tests.console.test_browser import Served, shot

browser = base.browser
served = base.served
signed_in = base.signed_in


def _pick(page: Page, option: str) -> None:
    page.locator(".t-select-option", has_text=option).first.click()


def test_a_segment_is_built_with_a_live_count_and_appears_in_the_list(
    signed_in: Page, served: Served
) -> None:
    page = signed_in
    name = f"绿茶复购{uuid.uuid4().hex[:4]}"
    page.goto(f"{served.url}/segments/new")
    page.get_by_test_id("segment-name").locator("input").fill(name)
    expect(page.get_by_test_id("preview-error")).to_contain_text("tag_ids")

    page.get_by_test_id("tag-picker").click()
    _pick(page, "兴趣偏好 / 绿茶")
    page.get_by_test_id("segment-name").click()  # closes the dropdown
    count = page.get_by_test_id("live-count")
    expect(count).not_to_have_text("—")
    tagged = int(count.inner_text().replace(",", ""))
    assert tagged > 0
    expect(page.get_by_test_id("preview-sample").locator("tbody tr").first).to_be_visible()

    page.get_by_test_id("rule-group-0").get_by_test_id("add-condition").first.click()
    second = page.get_by_test_id("rule-group-0").get_by_test_id("condition-tag").nth(1)
    second.get_by_test_id("condition-type").click()
    _pick(page, "订单")
    orders = page.get_by_test_id("condition-orders")
    orders.get_by_test_id("orders-value").locator("input").fill("2")
    orders.get_by_test_id("orders-value").locator("input").press("Tab")
    expect(count).not_to_have_text(f"{tagged:,}")
    assert int(count.inner_text().replace(",", "")) <= tagged
    shot(page, "s3-01-segment-builder")

    page.get_by_test_id("save-segment").click()
    table = page.get_by_test_id("segments-table")
    expect(table).to_contain_text(name)
    expect(table.locator("tr", has_text=name)).to_contain_text("已就绪", timeout=15_000)
    expect(table).to_contain_text("重要价值客户")  # a demo segment
    shot(page, "s3-02-segments")


def test_insights_render_rfm_clv_and_growth_charts(signed_in: Page, served: Served) -> None:
    page = signed_in
    page.goto(f"{served.url}/insights")
    expect(page.get_by_test_id("chart-rfm").locator("canvas").first).to_be_visible()
    expect(page.get_by_test_id("csv-rfm")).to_have_attribute(
        "href", "/api/v1/analytics/rfm?format=csv"
    )
    shot(page, "s3-03-rfm")
    page.locator(".t-tabs__nav-item", has_text="客户生命周期价值").click()
    expect(page.get_by_test_id("chart-clv-alive").locator("canvas").first).to_be_visible()
    page.locator(".t-tabs__nav-item", has_text="客户增长").click()
    expect(page.get_by_test_id("chart-growth").locator("canvas").first).to_be_visible()
    expect(page.get_by_test_id("chart-platforms").locator("canvas").first).to_be_visible()
    shot(page, "s3-04-growth")
