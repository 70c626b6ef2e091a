"""The WeCom connection: console API, write-only secrets, generated callback keys, audit."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.connectors.wecom.connection import connect, crypto_for, get_connection
from siyu.db.engine import read_only
from siyu.exceptions import Conflict, NotFound
from siyu.models import AuditEntry, WecomConnection
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture

SECRET = "contact-secret-that-must-never-leak"
DIRECTORY_SECRET = "directory-secret-that-must-never-leak"


def _put(client: TestClient, workspace: WorkspaceFixture, **body: Any) -> Any:
    return client.put("/api/v1/wecom/connection", json=body, headers=workspace.headers)


def _audit(engine: Engine, workspace_id: int) -> list[AuditEntry]:
    with Session(read_only(engine)) as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.workspace_id == workspace_id)
                .order_by(AuditEntry.id)
            )
        )


def _stored(engine: Engine, workspace_id: int) -> WecomConnection:
    with Session(read_only(engine), expire_on_commit=False) as session:
        return get_connection(session, workspace_id)


def test_connecting_generates_callback_settings_and_never_returns_secrets(
    client: TestClient, workspace: WorkspaceFixture, engine: Engine
) -> None:
    answer = _put(
        client,
        workspace,
        corp_id="ww1234abcd",
        agent_id="1000002",
        contact_secret=SECRET,
        directory_secret=DIRECTORY_SECRET,
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["corp_id"] == "ww1234abcd"
    assert body["agent_id"] == "1000002"
    assert body["status"] == "pending"
    assert body["contact_secret_set"] is True
    assert body["directory_secret_set"] is True
    assert body["api_base_url"] == "https://qyapi.weixin.qq.com"
    callback = body["callback"]
    assert callback["url"] == f"http://127.0.0.1:8000/wecom/callback/{workspace.slug}"
    assert len(callback["token"]) == 32
    assert callback["token"].isalnum()
    assert len(callback["encoding_aes_key"]) == 43
    assert callback["encoding_aes_key"].isalnum()
    for text in (
        answer.text,
        client.get("/api/v1/wecom/connection", headers=workspace.headers).text,
    ):
        assert SECRET not in text
        assert DIRECTORY_SECRET not in text
    stored = _stored(engine, workspace.id)
    assert stored.contact_secret.get_secret_value() == SECRET
    assert SECRET not in repr(stored)
    assert crypto_for(stored).token == callback["token"]
    (entry,) = _audit(engine, workspace.id)
    assert entry.action == "wecom.connect"
    assert SECRET not in str(entry.details)


def test_reading_before_connecting_is_not_found(
    client: TestClient, workspace: WorkspaceFixture
) -> None:
    answer = client.get("/api/v1/wecom/connection", headers=workspace.headers)

    assert answer.status_code == 404


def test_connecting_requires_the_contact_secret_and_a_corp_id(
    client: TestClient, workspace: WorkspaceFixture
) -> None:
    no_secret = _put(client, workspace, corp_id="ww1234abcd")
    bad_corp = _put(client, workspace, corp_id="ww 12/34", contact_secret=SECRET)

    assert no_secret.status_code == 422
    assert no_secret.json()["error"]["details"]["field"] == "contact_secret"
    assert bad_corp.status_code == 422
    assert bad_corp.json()["error"]["details"]["field"] == "corp_id"


def test_only_admins_see_or_change_the_connection(
    client: TestClient, make_workspace: MakeWorkspace
) -> None:
    operator = make_workspace(role=Role.OPERATOR)

    assert _put(client, operator, corp_id="ww1", contact_secret=SECRET).status_code == 403
    assert client.get("/api/v1/wecom/connection", headers=operator.headers).status_code == 403
    regenerate = client.post("/api/v1/wecom/connection/callback-keys", headers=operator.headers)
    assert regenerate.status_code == 403
    assert client.get("/api/v1/wecom/callbacks/stats", headers=operator.headers).status_code == 200


def test_saving_without_secrets_keeps_them_and_audits_what_changed(
    client: TestClient, workspace: WorkspaceFixture, engine: Engine
) -> None:
    first = _put(client, workspace, corp_id="ww1234abcd", contact_secret=SECRET).json()

    second = _put(client, workspace, corp_id="ww1234abcd", agent_id="1000003", contact_secret="")

    assert second.status_code == 200
    assert second.json()["agent_id"] == "1000003"
    assert second.json()["callback"] == first["callback"]
    assert _stored(engine, workspace.id).contact_secret.get_secret_value() == SECRET
    entries = _audit(engine, workspace.id)
    assert [e.action for e in entries] == ["wecom.connect", "wecom.update_connection"]
    assert entries[1].details["changed"] == ["agent_id"]


def test_replacing_a_secret_is_audited_without_its_value(
    client: TestClient, workspace: WorkspaceFixture, engine: Engine
) -> None:
    _put(client, workspace, corp_id="ww1234abcd", contact_secret=SECRET)

    _put(client, workspace, corp_id="ww1234abcd", contact_secret="a-new-secret-value")

    assert _stored(engine, workspace.id).contact_secret.get_secret_value() == "a-new-secret-value"
    entry = _audit(engine, workspace.id)[-1]
    assert entry.details["changed"] == ["contact_secret"]
    assert "a-new-secret-value" not in str(entry.details)


def test_regenerating_callback_keys_needs_a_new_verification(
    client: TestClient, workspace: WorkspaceFixture, engine: Engine
) -> None:
    before = _put(client, workspace, corp_id="ww1234abcd", contact_secret=SECRET).json()

    answer = client.post("/api/v1/wecom/connection/callback-keys", headers=workspace.headers)

    assert answer.status_code == 200
    after = answer.json()
    assert after["callback"]["token"] != before["callback"]["token"]
    assert after["callback"]["encoding_aes_key"] != before["callback"]["encoding_aes_key"]
    assert after["callback"]["url"] == before["callback"]["url"]
    assert after["status"] == "pending"
    assert _audit(engine, workspace.id)[-1].action == "wecom.regenerate_callback_keys"


def test_regenerating_keys_without_a_connection_is_not_found(
    client: TestClient, workspace: WorkspaceFixture
) -> None:
    answer = client.post("/api/v1/wecom/connection/callback-keys", headers=workspace.headers)

    assert answer.status_code == 404


def test_a_corp_belongs_to_one_workspace(client: TestClient, make_workspace: MakeWorkspace) -> None:
    first, second = make_workspace(), make_workspace()
    assert _put(client, first, corp_id="ww1234abcd", contact_secret=SECRET).status_code == 200

    answer = _put(client, second, corp_id="ww1234abcd", contact_secret=SECRET)

    assert answer.status_code == 409
    assert client.get("/api/v1/wecom/connection", headers=second.headers).status_code == 404


def test_changing_the_corp_id_resets_verification(
    client: TestClient, workspace: WorkspaceFixture, db: Session
) -> None:
    _put(client, workspace, corp_id="ww1234abcd", contact_secret=SECRET)
    connection = get_connection(db, workspace.id)
    connection.status = "verified"
    db.commit()

    answer = _put(client, workspace, corp_id="wwnewcorp")

    assert answer.json()["status"] == "pending"
    assert answer.json()["corp_id"] == "wwnewcorp"


def test_connect_service_refuses_a_second_connection(
    db: Session, workspace: WorkspaceFixture
) -> None:
    connection = connect(db, workspace_id=workspace.id, corp_id="wwservice", contact_secret=SECRET)
    assert connection.directory_secret is None
    assert crypto_for(connection).receive_id == "wwservice"

    with pytest.raises(Conflict):
        connect(db, workspace_id=workspace.id, corp_id="wwservice2", contact_secret=SECRET)


def test_get_connection_of_an_unconnected_workspace_raises_not_found(
    db: Session, workspace: WorkspaceFixture
) -> None:
    with pytest.raises(NotFound):
        get_connection(db, workspace.id)
