"""A workspace connected to the WeCom simulator, with some of its members as Siyu staff."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from siyu.connectors.wecom.connection import connect
from siyu.connectors.wecom_sim import WecomSim
from siyu.connectors.wecom_sim.server import ThreadedServer
from siyu.db.session import unit_of_work
from siyu.staff import service as staff_service
from siyu.staff.schemas import StaffIn
from tests.conftest import WorkspaceFixture


@dataclass(frozen=True)
class Corp:
    """Siyu staff ids and the matching simulator userids, in the same order."""

    staff_ids: list[int]
    userids: list[str]
    callback_token: str
    encoding_aes_key: str

    def userid_of(self, staff_id: int) -> str:
        return self.userids[self.staff_ids.index(staff_id)]


@pytest.fixture
def corp(engine: Engine, workspace: WorkspaceFixture, wecom_sim: WecomSim) -> Corp:
    with unit_of_work(engine) as session:
        connection = connect(
            session,
            workspace_id=workspace.id,
            corp_id=wecom_sim.corp_id,
            contact_secret=wecom_sim.contact_secret,
            directory_secret=wecom_sim.directory_secret,
            api_base_url=wecom_sim.base_url,
        )
        members = sorted(
            (m for m in wecom_sim.state.members.values() if m.status == 1),
            key=lambda m: m.userid,
        )[:3]
        staff = [
            staff_service.create_staff(
                session, workspace.id, StaffIn(name=m.name, wecom_userid=m.userid)
            )
            for m in members
        ]
        return Corp(
            staff_ids=[s.id for s in staff],
            userids=[m.userid for m in members],
            callback_token=connection.callback_token.get_secret_value(),
            encoding_aes_key=connection.encoding_aes_key.get_secret_value(),
        )


@pytest.fixture
def siyu_server(app: FastAPI) -> Iterator[ThreadedServer]:
    """Siyu on a real port, so the simulator can push its callbacks to it."""
    server = ThreadedServer(app)
    server.start()
    yield server
    server.stop()


def create_code(api: httpx.Client, staff: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "门店海报", "channel": "线下门店", "staff": staff, **fields}
    response = api.post("/api/v1/live-codes", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
