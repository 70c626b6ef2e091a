"""The WeCom preflight against the simulator, through the API and the CLI."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from siyu.cli.main import app as cli
from siyu.connectors.wecom_sim import WecomSim
from siyu.connectors.wecom_sim.server import ThreadedServer
from siyu.db import session as db_session
from siyu.models import WecomConnection
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture


def connect(
    db: Session,
    workspace: WorkspaceFixture,
    sim: WecomSim,
    *,
    corp_id: str | None = None,
    contact_secret: str | None = None,
    directory_secret: str | None = "",
    verified: bool = False,
) -> None:
    db.add(
        WecomConnection(
            workspace_id=workspace.id,
            corp_id=corp_id or sim.corp_id,
            contact_secret=SecretStr(contact_secret or sim.contact_secret),
            directory_secret=(
                None
                if directory_secret is None
                else SecretStr(directory_secret or sim.directory_secret)
            ),
            callback_token=SecretStr("token"),
            encoding_aes_key=SecretStr("k" * 43),
            api_base_url=sim.base_url,
            callback_verified_at=datetime(2026, 11, 1, 8, 0, tzinfo=UTC) if verified else None,
        )
    )
    db.commit()


def checks(api: TestClient) -> tuple[bool, dict[str, dict[str, object]]]:
    response = api.post("/api/v1/wecom/check")
    assert response.status_code == 200, response.text
    report = response.json()
    return report["ok"], {c["name"]: c for c in report["checks"]}


def statuses(found: dict[str, dict[str, object]]) -> dict[str, object]:
    return {name: check["status"] for name, check in found.items()}


def test_a_correct_setup_passes_every_check(
    api: TestClient, db: Session, workspace: WorkspaceFixture, wecom_sim: WecomSim
) -> None:
    connect(db, workspace, wecom_sim, verified=True)

    ok, found = checks(api)

    assert ok
    assert set(statuses(found).values()) == {"ok"}
    assert list(found) == [
        "connection",
        "contact_secret",
        "directory_secret",
        "customer_contact",
        "trusted_ip",
        "callback",
    ]
    db.expire_all()
    connection = db.scalars(select(WecomConnection)).one()
    assert connection.last_check_at is not None


def test_a_workspace_without_connection_is_told_to_connect(api: TestClient) -> None:
    ok, found = checks(api)

    assert not ok
    assert found["connection"]["status"] == "failed"
    assert "CorpID" in str(found["connection"]["fix"])
    assert {found[n]["status"] for n in list(found)[1:]} == {"skipped"}


def test_an_unverified_callback_url_explains_where_to_save_it(
    api: TestClient, db: Session, workspace: WorkspaceFixture, wecom_sim: WecomSim
) -> None:
    connect(db, workspace, wecom_sim, directory_secret=None)

    ok, found = checks(api)

    assert not ok
    assert statuses(found) == {
        "connection": "ok",
        "contact_secret": "ok",
        "directory_secret": "skipped",
        "customer_contact": "ok",
        "trusted_ip": "ok",
        "callback": "failed",
    }
    fix = str(found["callback"]["fix"])
    assert f"/wecom/callback/{workspace.slug}" in fix
    assert "EncodingAESKey" in fix
    assert "EncodingAESKey" in str(found["callback"]["fix_en"])


def test_a_wrong_contact_secret_names_the_secret_to_fix(
    api: TestClient, db: Session, workspace: WorkspaceFixture, wecom_sim: WecomSim
) -> None:
    connect(db, workspace, wecom_sim, contact_secret="pasted-the-wrong-thing", verified=True)

    ok, found = checks(api)

    assert not ok
    assert found["contact_secret"]["status"] == "failed"
    assert found["contact_secret"]["errcode"] == 40001
    assert "Secret" in str(found["contact_secret"]["fix"])
    assert found["directory_secret"]["status"] == "ok"
    assert found["customer_contact"]["status"] == "skipped"
    assert "pasted-the-wrong-thing" not in str(found)


def test_a_wrong_corp_id_says_where_to_copy_it(
    api: TestClient, db: Session, workspace: WorkspaceFixture, wecom_sim: WecomSim
) -> None:
    connect(db, workspace, wecom_sim, corp_id="ww0000000000000000", verified=True)

    ok, found = checks(api)

    assert not ok
    assert found["contact_secret"]["errcode"] == 40013
    assert "企业ID" in str(found["contact_secret"]["fix"])
    assert found["trusted_ip"]["status"] == "skipped"


def test_an_app_without_customer_contact_permission_is_told_where_to_add_it(
    api: TestClient, db: Session, workspace: WorkspaceFixture, wecom_sim: WecomSim
) -> None:
    # The 通讯录同步 secret pasted as the customer-contact secret: gettoken works, 48002 after.
    connect(db, workspace, wecom_sim, contact_secret=wecom_sim.directory_secret, verified=True)

    ok, found = checks(api)

    assert not ok
    assert found["contact_secret"]["status"] == "ok"
    assert found["customer_contact"]["status"] == "failed"
    assert found["customer_contact"]["errcode"] == 48002
    assert "可调用接口的应用" in str(found["customer_contact"]["fix"])
    assert "Apps that can call the API" in str(found["customer_contact"]["fix_en"])


@pytest.fixture
def untrusted_ip_wecom() -> Iterator[str]:
    """A WeCom that refuses this server's IP (60020) — the simulator cannot play that."""
    app = FastAPI()

    @app.api_route("/cgi-bin/{path:path}", methods=["GET", "POST"])
    def refuse(path: str) -> dict[str, object]:
        errmsg = (
            "not allow to access from your ip, "
            "hint: [1700000000_1_0123456789abcdef0123456789abcdef], from ip: 203.0.113.7, "
            "more info at https://open.work.weixin.qq.com/devtool/query?e=60020"
        )
        return {"errcode": 60020, "errmsg": errmsg}

    server = ThreadedServer(app)
    server.start()
    yield server.base_url
    server.stop()


