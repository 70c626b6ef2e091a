"""Test fixtures: a real database per test process, emptied after every test.

Tests run on a SQLite file by default. With SIYU_TEST_DATABASE_URL set they run on
PostgreSQL instead, each test process in a database of its own; an unreachable server
fails the run, it never skips.
"""

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher, profiles
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, Executable, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import siyu.models  # noqa: F401 - registers every table
from siyu.app import create_app
from siyu.config import Mode, Settings
from siyu.connectors.wecom_sim import SimConfig, SimServer, WecomSim
from siyu.db.base import Base
from siyu.db.engine import SQLITE_BUSY_TIMEOUT_MS, build_engine
from siyu.db.session import session_factory, set_engine, unit_of_work
from siyu.worker.runner import Runner
from siyu.workspace import security
from siyu.workspace import service as workspace_service
from siyu.workspace.roles import Role

TEST_DATABASE_URL = os.environ.get("SIYU_TEST_DATABASE_URL")


def pytest_report_header() -> str:
    return f"siyu database under test: {'PostgreSQL' if TEST_DATABASE_URL else 'SQLite'}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if TEST_DATABASE_URL:
        return
    skip = pytest.mark.skip(reason="PostgreSQL-only behaviour; runs in the PostgreSQL pass")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with the cheapest parameters: same algorithm, a fraction of the time."""
    monkeypatch.setattr(security, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[str]:
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'siyu-test.db'}"
        return
    base = make_url(TEST_DATABASE_URL)
    name = f"siyu_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:  # raises if PostgreSQL is unreachable: no skipping
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    db_engine = build_engine(database_url)
    Base.metadata.create_all(db_engine)
    set_engine(db_engine)
    yield db_engine
    set_engine(None)
    db_engine.dispose()


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "engine" not in request.fixturenames:
        return
    db_engine: Engine = request.getfixturevalue("engine")
    tables = list(reversed(Base.metadata.sorted_tables))
    with db_engine.begin() as connection:
        if db_engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session for calling services directly; commit it like a request would."""
    session = session_factory(engine)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(mode=Mode.DEV, data_dir=tmp_path / "data", worker_in_process=False)


@pytest.fixture
def app(engine: Engine, settings: Settings) -> FastAPI:
    return create_app(settings, engine=engine, run_worker=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@dataclass(frozen=True)
class WorkspaceFixture:
    id: int
    slug: str
    api_key: str
    admin_email: str
    admin_password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


MakeWorkspace = Callable[..., WorkspaceFixture]


@pytest.fixture
def make_workspace(engine: Engine) -> MakeWorkspace:
    def make(slug: str | None = None, *, role: Role = Role.ADMIN) -> WorkspaceFixture:
        slug = slug or f"ws-{uuid.uuid4().hex[:8]}"
        email = f"admin@{slug}.example.com"
        password = "correct horse battery"
        with unit_of_work(engine) as session:
            workspace = workspace_service.create_workspace(session, slug=slug, name=f"品牌 {slug}")
            workspace_service.create_user(
                session,
                workspace_id=workspace.id,
                email=email,
                name="管理员",
                password=password,
                role=Role.ADMIN,
            )
            key = workspace_service.create_api_key(
                session, workspace_id=workspace.id, name="tests", role=role
            )
            return WorkspaceFixture(workspace.id, slug, key.plaintext, email, password)

    return make


@pytest.fixture
def workspace(make_workspace: MakeWorkspace) -> WorkspaceFixture:
    return make_workspace()


@pytest.fixture
def api(client: TestClient, workspace: WorkspaceFixture) -> TestClient:
    """The test client, authenticated with the default workspace's admin API key."""
    client.headers.update(workspace.headers)
    return client


@pytest.fixture
def run_jobs(engine: Engine) -> Callable[[], int]:
    """Run every due job to an outcome, as a worker would; returns how many ran."""
    runner = Runner(engine, lease_seconds=30, lane=None)  # every lane
    return runner.run_until_idle


@contextmanager
def impatient_writer(engine: Engine) -> Iterator[Connection]:
    """Another writer, committed on leaving, that gives up on SQLite's write lock after
    200 ms: for proving a long job does not hold the lock while it reads."""
    with engine.connect() as other:
        if engine.dialect.name != "sqlite":
            yield other
            other.commit()
            return
        other.exec_driver_sql("PRAGMA busy_timeout=200")
        try:
            yield other
            other.commit()
        finally:  # the connection goes back to the pool for others
            other.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def commit_beside(engine: Engine, statement: Executable) -> threading.Thread:
    """Commit `statement` from another connection in a thread, and give it a second: it is
    done by then unless the caller holds the write lock. Join the thread before asserting."""

    def write() -> None:
        with engine.begin() as other:
            other.execute(statement)

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(timeout=1)
    return writer


# A small seeded corp for every test; `wecom_sim.reset(staff=…, contacts=…)` changes it per test.
WECOM_SIM_CONFIG = SimConfig(departments=3, staff=5, contacts=30, tag_groups=True, groups=2)


@pytest.fixture(scope="session")
def _wecom_sim_server() -> Iterator[SimServer]:
    server = SimServer(WECOM_SIM_CONFIG)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def wecom_sim(_wecom_sim_server: SimServer) -> Iterator[WecomSim]:
    """The WeCom simulator over real HTTP, with a fresh corp for this test."""
    _wecom_sim_server.reset()
    with httpx.Client(base_url=f"{_wecom_sim_server.base_url}/control", timeout=10) as control:
        yield WecomSim(_wecom_sim_server, control)
    _wecom_sim_server.reset()
