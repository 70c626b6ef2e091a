"""The workspace API: settings, members, API keys and the audit log."""

import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.models import ApiKey, Staff
from siyu.workspace import service
from siyu.workspace.roles import Role
from siyu.workspace.security import API_KEY_PREFIX, hash_token
from tests.conftest import MakeWorkspace, WorkspaceFixture, commit_beside
from tests.workspace.conftest import PASSWORD, AddMember, sign_in


def _audit_actions(api: TestClient, **params: str) -> list[str]:
    response = api.get("/api/v1/audit-log", params=params)
    assert response.status_code == 200, response.text
    return [entry["action"] for entry in response.json()["items"]]


# --- workspace --------------------------------------------------------------------------


def test_admin_renames_the_workspace_and_sets_its_timezone(api: TestClient) -> None:
    response = api.patch("/api/v1/workspace", json={"name": "山茶集", "timezone": "Asia/Tokyo"})
    assert response.status_code == 200
    assert api.get("/api/v1/workspace").json()["name"] == "山茶集"
    assert api.get("/api/v1/workspace").json()["timezone"] == "Asia/Tokyo"
    assert _audit_actions(api, action="workspace.update") == ["workspace.update"]


def test_unknown_timezone_is_refused_naming_the_field(api: TestClient) -> None:
    response = api.patch("/api/v1/workspace", json={"timezone": "Mars/Olympus"})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "timezone"


def test_operator_reads_but_cannot_change_the_workspace(
    client: TestClient, make_workspace: MakeWorkspace
) -> None:
    operator = make_workspace(role=Role.OPERATOR)
    assert client.get("/api/v1/workspace", headers=operator.headers).status_code == 200
    response = client.patch("/api/v1/workspace", json={"name": "x"}, headers=operator.headers)
    assert response.status_code == 403


# --- members ----------------------------------------------------------------------------


def test_admin_invites_a_user_who_can_then_sign_in_with_that_role(
    api: TestClient, browser: TestClient
) -> None:
    response = api.post(
        "/api/v1/users",
        json={
            "email": "Li.Na@Example.com",
            "name": "李娜",
            "password": PASSWORD,
            "role": "operator",
        },
    )
    assert response.status_code == 201, response.text
    member = response.json()
    assert (member["email"], member["role"], member["is_active"]) == (
        "li.na@example.com",
        "operator",
        True,
    )
    assert "password" not in response.text

    sign_in(browser, "li.na@example.com")
    assert browser.get("/api/v1/auth/me").json()["role"] == "operator"
    assert _audit_actions(api, action="user.invite") == ["user.invite"]


def test_inviting_an_existing_member_again_conflicts(
    api: TestClient, workspace: WorkspaceFixture
) -> None:
    body = {"email": workspace.admin_email, "name": "x", "password": PASSWORD, "role": "viewer"}
    response = api.post("/api/v1/users", json=body)
    assert response.status_code == 409


