"""In the demo an operator composes a WeCom broadcast with a poster and a link, sends it,
confirms as simulated staff and sees opens: every link it sends is a tracked link."""

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, select

from siyu.app import create_app
from siyu.config import Mode, Settings
from siyu.connectors.wecom_sim.apis.media import find_media
from siyu.connectors.wecom_sim.server import SimServer
from siyu.content.links_endpoints import VISITOR_COOKIE
from siyu.db.session import unit_of_work
from siyu.demo import wecom as demo_wecom
from siyu.demo.insights import GREEN_TEA_FRIENDS
from siyu.demo.library import LONGJING_URL
from siyu.demo.loader import DemoLoad, load_demo
from siyu.models import Delivery, LinkVisitor
from tests.demo.test_reach import free_port
from tests.messaging.wecom_links import SHORT, WECHAT_UA, short_path, target

CUSTOMERS = 120
STORE_URL = "https://shop.shanchaji.example/store/xihu"


@pytest.fixture
def demo(engine: Engine) -> DemoLoad:
    return load_demo(engine, customers=CUSTOMERS)


@pytest.fixture
def simulator(
    engine: Engine, demo: DemoLoad, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SimServer]:
    monkeypatch.setattr(demo_wecom, "SIM_PORT", free_port())
    server = demo_wecom.start_simulator(engine, demo.workspace_id, "http://127.0.0.1:9/wecom")
    yield server
    server.stop()


@pytest.fixture
def console(engine: Engine, tmp_path: Path, demo: DemoLoad) -> Iterator[TestClient]:
    # the files the demo load stored (tests/demo/conftest.py) stay where the app looks
    settings = Settings(mode=Mode.DEMO, data_dir=tmp_path / "files", worker_in_process=False)
    with TestClient(create_app(settings, engine=engine, run_worker=False)) as client:
        client.headers["Authorization"] = f"Bearer {demo.api_key}"
        yield client


def _get(api: TestClient, path: str) -> Any:
    response = api.get(f"/api/v1{path}")
    assert response.status_code == 200, response.text
    return response.json()


def _browser(api: TestClient, visitor_key: str | None = None) -> TestClient:
    phone = TestClient(api.app)
    phone.headers["User-Agent"] = WECHAT_UA
    if visitor_key is not None:
        phone.cookies.set(VISITOR_COOKIE, visitor_key)
    return phone


def _payload(attachment: dict[str, object]) -> dict[str, str]:
    body = attachment[str(attachment["msgtype"])]
    assert isinstance(body, dict)
    return {str(k): str(v) for k, v in body.items()}


def test_a_wecom_broadcast_with_a_poster_and_a_link_is_tracked_from_send_to_open(
    engine: Engine,
    demo: DemoLoad,
    simulator: SimServer,
    console: TestClient,
    run_jobs: Callable[[], int],
) -> None:
    materials = _get(console, "/materials?limit=100")["items"]
    poster = next(m for m in materials if m["kind"] == "poster")
    link = next(m for m in materials if m["kind"] == "link")
    segments = {s["name"]: s["id"] for s in _get(console, "/segments")}
    created = console.post(
        "/api/v1/broadcasts",
        json={
            "name": "西湖店品鉴会",
            "channel": "wecom",
            "segment_id": segments[GREEN_TEA_FRIENDS],
            "content": {
                "text": f"{{员工姓名}}邀您品新茶，预订戳 {LONGJING_URL}",
                "material_ids": [link["id"]],
                "poster_id": poster["id"],
                "poster_url": STORE_URL,
            },
        },
    )
    assert created.status_code == 201, created.text
    broadcast_id = created.json()["id"]
    assert console.post(f"/api/v1/broadcasts/{broadcast_id}/send").status_code == 200
    run_jobs()

    waiting = _get(console, f"/broadcasts/{broadcast_id}/results")
    assert waiting["status"] == "waiting"
    assert waiting["tasks"]
    sent: dict[int, str] = {}
    with simulator.state.lock:
        tasks = {t["staff_id"]: simulator.state.mass_tasks[t["msgid"]] for t in waiting["tasks"]}
    for staff_id, task in tasks.items():
        (short,) = SHORT.findall(str(task.text["content"]))
        assert target(console, short) == LONGJING_URL
        sent[staff_id] = short
        card, drawn = (_payload(a) for a in task.attachments)
        assert target(console, card["url"]) == link["url"]
        media = find_media(simulator.state, drawn["media_id"])
        assert media is not None
        with Image.open(io.BytesIO(media.content)) as picture:
            (scanned,) = [c.text for c in zxingcpp.read_barcodes(picture.convert("RGB"))]
        assert target(console, scanned) == STORE_URL

    confirmed = console.post(f"/api/v1/demo/wecom/broadcasts/{broadcast_id}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirmed_tasks"] == len(waiting["tasks"])
    run_jobs()
    done = _get(console, f"/broadcasts/{broadcast_id}/results")
    assert done["status"] == "completed"
    assert done["counts"]["sent"] == confirmed.json()["sent"] > 0
    assert done["counts"]["clicked"] == 0

    # A customer who got it opens it on the phone they opened an earlier broadcast's link
    # with (Siyu knows that browser); a friend they forwarded it to opens it too.
    with unit_of_work(engine, write=False) as session:
        customer_id, staff_id, visitor_key = session.execute(
            select(Delivery.customer_id, Delivery.staff_id, LinkVisitor.visitor_key)
            .join(LinkVisitor, LinkVisitor.customer_id == Delivery.customer_id)
            .where(Delivery.broadcast_id == broadcast_id, Delivery.status == "sent")
            .order_by(Delivery.id)
            .limit(1)
        ).one()
    assert staff_id is not None
    for phone in (_browser(console, visitor_key), _browser(console)):
        opened = phone.get(short_path(sent[staff_id]), follow_redirects=False)
        assert opened.status_code == 302
        assert opened.headers["location"] == LONGJING_URL

    final = _get(console, f"/broadcasts/{broadcast_id}/results")
    assert final["counts"]["clicked"] == 2
    staff = {row["key"]: row["counts"] for row in final["by_staff"]}
    assert staff[str(staff_id)]["clicked"] == 2
    timeline = _get(console, f"/customers/{customer_id}/timeline")
    assert "link_opened" in str(timeline)
