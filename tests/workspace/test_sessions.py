"""Console sessions over HTTP: cookie flags, CSRF, expiry, logout, switching, passwords."""

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from siyu.app import create_app
from siyu.config import Settings
from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.models import ConsoleSession
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture
from tests.workspace.conftest import PASSWORD, AddMember, sign_in


def test_login_sets_an_http_only_lax_cookie_and_returns_a_csrf_token(
    browser: TestClient, workspace: WorkspaceFixture
) -> None:
    response = browser.post(
        "/api/v1/auth/login",
        json={"email": workspace.admin_email, "password": workspace.admin_password},
    )
    assert response.status_code == 200
    cookie = response.headers["set-cookie"].lower()
    assert "siyu_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # dev settings; production turns it on
    assert response.json()["csrf_token"]
    assert response.json()["role"] == "admin"


def test_session_cookie_is_secure_when_configured(
    engine: Engine, workspace: WorkspaceFixture, settings: Settings
) -> None:
    secure = settings.model_copy(update={"session_cookie_secure": True})
    with TestClient(create_app(secure, engine=engine, run_worker=False)) as client:
        response = client.post(
            "/api/v1/auth/login",
            json={"email": workspace.admin_email, "password": workspace.admin_password},
        )
    assert "secure" in response.headers["set-cookie"].lower()