def test_an_untrusted_server_ip_is_named_in_the_fix(
    api: TestClient,
    db: Session,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    untrusted_ip_wecom: str,
) -> None:
    connect(db, workspace, wecom_sim, verified=True)
    db.execute(update(WecomConnection).values(api_base_url=untrusted_ip_wecom))
    db.commit()

    ok, found = checks(api)

    assert not ok
    assert found["contact_secret"]["status"] == "failed"
    assert "企业可信IP" in str(found["contact_secret"]["fix"])
    assert found["customer_contact"]["status"] == "skipped"
    trusted = found["trusted_ip"]
    assert trusted["status"] == "failed"
    assert trusted["errcode"] == 60020
    assert "203.0.113.7" in str(trusted["fix"])
    assert "企业可信IP" in str(trusted["fix"])
    assert "203.0.113.7" in str(trusted["fix_en"])


def test_only_admins_run_the_check(client: TestClient, make_workspace: MakeWorkspace) -> None:
    operator = make_workspace(role=Role.OPERATOR)

    response = client.post("/api/v1/wecom/check", headers=operator.headers)

    assert response.status_code == 403


@pytest.fixture
def cli_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI installs its own process engine; put the test engine back afterwards.
    monkeypatch.setattr(db_session, "_engine", db_session._engine)


@pytest.mark.usefixtures("cli_engine")
def test_cli_check_prints_the_table_and_fails_on_a_failed_check(
    database_url: str, db: Session, workspace: WorkspaceFixture, wecom_sim: WecomSim
) -> None:
    connect(db, workspace, wecom_sim)
    runner = CliRunner()
    args = ["wecom", "check", "--workspace", workspace.slug, "--database-url", database_url]

    failing = runner.invoke(cli, args)
    db.execute(update(WecomConnection).values(callback_verified_at=datetime.now(UTC)))
    db.commit()
    passing = runner.invoke(cli, args)

    assert failing.exit_code == 1, failing.output
    assert "失败" in failing.output
    assert "回调" in failing.output
    assert passing.exit_code == 0, passing.output
    assert "失败" not in passing.output