def test_invite_with_short_password_names_the_field(api: TestClient) -> None:
    body = {"email": "a@example.com", "name": "a", "password": "short", "role": "viewer"}
    response = api.post("/api/v1/users", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "password"
    assert "short" not in response.text


def test_users_list_pages_through_members_with_their_roles(
    api: TestClient, add_member: AddMember
) -> None:
    for i in range(4):
        add_member(f"user{i}@example.com", Role.VIEWER)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", "sort": "email"} | ({"cursor": cursor} if cursor else {})
        page = api.get("/api/v1/users", params=params).json()
        seen += [item["email"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5
    assert seen == sorted(seen)


def test_role_change_is_audited_and_takes_effect(
    api: TestClient, browser: TestClient, add_member: AddMember
) -> None:
    user_id = add_member("v@example.com", Role.VIEWER)
    response = api.patch(f"/api/v1/users/{user_id}", json={"role": "operator"})
    assert response.status_code == 200
    assert response.json()["role"] == "operator"

    entries = api.get("/api/v1/audit-log", params={"action": "user.role_change"}).json()["items"]
    assert len(entries) == 1
    assert entries[0]["target_type"] == "user"
    assert entries[0]["target_id"] == str(user_id)
    assert entries[0]["details"] == {"before": {"role": "viewer"}, "after": {"role": "operator"}}
    sign_in(browser, "v@example.com")
    assert browser.get("/api/v1/auth/me").json()["role"] == "operator"


def test_the_last_admin_cannot_be_demoted_deactivated_or_removed(
    api: TestClient, workspace: WorkspaceFixture, add_member: AddMember
) -> None:
    me = api.get("/api/v1/users").json()["items"][0]
    assert me["email"] == workspace.admin_email
    for change in ({"role": "operator"}, {"is_active": False}):
        response = api.patch(f"/api/v1/users/{me['id']}", json=change)
        assert response.status_code == 409
        assert "last admin" in response.json()["error"]["message"]
    assert api.delete(f"/api/v1/users/{me['id']}").status_code == 409

    # With a second admin, the first may step down.
    add_member("second@example.com", Role.ADMIN)
    assert api.patch(f"/api/v1/users/{me['id']}", json={"role": "viewer"}).status_code == 200


def test_staff_link_must_name_a_staff_member_of_this_workspace(
    api: TestClient,
    add_member: AddMember,
    engine: Engine,
    workspace: WorkspaceFixture,
    make_workspace: MakeWorkspace,
) -> None:
    other = make_workspace()
    with unit_of_work(engine) as session:
        mine = Staff(workspace_id=workspace.id, name="王导购")
        theirs = Staff(workspace_id=other.id, name="别家导购")
        session.add_all([mine, theirs])
        session.flush()
        mine_id, theirs_id = mine.id, theirs.id
    user_id = add_member("guide@example.com", Role.STAFF)

    refused = api.patch(f"/api/v1/users/{user_id}", json={"staff_id": theirs_id})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["field"] == "staff_id"
    linked = api.patch(f"/api/v1/users/{user_id}", json={"staff_id": mine_id})
    assert linked.json()["staff_id"] == mine_id
    unlinked = api.patch(f"/api/v1/users/{user_id}", json={"staff_id": None})
    assert unlinked.json()["staff_id"] is None


def test_removing_a_member_revokes_their_access_and_is_audited(
    api: TestClient, browser: TestClient, add_member: AddMember
) -> None:
    user_id = add_member("gone@example.com", Role.OPERATOR)
    sign_in(browser, "gone@example.com")
    assert api.delete(f"/api/v1/users/{user_id}").status_code == 204
    assert browser.get("/api/v1/auth/me").status_code == 401
    assert api.get(f"/api/v1/users/{user_id}").status_code == 404
    assert _audit_actions(api, action="user.remove") == ["user.remove"]


# --- API keys ---------------------------------------------------------------------------


def test_api_key_is_shown_once_and_stored_only_as_a_hash(
    api: TestClient, client: TestClient, engine: Engine
) -> None:
    created = api.post("/api/v1/api-keys", json={"name": "ERP 同步", "role": "operator"})
    assert created.status_code == 201
    plaintext = created.json()["key"]
    assert plaintext.startswith(API_KEY_PREFIX)
    assert created.json()["prefix"] == plaintext[:12]

    listed = api.get("/api/v1/api-keys")
    assert plaintext not in listed.text
    assert all("key" not in item for item in listed.json()["items"])
    with unit_of_work(engine) as session:
        row = session.scalars(select(ApiKey).where(ApiKey.id == created.json()["id"])).one()
        assert row.key_hash == hash_token(plaintext)
        assert plaintext not in (row.key_hash, row.prefix, row.name)

    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {plaintext}"})
    assert me.json()["role"] == "operator"


def test_revoked_key_stops_working_and_revocation_is_audited(
    api: TestClient, client: TestClient
) -> None:
    created = api.post("/api/v1/api-keys", json={"name": "temp", "role": "viewer"}).json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200

    assert api.delete(f"/api/v1/api-keys/{created['id']}").status_code == 204
    response = client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 401
    listed = {k["id"]: k for k in api.get("/api/v1/api-keys").json()["items"]}
    assert listed[created["id"]]["revoked_at"] is not None
    assert listed[created["id"]]["last_used_at"] is not None
    assert _audit_actions(api, target_type="api_key") == ["api_key.revoke", "api_key.create"]


def test_revoking_a_missing_key_is_404(api: TestClient) -> None:
    response = api.delete("/api/v1/api-keys/987654")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_garbage_bearer_token_is_401(client: TestClient) -> None:
    for header in ("Bearer sk_siyu_nope", "Basic abc", "Bearer "):
        response = client.get("/api/v1/auth/me", headers={"Authorization": header})
        assert response.status_code == 401


# --- audit log --------------------------------------------------------------------------


def test_audit_log_filters_by_actor_and_date_and_pages_newest_first(
    api: TestClient, workspace: WorkspaceFixture, add_member: AddMember
) -> None:
    for i in range(3):
        api.post("/api/v1/api-keys", json={"name": f"k{i}", "role": "viewer"})
    me = api.get("/api/v1/auth/me").json()

    first = api.get("/api/v1/audit-log", params={"limit": "2"}).json()
    second = api.get("/api/v1/audit-log", params={"limit": "2", "cursor": first["next_cursor"]})
    names = [e["details"]["name"] for e in first["items"] + second.json()["items"]]
    assert names == ["k2", "k1", "k0"]
    assert second.json()["next_cursor"] is None

    by_me = _audit_actions(api, actor=f"api_key:{me['api_key_id']}")
    assert by_me == ["api_key.create"] * 3
    assert _audit_actions(api, actor="user:424242") == []
    future = (utcnow() + timedelta(hours=1)).isoformat()
    assert _audit_actions(api, since=future) == []
    assert len(_audit_actions(api, until=future)) == 3


def test_audit_log_rejects_a_malformed_actor_naming_the_field(api: TestClient) -> None:
    response = api.get("/api/v1/audit-log", params={"actor": "bob"})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "actor"


def test_audit_log_is_admin_only(client: TestClient, make_workspace: MakeWorkspace) -> None:
    operator = make_workspace(role=Role.OPERATOR)
    assert client.get("/api/v1/audit-log", headers=operator.headers).status_code == 403


def test_a_keys_use_is_recorded_on_a_read_while_others_write(
    api: TestClient, client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GET records its key's first use in a minute; another writer committing right after
    the key was looked up neither fails that request nor is lost."""
    created = api.post("/api/v1/api-keys", json={"name": "对接", "role": "viewer"}).json()
    authenticate = service.authenticate_api_key
    other_writer: list[threading.Thread] = []

    def look_up_then_another_writes(*args: Any, **kwargs: Any) -> Any:
        found = authenticate(*args, **kwargs)
        renamed = update(ApiKey).where(ApiKey.id != created["id"]).values(name="旧钥")
        other_writer.append(commit_beside(engine, renamed))
        return found

    monkeypatch.setattr(service, "authenticate_api_key", look_up_then_another_writes)
    response = client.get("/api/v1/staff", headers={"Authorization": f"Bearer {created['key']}"})
    for thread in other_writer:
        thread.join()
    assert response.status_code == 200, response.text
    with unit_of_work(engine) as session:
        used = session.get(ApiKey, created["id"])
        assert used is not None
        assert used.last_used_at is not None
        names = set(session.scalars(select(ApiKey.name).where(ApiKey.id != created["id"])))
        assert names == {"旧钥"}
