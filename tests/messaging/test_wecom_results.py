"""A WeCom broadcast's results tell clicks in the message from scans of its poster."""

import io
from collections.abc import Callable
from typing import Any

import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.connectors.wecom import sync_jobs
from siyu.connectors.wecom_sim import WecomSim
from siyu.connectors.wecom_sim.apis.media import find_media
from siyu.db.session import unit_of_work
from siyu.messaging import service
from siyu.models import Customer, Delivery
from siyu.worker.queue import enqueue
from tests.conftest import WorkspaceFixture
from tests.connectors.wecom.sync_helpers import connect_to_sim
from tests.content.materials_helpers import create, png
from tests.messaging.wecom_links import SHORT, known_phone, phone, short_path

RunJobs = Callable[[], int]


def _sent_links(sim: WecomSim, msgid: str) -> tuple[str, str]:
    """The short link in a task's text, and the one its poster's QR code holds."""
    with sim.state.lock:
        task = sim.state.mass_tasks[msgid]
    (text_link,) = SHORT.findall(str(task.text["content"]))
    (attachment,) = task.attachments
    image = attachment["image"]
    assert isinstance(image, dict)
    poster = find_media(sim.state, str(image["media_id"]))
    assert poster is not None
    with Image.open(io.BytesIO(poster.content)) as picture:
        (scanned,) = [code.text for code in zxingcpp.read_barcodes(picture.convert("RGB"))]
    return text_link, scanned


def _results(api: TestClient, broadcast_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/broadcasts/{broadcast_id}/results")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_clicks_on_the_messages_link_and_scans_of_its_poster_are_counted_apart(
    api: TestClient,
    db: Session,
    engine: Engine,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
) -> None:
    wecom_sim.reset(staff=2, contacts=6)
    connect_to_sim(db, workspace.id, wecom_sim)
    sync_jobs.start_run(db, workspace.id, "full")
    db.commit()
    run_jobs()
    customer_ids = list(
        db.scalars(select(Customer.id).where(Customer.workspace_id == workspace.id))
    )
    db.commit()
    segment = api.post("/api/v1/segments", json={"name": "企微好友", "kind": "static"}).json()
    api.post(f"/api/v1/segments/{segment['id']}/members", json={"customer_ids": customer_ids})
    poster = create(api, "poster", "到店海报", file=("bg.png", png(360, 640), "image/png"))
    created = api.post(
        "/api/v1/broadcasts",
        json={
            "name": "明前龙井到店",
            "channel": "wecom",
            "segment_id": segment["id"],
            "content": {
                "text": "{员工姓名}推荐：明前龙井 https://shop.example.cn/longjing",
                "poster_id": poster["id"],
                "poster_url": "https://shop.example.cn/store",
            },
        },
    ).json()
    assert api.post(f"/api/v1/broadcasts/{created['id']}/send").status_code == 200
    run_jobs()
    tasks = _results(api, created["id"])["tasks"]
    assert len(tasks) == 2
    for task in tasks:
        confirmed = wecom_sim.control.post(
            "/groupmsg/confirm", json={"msgid": task["msgid"], "userid": task["userid"]}
        )
        assert confirmed.status_code == 200, confirmed.text
    with unit_of_work(engine) as session:
        enqueue(
            session, service.POLL_JOB, {"broadcast_id": created["id"]}, workspace_id=workspace.id
        )
    run_jobs()
    (first_text, first_poster), (second_text, second_poster) = (
        _sent_links(wecom_sim, task["msgid"]) for task in tasks
    )
    recipient = db.scalar(
        select(Delivery.customer_id).where(
            Delivery.broadcast_id == created["id"], Delivery.status == "sent"
        )
    )
    db.commit()
    assert recipient is not None

    stranger, friend = phone(api), phone(api)
    customer = known_phone(api, engine, workspace.id, recipient)
    for browser, link in [
        (stranger, first_text),
        (friend, first_poster),
        (friend, second_text),
        (customer, second_poster),
        (customer, second_poster),
    ]:
        assert browser.get(short_path(link), follow_redirects=False).status_code == 302

    results = _results(api, created["id"])

    assert results["clicked_by_link"] == {"wecom": 2, "poster": 2}
    assert results["counts"]["clicked"] == 3
