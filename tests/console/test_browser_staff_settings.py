"""Browser tests of the staff and departments page, the settings pages and follow-up notes.

Same setup as test_browser.py (whose fixtures this module reuses): the built console served
by the real `siyu serve` on a SQLite file with the demo brand, driven in Debian's Chromium.
Screenshots land in test-output/console/.
"""

import uuid
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.console import test_browser
from tests.console.test_browser import Served, _new_context, _sign_in, shot

# The module-scoped fixtures of test_browser.py: a served console and a signed-in page.
browser = test_browser.browser
served = test_browser.served
signed_in = test_browser.signed_in


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
    return response.json() if response.status != 204 else None


def test_department_tree_leads_to_members_and_a_members_customers(
    signed_in: Page, served: Served
) -> None:
    page = signed_in
    suffix = uuid.uuid4().hex[:6]
    region = _api(page, served, "POST", "/departments", {"name": f"测试大区{suffix}"})
    store = _api(
        page,
        served,
        "POST",
        "/departments",
        {"name": f"测试门店{suffix}", "parent_id": region["id"]},
    )
    member = _api(
        page,
        served,
        "POST",
        "/staff",
        {"name": f"导购{suffix}", "position": "导购", "department_id": store["id"]},
    )
    _api(
        page,
        served,
        "POST",
        f"/customers/{served.customer_id}/follow-relations",
        {"staff_id": member["id"]},
    )

    page.goto(f"{served.url}/staff")
    tree = page.get_by_test_id("department-tree")
    expect(tree.get_by_text(f"测试大区{suffix} (1)")).to_be_visible()
    shot(page, "h8-01-staff-tree")
    tree.get_by_text(f"测试门店{suffix} (1)").click()
    expect(page.get_by_test_id("members-title")).to_have_text(f"测试门店{suffix}")
    rows = page.get_by_test_id("members-table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"导购{suffix}")
    expect(rows.first).to_contain_text("已激活")
    expect(rows.first.locator("td").nth(4)).to_have_text("1")
    shot(page, "h8-02-staff-members")

    page.get_by_test_id("edit-department").click()
    page.get_by_test_id("department-manager").click()
    page.locator(".t-select-option", has_text=f"导购{suffix}").click()
    page.locator(".t-dialog__footer").get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("department-manager-name")).to_contain_text(f"负责人：导购{suffix}")

    page.get_by_test_id("all-staff").click()
    expect(page.get_by_test_id("members-title")).to_have_text("全部成员")
    page.get_by_test_id("staff-search").locator("input").fill(f"导购{suffix}")
    page.get_by_test_id("staff-search").locator("input").press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"导购{suffix}")
    rows.first.locator("td").first.click()
    customers = page.get_by_test_id("member-customers").get_by_test_id("member-customer")
    expect(customers).to_have_count(1)
    expect(customers.first).to_contain_text(served.customer_name)
    shot(page, "h8-03-member-customers")
    customers.first.click()
    expect(page).to_have_url(f"{served.url}/customers/{served.customer_id}")


def test_api_key_is_shown_once_then_listed_and_revoked(signed_in: Page, served: Served) -> None:
    page = signed_in
    name = f"ERP 对接 {uuid.uuid4().hex[:6]}"
    page.goto(f"{served.url}/settings/api-keys")
    page.get_by_test_id("new-api-key").click()
    page.get_by_test_id("api-key-name").locator("input").fill("")
    page.locator(".t-dialog__footer").get_by_role("button", name="创建").click()
    expect(page.get_by_text("请输入名称")).to_be_visible()
    page.get_by_test_id("api-key-name").locator("input").fill(name)
    page.locator(".t-dialog__footer").get_by_role("button", name="创建").click()

    key = page.get_by_test_id("created-key")
    expect(key).to_be_visible()
    plaintext = key.inner_text().strip()
    expect(page.get_by_text("密钥只显示这一次")).to_be_visible()
    shot(page, "h8-04-api-key-created")
    works = page.request.get(
        f"{served.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {plaintext}"}
    )
    assert works.status == 200
    page.get_by_role("button", name="我已保存").click()
    expect(key).to_be_hidden()

    row = page.get_by_test_id("api-keys-table").locator("tbody tr", has_text=name)
    expect(row).to_have_count(1)
    expect(row).not_to_contain_text(plaintext)
    expect(row).to_contain_text(plaintext[:6])
    row.get_by_test_id("revoke-key").click()
    page.locator(".t-dialog__footer").get_by_role("button", name="吊销").click()
    expect(row.get_by_test_id("key-revoked")).to_be_visible()
    shot(page, "h8-05-api-key-revoked")
    refused = page.request.get(
        f"{served.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {plaintext}"}
    )
    assert refused.status == 401