def test_unsafe_request_with_cookie_but_without_csrf_token_is_refused(
    browser: TestClient, workspace: WorkspaceFixture
) -> None:
    csrf = sign_in(browser, workspace.admin_email)
    body = {"name": "integration", "role": "viewer"}

    refused = browser.post("/api/v1/api-keys", json=body)
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["error"]["message"]
    wrong = browser.post("/api/v1/api-keys", json=body, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    non_ascii = browser.post(
        "/api/v1/api-keys", json=body, headers={"X-CSRF-Token": "令牌".encode()}
    )
    assert non_ascii.status_code == 403

    accepted = browser.post("/api/v1/api-keys", json=body, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 201


def test_safe_requests_with_cookie_need_no_csrf_token_and_me_returns_it(
    browser: TestClient, workspace: WorkspaceFixture
) -> None:
    csrf = sign_in(browser, workspace.admin_email)
    me = browser.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["csrf_token"] == csrf
    assert me.json()["workspace_slug"] == workspace.slug


def test_expired_session_answers_401_saying_it_expired(
    browser: TestClient, workspace: WorkspaceFixture, engine: Engine
) -> None:
    sign_in(browser, workspace.admin_email)
    with unit_of_work(engine) as session:
        session.execute(update(ConsoleSession).values(expires_at=utcnow() - timedelta(seconds=1)))

    response = browser.get("/api/v1/auth/me")
    assert response.status_code == 401
    error = response.json()["error"]
    assert "expired" in error["message"]
    assert error["details"] == {"reason": "session_expired"}


def test_logout_ends_the_session_on_the_server(
    browser: TestClient, workspace: WorkspaceFixture, engine: Engine
) -> None:
    csrf = sign_in(browser, workspace.admin_email)
    token = browser.cookies.get("siyu_session")
    assert token

    assert browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    # Replaying the old cookie does not work: the server forgot the session.
    browser.cookies.set("siyu_session", token)
    assert browser.get("/api/v1/auth/me").status_code == 401
    with unit_of_work(engine) as session:
        assert session.scalars(select(ConsoleSession)).all() == []


def test_wrong_password_is_401_and_repeated_failures_are_rate_limited(
    browser: TestClient, workspace: WorkspaceFixture
) -> None:
    wrong = {"email": workspace.admin_email, "password": "wrong password"}
    for _ in range(5):
        response = browser.post("/api/v1/auth/login", json=wrong)
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "wrong email or password"

    limited = browser.post("/api/v1/auth/login", json=wrong)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.json()["error"]["details"]["retry_after_seconds"] > 0
    # Even the right password waits out the window for this (ip, email)...
    right = {"email": workspace.admin_email, "password": workspace.admin_password}
    assert browser.post("/api/v1/auth/login", json=right).status_code == 429


def test_failures_for_one_email_do_not_lock_out_another(
    browser: TestClient, workspace: WorkspaceFixture, add_member: AddMember
) -> None:
    add_member("other@example.com", Role.VIEWER)
    for _ in range(6):
        browser.post(
            "/api/v1/auth/login", json={"email": workspace.admin_email, "password": "nope-nope"}
        )
    sign_in(browser, "other@example.com")


def test_unknown_email_fails_like_a_wrong_password(browser: TestClient) -> None:
    response = browser.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "whatever1"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "wrong email or password"


def test_switch_workspace_moves_the_session_to_another_membership(
    browser: TestClient,
    workspace: WorkspaceFixture,
    make_workspace: MakeWorkspace,
    add_member: AddMember,
) -> None:
    other = make_workspace()
    add_member(workspace.admin_email, Role.VIEWER, workspace_id=other.id)
    csrf = sign_in(browser, workspace.admin_email, workspace=workspace.slug)

    switched = browser.post(
        "/api/v1/auth/switch-workspace", json={"slug": other.slug}, headers={"X-CSRF-Token": csrf}
    )
    assert switched.status_code == 200
    assert switched.json()["workspace_slug"] == other.slug
    assert switched.json()["role"] == "viewer"
    assert switched.json()["csrf_token"] != csrf
    me = browser.get("/api/v1/auth/me").json()
    assert (me["workspace_slug"], me["role"]) == (other.slug, "viewer")


def test_switch_to_a_workspace_without_membership_is_404(
    browser: TestClient, workspace: WorkspaceFixture, make_workspace: MakeWorkspace
) -> None:
    other = make_workspace()
    csrf = sign_in(browser, workspace.admin_email)
    for slug in (other.slug, "no-such-workspace"):
        response = browser.post(
            "/api/v1/auth/switch-workspace", json={"slug": slug}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "workspace not found"
    assert browser.get("/api/v1/auth/me").json()["workspace_slug"] == workspace.slug


def test_api_key_cannot_switch_workspace_or_change_a_password(api: TestClient) -> None:
    assert api.post("/api/v1/auth/switch-workspace", json={"slug": "x"}).status_code == 400
    response = api.post(
        "/api/v1/auth/password",
        json={"current_password": "whatever1", "new_password": "whatever2"},
    )
    assert response.status_code == 400


def test_password_change_needs_the_current_password_and_ends_other_sessions(
    app: FastAPI, browser: TestClient, workspace: WorkspaceFixture
) -> None:
    csrf = sign_in(browser, workspace.admin_email)
    with TestClient(app) as laptop:
        sign_in(laptop, workspace.admin_email)

        wrong = browser.post(
            "/api/v1/auth/password",
            json={"current_password": "not it at all", "new_password": "a new secret!"},
            headers={"X-CSRF-Token": csrf},
        )
        assert wrong.status_code == 422
        assert wrong.json()["error"]["details"]["field"] == "current_password"
        short = browser.post(
            "/api/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": "short"},
            headers={"X-CSRF-Token": csrf},
        )
        assert short.status_code == 422
        assert short.json()["error"]["details"]["field"] == "new_password"

        changed = browser.post(
            "/api/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": "a new secret!"},
            headers={"X-CSRF-Token": csrf},
        )
        assert changed.status_code == 204
        assert browser.get("/api/v1/auth/me").status_code == 200  # this session lives on
        assert laptop.get("/api/v1/auth/me").status_code == 401  # the other one ended

    with TestClient(app) as fresh:
        assert (
            fresh.post(
                "/api/v1/auth/login", json={"email": workspace.admin_email, "password": PASSWORD}
            ).status_code
            == 401
        )
        sign_in(fresh, workspace.admin_email, password="a new secret!")


def test_deactivated_member_loses_their_session_and_cannot_sign_in(
    api: TestClient, browser: TestClient, add_member: AddMember
) -> None:
    user_id = add_member("op@example.com", Role.OPERATOR)
    sign_in(browser, "op@example.com")

    assert api.patch(f"/api/v1/users/{user_id}", json={"is_active": False}).status_code == 200
    assert browser.get("/api/v1/auth/me").status_code == 401
    response = browser.post(
        "/api/v1/auth/login", json={"email": "op@example.com", "password": PASSWORD}
    )
    assert response.status_code == 401


def test_signing_in_sweeps_the_users_expired_sessions(
    browser: TestClient, workspace: WorkspaceFixture, engine: Engine
) -> None:
    sign_in(browser, workspace.admin_email)
    with unit_of_work(engine) as session:
        session.execute(update(ConsoleSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    sign_in(browser, workspace.admin_email)
    with unit_of_work(engine) as session:
        remaining = session.scalars(select(ConsoleSession)).all()
        assert len(remaining) == 1
        assert remaining[0].expires_at > utcnow()
