"""The demo's simulated WeCom corp: connected once, mirroring the demo workspace."""

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from siyu.connectors.wecom import inbox
from siyu.connectors.wecom.connection import find_connection
from siyu.connectors.wecom_sim import SimState
from siyu.connectors.wecom_sim.actions import staff_adds
from siyu.connectors.wecom_sim.server import ThreadedServer
from siyu.db.session import unit_of_work
from siyu.demo import data
from siyu.demo import wecom as demo_wecom
from siyu.demo.loader import load_demo
from siyu.models import FollowRelation, Identity, WecomConnection

CUSTOMERS = 60


@pytest.fixture
def demo_workspace_id(engine: Engine) -> int:
    return load_demo(engine, customers=CUSTOMERS).workspace_id


def test_the_demo_workspace_is_connected_to_the_simulated_corp_once(
    engine: Engine, demo_workspace_id: int
) -> None:
    for _ in range(2):
        with unit_of_work(engine) as session:
            demo_wecom.ensure_connection(session, demo_workspace_id)
    with unit_of_work(engine) as session:
        connection = find_connection(session, demo_workspace_id)
        assert connection is not None
        assert connection.corp_id == demo_wecom.SIM_CONFIG.resolved_corp_id
        assert connection.api_base_url == "http://127.0.0.1:8010"
        secret = connection.contact_secret.get_secret_value()
        assert secret == demo_wecom.SIM_CONFIG.resolved_contact_secret
        assert session.scalar(select(func.count()).select_from(WecomConnection)) == 1


def test_the_simulator_mirrors_the_demo_staff_and_wecom_customers(
    engine: Engine, demo_workspace_id: int
) -> None:
    state = SimState(demo_wecom.SIM_CONFIG)
    with unit_of_work(engine) as session:
        demo_wecom.mirror_workspace(state, session, demo_workspace_id)
        external_ids = set(
            session.scalars(
                select(Identity.value).where(
                    Identity.workspace_id == demo_workspace_id,
                    Identity.kind == "wecom_external_userid",
                )
            )
        )
        relations = session.scalar(
            select(func.count())
            .select_from(FollowRelation)
            .join(Identity, Identity.customer_id == FollowRelation.customer_id)
            .where(
                FollowRelation.workspace_id == demo_workspace_id,
                Identity.kind == "wecom_external_userid",
            )
        )
    assert set(state.members) == {s.userid for s in data.STAFF}
    assert state.members["zhouyun"].name == "周云"
    assert state.departments[1].name == "总部"
    assert len(state.departments) == len(data.DEPARTMENTS)
    assert set(state.contacts) == external_ids
    assert external_ids
    assert len(state.follows) == relations
    assert {f.state for f in state.follows.values()} <= {""} | {
        f"livecode-{s.department}" for s in data.STAFF
    }


@pytest.fixture
def siyu_server(app: FastAPI) -> Iterator[ThreadedServer]:
    server = ThreadedServer(app)
    server.start()
    yield server
    server.stop()


def _connection_status(engine: Engine, workspace_id: int) -> str:
    with unit_of_work(engine) as session:
        connection = find_connection(session, workspace_id)
        assert connection is not None
        return connection.status


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_demo_simulator_verifies_and_pushes_to_the_demo_server(
    engine: Engine,
    demo_workspace_id: int,
    siyu_server: ThreadedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo_wecom, "SIM_PORT", 0)
    callback_url = f"{siyu_server.base_url}/wecom/callback/{data.WORKSPACE_SLUG}"
    sim = demo_wecom.start_simulator(engine, demo_workspace_id, callback_url)
    try:
        _wait_until(lambda: _connection_status(engine, demo_workspace_id) == "verified")
        staff_adds(sim.state, "zhouyun", name="演示客户")
        _wait_until(lambda: bool(sim.state.pushes) and sim.state.pushes[0].status != "pending")
        assert sim.state.pushes[0].status == "delivered"
        with unit_of_work(engine) as session:
            assert sum(inbox.counts_by_status(session, demo_workspace_id).values()) == 1
    finally:
        sim.stop()
