"""The simulator against Siyu's own callback URL, both over real HTTP."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from siyu.connectors.wecom import inbox
from siyu.connectors.wecom.connection import connect
from siyu.connectors.wecom_sim import WecomSim
from siyu.connectors.wecom_sim.server import ThreadedServer
from siyu.models import WecomConnection
from tests.conftest import WorkspaceFixture
from tests.connectors.wecom_sim.conftest import Cgi


@pytest.fixture
def siyu_server(app: FastAPI) -> Iterator[ThreadedServer]:
    server = ThreadedServer(app)
    server.start()
    yield server
    server.stop()


def test_siyu_verifies_the_url_and_stores_the_simulators_callbacks(
    wecom_sim: WecomSim,
    cgi: Cgi,
    db: Session,
    workspace: WorkspaceFixture,
    siyu_server: ThreadedServer,
) -> None:
    connection = connect(
        db,
        workspace_id=workspace.id,
        corp_id=wecom_sim.corp_id,
        contact_secret=wecom_sim.contact_secret,
        api_base_url=wecom_sim.base_url,
    )
    db.commit()
    url = f"{siyu_server.base_url}/wecom/callback/{workspace.slug}"
    registered = wecom_sim.control.post(
        "/callback",
        json={
            "url": url,
            "token": connection.callback_token.get_secret_value(),
            "encoding_aes_key": connection.encoding_aes_key.get_secret_value(),
            "verify": True,
        },
    )
    assert registered.json()["verified"] is True
    userid = next(iter(wecom_sim.state.members))
    way = cgi.ok(
        "/externalcontact/add_contact_way",
        {"type": 1, "scene": 2, "user": [userid], "state": "store-7"},
    )
    wecom_sim.control.post("/scan", json={"config_id": way["config_id"]}).raise_for_status()
    wecom_sim.control.post(
        "/staff-adds-customer", json={"userid": userid, "name": "陈女士"}
    ).raise_for_status()
    wecom_sim.wait_for_pushes(2)
    assert [p.status for p in wecom_sim.state.pushes] == ["delivered", "delivered"]
    db.expire_all()
    stored = db.get(WecomConnection, connection.id)
    assert stored is not None
    assert stored.status == "verified"
    assert sum(inbox.counts_by_status(db, workspace.id).values()) == 2
