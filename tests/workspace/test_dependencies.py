"""The auth matrix: every role against every permission level, by API key and by session."""

from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.db.session import unit_of_work
from siyu.workspace import service
from siyu.workspace.dependencies import Admin, Operator, Staff, Viewer
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role
from tests.conftest import WorkspaceFixture
from tests.workspace.conftest import AddMember, sign_in

probe = APIRouter(prefix="/probe")


@probe.post("/viewer")
def viewer_level(principal: Viewer) -> dict[str, str]:
    return {"role": principal.role.value}


@probe.post("/staff")
def staff_level(principal: Staff) -> dict[str, str]:
    return {"role": principal.role.value}


@probe.post("/operator")
def operator_level(principal: Operator) -> dict[str, str]:
    return {"role": principal.role.value}


@probe.post("/admin")
def admin_level(principal: Admin) -> dict[str, str]:
    return {"role": principal.role.value}


ROLES = [Role.VIEWER, Role.STAFF, Role.OPERATOR, Role.ADMIN]
# (caller's role, endpoint level) -> admitted?
MATRIX = {
    (caller, level): ROLES.index(caller) >= ROLES.index(level)
    for caller in ROLES
    for level in ROLES
}


@pytest.fixture
def probe_client(app: FastAPI) -> Iterator[TestClient]:
    app.include_router(probe)
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(("caller", "level"), list(MATRIX))
def test_api_key_role_against_each_level(
    probe_client: TestClient, engine: Engine, workspace: WorkspaceFixture, caller: Role, level: Role
) -> None:
    with unit_of_work(engine) as session:
        key = service.create_api_key(
            session, workspace_id=workspace.id, name=caller.value, role=caller
        ).plaintext
    response = probe_client.post(
        f"/probe/{level.value}", headers={"Authorization": f"Bearer {key}"}
    )
    if MATRIX[caller, level]:
        assert response.status_code == 200
        assert response.json() == {"role": caller.value}
    else:
        assert response.status_code == 403
        assert response.json()["error"]["message"] == f"requires the {level.value} role or higher"


@pytest.mark.parametrize("caller", ROLES)
def test_console_user_role_against_each_level(
    probe_client: TestClient, add_member: AddMember, caller: Role
) -> None:
    add_member(f"{caller.value}@example.com", caller)
    csrf = sign_in(probe_client, f"{caller.value}@example.com")
    for level in ROLES:
        response = probe_client.post(f"/probe/{level.value}", headers={"X-CSRF-Token": csrf})
        assert response.status_code == (200 if MATRIX[caller, level] else 403), level


def test_principal_names_its_actor() -> None:
    assert Principal(workspace_id=1, role=Role.ADMIN, user_id=7).actor == "user:7"
    assert Principal(workspace_id=1, role=Role.ADMIN, api_key_id=3).actor == "api_key:3"
    assert Principal.system(1).actor == "system"
