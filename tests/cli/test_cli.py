"""The `siyu` command against a SQLite file of its own, as an operator would run it."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect
from typer.testing import CliRunner

from siyu.app import create_app
from siyu.cli.main import app as cli
from siyu.config import Mode, Settings
from siyu.db import session as db_session
from siyu.db.engine import build_engine
from siyu.workspace.security import API_KEY_PREFIX

runner = CliRunner()


@pytest.fixture
def database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    # The CLI installs its own process engine; put the previous one back afterwards.
    monkeypatch.setattr(db_session, "_engine", db_session._engine)
    monkeypatch.delenv("SIYU_DATABASE_URL", raising=False)
    return f"sqlite:///{tmp_path / 'cli.db'}"


def invoke(*args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def setup_workspace(url: str) -> None:
    invoke("db", "upgrade", "--database-url", url)
    invoke("workspace", "create", "acme", "--name", "山茶集", "--database-url", url)


def test_db_upgrade_creates_the_schema_and_is_repeatable(database_file: str) -> None:
    first = invoke("db", "upgrade", "--database-url", database_file)
    second = invoke("db", "upgrade", "--database-url", database_file)
    assert "database at revision" in first
    assert first.splitlines()[-1] == second.splitlines()[-1]
    engine = build_engine(database_file)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"workspace", "customer", "identity", "customer_order", "event"} <= tables


def test_workspace_create_refuses_a_taken_slug(database_file: str) -> None:
    setup_workspace(database_file)
    result = runner.invoke(
        cli, ["workspace", "create", "acme", "--name", "又一个", "--database-url", database_file]
    )
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_user_create_gives_a_login_that_works(database_file: str, tmp_path: Path) -> None:
    setup_workspace(database_file)
    output = invoke(
        "user",
        "create",
        "--workspace",
        "acme",
        "--email",
        "ops@acme.example.com",
        "--name",
        "运营小王",
        "--role",
        "operator",
        "--password",
        "long enough secret",
        "--database-url",
        database_file,
    )
    assert "ops@acme.example.com" in output
    with app_client(database_file, tmp_path) as client:
        response = client.post(
            "/api/v1/auth/login",
            json={"email": "ops@acme.example.com", "password": "long enough secret"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["role"] == "operator"
        assert client.get("/api/v1/auth/me").json()["workspace_slug"] == "acme"


def test_user_create_refuses_a_short_password(database_file: str) -> None:
    setup_workspace(database_file)
    result = runner.invoke(
        cli,
        [
            "user",
            "create",
            "--workspace",
            "acme",
            "--email",
            "a@acme.example.com",
            "--name",
            "A",
            "--password",
            "short",
            "--database-url",
            database_file,
        ],
    )
    assert result.exit_code == 1
    assert "at least" in result.output


def test_apikey_create_prints_a_key_that_authenticates(database_file: str, tmp_path: Path) -> None:
    setup_workspace(database_file)
    output = invoke(
        "apikey",
        "create",
        "--workspace",
        "acme",
        "--name",
        "erp sync",
        "--role",
        "admin",
        "--database-url",
        database_file,
    )
    keys = [line.strip() for line in output.splitlines() if line.startswith(API_KEY_PREFIX)]
    assert len(keys) == 1
    with app_client(database_file, tmp_path) as client:
        response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {keys[0]}"})
        assert response.status_code == 200, response.text
        assert response.json()["workspace_slug"] == "acme"
        assert response.json()["role"] == "admin"
        wrong = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer sk_siyu_nope"})
        assert wrong.status_code == 401
        log = client.get("/api/v1/audit-log", headers={"Authorization": f"Bearer {keys[0]}"})
        assert [e["action"] for e in log.json()["items"]] == ["api_key.create"]


def test_apikey_create_for_unknown_workspace_fails_cleanly(database_file: str) -> None:
    invoke("db", "upgrade", "--database-url", database_file)
    result = runner.invoke(
        cli,
        [
            "apikey",
            "create",
            "--workspace",
            "ghost",
            "--name",
            "x",
            "--database-url",
            database_file,
        ],
    )
    assert result.exit_code == 1
    assert "error" in result.output


@contextmanager
def app_client(url: str, tmp_path: Path) -> Iterator[TestClient]:
    """A TestClient on the app bound to the CLI's database file."""
    engine = build_engine(url)
    settings = Settings(mode=Mode.DEV, data_dir=tmp_path / "data", worker_in_process=False)
    try:
        with TestClient(create_app(settings, engine=engine, run_worker=False)) as client:
            yield client
    finally:
        engine.dispose()
