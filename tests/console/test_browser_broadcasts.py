"""Browser test of the broadcast composer: an email broadcast to a segment, with the
eligibility preview, saved as a draft and listed.

Same setup as test_browser.py (whose fixtures this module reuses): the built console served
by the real `siyu serve` on a SQLite file with the demo brand, driven in Debian's Chromium.
"""

import re
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from tests.console import test_browser as base
from tests.console.test_browser import Served, shot

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


def test_an_email_broadcast_is_composed_with_a_reach_preview_and_saved_as_a_draft(
    signed_in: Page, served: Served
) -> None:
    page = signed_in
    suffix = uuid.uuid4().hex[:4]
    segment = _api(
        page,
        served,
        "POST",
        "/segments",
        {
            "name": f"群发对象{suffix}",
            "kind": "dynamic",
            "rule": {"all": [{"type": "profile", "field": "city", "op": "is_set"}]},
        },
    )
    name = f"新品邮件{suffix}"

    page.goto(f"{served.url}/broadcasts/new")
    page.get_by_test_id("broadcast-name").locator("input").fill(name)
    page.get_by_test_id("channel-email").click()
    expect(page.get_by_test_id("eligibility")).to_contain_text("选择发送对象后")
    page.get_by_test_id("segment-picker").click()
    page.locator(".t-select-option", has_text=segment["name"]).first.click()
    audience = page.get_by_test_id("eligibility-audience")
    expect(audience).to_be_visible()
    assert int(audience.inner_text().replace(",", "")) > 0
    eligible = int(page.get_by_test_id("eligibility-eligible").inner_text().replace(",", ""))
    assert eligible <= int(audience.inner_text().replace(",", ""))
    shot(page, "b-01-broadcast-audience")

    page.get_by_test_id("next-step").click()
    page.get_by_test_id("next-step").click()  # refused: no subject yet
    expect(page.get_by_text("请填写邮件主题")).to_be_visible()
    page.get_by_test_id("content-subject").locator("input").fill("新品上市")
    page.get_by_test_id("content-html").locator("textarea").fill("<h1>秋季新品</h1>")
    preview = page.frame_locator("[data-testid=html-preview]")
    expect(preview.locator("h1")).to_have_text("秋季新品")
    shot(page, "b-02-broadcast-content")

    page.get_by_test_id("save-draft").click()
    expect(page).to_have_url(re.compile(r"/broadcasts/\d+/edit$"))
    expect(page.get_by_text("草稿已保存")).to_be_visible()
    saved = _api(page, served, "GET", "/broadcasts?status=draft")
    draft = next(b for b in saved["items"] if b["name"] == name)
    assert draft["channel"] == "email"
    assert draft["segment_id"] == segment["id"]
    assert draft["content"]["subject"] == "新品上市"

    page.goto(f"{served.url}/broadcasts")
    row = page.get_by_test_id("broadcasts-table").locator("tr", has_text=name)
    expect(row).to_contain_text("邮件")
    expect(row).to_contain_text("草稿")
    expect(row).to_contain_text(segment["name"])
    shot(page, "b-03-broadcasts")