def test_audit_log_filter_narrows_the_rows(signed_in: Page, served: Served) -> None:
    page = signed_in
    key = _api(
        page, served, "POST", "/api-keys", {"name": f"审计{uuid.uuid4().hex[:6]}", "role": "viewer"}
    )
    _api(page, served, "DELETE", f"/api-keys/{key['id']}")
    page.goto(f"{served.url}/settings/audit")
    rows = page.get_by_test_id("audit-table").locator("tbody tr")
    expect(rows.first).to_be_visible()
    before = rows.count()
    assert before >= 2
    shot(page, "h8-06-audit-all")

    page.get_by_test_id("audit-target-type").locator("input").fill("api_key")
    page.get_by_test_id("audit-target-id").locator("input").fill(str(key["id"]))
    page.get_by_test_id("audit-search").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("api_key.revoke")
    expect(rows.nth(1)).to_contain_text("api_key.create")
    shot(page, "h8-07-audit-filtered")


def test_sidebar_note_in_a_mobile_viewport_appears_on_the_360_timeline(
    browser: Browser, served: Served
) -> None:
    context = _new_context(
        browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    _sign_in(page, served)
    note = f"电话回访：客户想要秋季新款 {uuid.uuid4().hex[:6]}"
    page.goto(f"{served.url}/sidebar?customer_id={served.customer_id}")
    expect(page.get_by_test_id("sidebar-name")).to_have_text(served.customer_name)
    page.get_by_test_id("sidebar-note-save").click()
    expect(page.get_by_test_id("sidebar-note-problem")).to_have_text("请先填写跟进内容")
    page.get_by_test_id("sidebar-note-input").locator("textarea").fill(note)
    page.get_by_test_id("sidebar-note-save").click()
    expect(page.get_by_test_id("sidebar-notes")).to_contain_text(note)
    expect(page.get_by_test_id("sidebar-note-input").locator("textarea")).to_have_value("")
    shot(page, "h8-08-sidebar-note")

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{served.url}/customers/{served.customer_id}")
    entry = page.get_by_test_id("timeline").get_by_test_id("timeline-note").filter(has_text=note)
    expect(entry).to_be_visible()
    expect(entry).to_contain_text("跟进")
    shot(page, "h8-09-timeline-note")
    context.close()


def test_settings_edit_custom_fields_merge_rules_users_and_workspace(
    signed_in: Page, served: Served
) -> None:
    page = signed_in
    suffix = uuid.uuid4().hex[:6]
    page.goto(f"{served.url}/settings/custom-fields")
    page.get_by_test_id("new-field").click()
    page.get_by_test_id("field-key").locator("input").fill("9bad")
    page.locator(".t-dialog__footer").get_by_role("button", name="保存").click()
    expect(page.get_by_text("字段键须以小写字母开头")).to_be_visible()
    expect(page.get_by_text("请输入显示名称")).to_be_visible()
    page.get_by_test_id("field-key").locator("input").fill(f"hobby_{suffix}")
    page.get_by_test_id("field-label").locator("input").fill(f"爱好{suffix}")
    page.locator(".t-dialog__footer").get_by_role("button", name="保存").click()
    row = page.get_by_test_id("fields-table").locator("tbody tr", has_text=f"爱好{suffix}")
    expect(row).to_contain_text("文本")
    shot(page, "h8-10-custom-fields")
    row.get_by_text("删除").click()
    page.locator(".t-dialog__footer").get_by_role("button", name="删除").click()
    expect(row).to_have_count(0)

    page.get_by_test_id("settings-tabs").get_by_text("合并规则").click()
    expect(page).to_have_url(f"{served.url}/settings/merge-rules")
    rules = page.get_by_test_id("merge-rules")
    email = rules.locator("label", has_text="email")
    was_checked = "t-is-checked" in (email.get_attribute("class") or "")
    email.click()
    with page.expect_response(
        lambda r: r.url.endswith("/settings/merge-rules") and r.request.method == "PUT"
    ) as saved:
        page.get_by_test_id("merge-rules-save").click()
    assert saved.value.ok
    kinds = _api(page, served, "GET", "/settings/merge-rules")["merge_kinds"]
    assert ("email" in kinds) is not was_checked
    shot(page, "h8-11-merge-rules")

    page.get_by_test_id("settings-tabs").get_by_text("用户与角色").click()
    page.get_by_test_id("invite-user").click()
    page.get_by_test_id("user-email").locator("input").fill(f"guide{suffix}@example.com")
    page.get_by_test_id("user-name").locator("input").fill(f"导购{suffix}")
    page.get_by_test_id("user-password").locator("input").fill("short")
    page.locator(".t-dialog__footer").get_by_role("button", name="保存").click()
    expect(page.get_by_text("密码至少 8 位")).to_be_visible()
    page.get_by_test_id("user-password").locator("input").fill("a long password")
    page.locator(".t-dialog__footer").get_by_role("button", name="保存").click()
    user_row = page.get_by_test_id("users-table").locator("tbody tr", has_text=f"导购{suffix}")
    expect(user_row).to_contain_text("员工")
    expect(user_row).to_contain_text("正常")
    user_row.get_by_text("停用").click()
    page.locator(".t-dialog__footer").get_by_role("button", name="停用").click()
    expect(user_row).to_contain_text("已停用")
    shot(page, "h8-12-users")

    page.get_by_test_id("settings-tabs").get_by_text("工作区").click()
    name = page.get_by_test_id("workspace-name").locator("input")
    original = name.input_value()
    name.fill("")
    page.get_by_test_id("workspace-save").click()
    expect(page.get_by_text("请输入工作区名称")).to_be_visible()
    name.fill(f"{original} {suffix}")
    page.get_by_test_id("workspace-save").click()
    expect(page.get_by_test_id("whoami")).to_contain_text(suffix)
    shot(page, "h8-13-workspace")
    _api(page, served, "PATCH", "/workspace", {"name": original})


def test_settings_are_hidden_from_and_closed_to_non_admins(
    browser: Browser, signed_in: Page, served: Served
) -> None:
    email = f"operator{uuid.uuid4().hex[:6]}@example.com"
    password = "operator password"
    _api(
        signed_in,
        served,
        "POST",
        "/users",
        {"email": email, "name": "运营同学", "password": password, "role": "operator"},
    )
    context = _new_context(browser, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"{served.url}/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_test_id("login-submit").click()
    nav = page.get_by_test_id("nav")
    expect(nav.get_by_text("员工与部门", exact=True)).to_be_visible()
    expect(nav.get_by_text("设置", exact=True)).to_have_count(0)
    page.goto(f"{served.url}/settings/api-keys")
    expect(page).to_have_url(f"{served.url}/customers")
    page.goto(f"{served.url}/staff")
    expect(page.get_by_test_id("new-member")).to_be_visible()
    shot(page, "h8-14-operator-nav")
    context.close()


def test_member_entered_by_mistake_is_deleted_but_one_with_customers_is_not(
    signed_in: Page, served: Served
) -> None:
    page = signed_in
    suffix = uuid.uuid4().hex[:6]
    busy = _api(page, served, "POST", "/staff", {"name": f"忙碌{suffix}"})
    _api(
        page,
        served,
        "POST",
        f"/customers/{served.customer_id}/follow-relations",
        {"staff_id": busy["id"]},
    )
    _api(page, served, "POST", "/staff", {"name": f"录错{suffix}"})
    page.goto(f"{served.url}/staff")
    page.get_by_test_id("staff-search").locator("input").fill(f"录错{suffix}")
    page.get_by_test_id("staff-search").locator("input").press("Enter")
    rows = page.get_by_test_id("members-table").locator("tbody tr")
    expect(rows).to_have_count(1)
    rows.first.get_by_test_id("delete-member").click()
    page.locator(".t-dialog__footer").get_by_role("button", name="删除").click()
    expect(rows.filter(has_text=f"录错{suffix}")).to_have_count(0)

    page.get_by_test_id("staff-search").locator("input").fill(f"忙碌{suffix}")
    page.get_by_test_id("staff-search").locator("input").press("Enter")
    expect(rows.filter(has_text=f"忙碌{suffix}")).to_have_count(1)
    rows.first.get_by_test_id("delete-member").click()
    page.locator(".t-dialog__footer").get_by_role("button", name="删除").click()
    expect(page.get_by_text("the staff member follows customers")).to_be_visible()
    expect(rows.filter(has_text=f"忙碌{suffix}")).to_have_count(1)
    shot(page, "h8-15-delete-refused")
