from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.db.session import unit_of_work
from siyu.workspace import service
from siyu.workspace.roles import Role
from tests.conftest import WorkspaceFixture

PASSWORD = "correct horse battery"


def sign_in(
    client: TestClient, email: str, password: str = PASSWORD, workspace: str | None = None
) -> str:
    """Sign the client in with a console session; returns the CSRF token."""
    body = {"email": email, "password": password}
    if workspace is not None:
        body["workspace"] = workspace
    response = client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf_token"]
    return csrf


AddMember = Callable[..., int]


@pytest.fixture
def add_member(engine: Engine, workspace: WorkspaceFixture) -> AddMember:
    """Add a user with the given role to the default workspace; returns the user id."""

    def add(email: str, role: Role, *, workspace_id: int | None = None) -> int:
        with unit_of_work(engine) as session:
            user = service.create_user(
                session,
                workspace_id=workspace_id or workspace.id,
                email=email,
                name=email.split("@", maxsplit=1)[0],
                password=PASSWORD,
                role=role,
            )
            return user.id

    return add


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    """A second client with its own cookie jar, for console sessions."""
    with TestClient(app) as client:
        yield client
