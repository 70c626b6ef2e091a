"""Demo-only "模拟客户响应": recipients of a broadcast the demo sent open it, click, forward
and buy, through the real open, click and order paths, so results, the share chain and
attribution fill in as they would for real customers."""

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.app import create_app
from siyu.config import Mode, Settings
from siyu.connectors.smtp.sink import MailSink
from siyu.demo import channels
from siyu.demo.loader import load_demo

CUSTOMERS = 120
RunJobs = Callable[[], int]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(mode=Mode.DEMO, data_dir=tmp_path / "data", worker_in_process=False)


@pytest.fixture
def mailbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailSink]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    monkeypatch.setattr(channels, "MAIL_PORT", port)
    sink = channels.start_mail_sink(tmp_path / "mail", port=port)
    yield sink
    sink.stop()


def _get(api: TestClient, path: str) -> Any:
    response = api.get(f"/api/v1{path}")
    assert response.status_code == 200, response.text
    return response.json()


def _sent_email(api: TestClient, run_jobs: RunJobs) -> int:
    segments = {s["name"]: s["id"] for s in _get(api, "/segments")}
    created = api.post(
        "/api/v1/broadcasts",
        json={
            "name": "春茶品鉴会邀请",
            "channel": "email",
            "segment_id": segments["金卡及以上会员"],
            "content": {
                "subject": "{客户昵称}，春茶品鉴会邀请",
                "html": '<p>本周六品新茶：<a href="https://shop.shanchaji.example/e/t">报名</a></p>',
                "text": "本周六品新茶：https://shop.shanchaji.example/e/t",
            },
        },
    )
    assert created.status_code == 201, created.text
    broadcast_id: int = created.json()["id"]
    assert api.post(f"/api/v1/broadcasts/{broadcast_id}/send").status_code == 200
    run_jobs()
    return broadcast_id


@pytest.mark.usefixtures("mailbox")
def test_simulated_customers_open_click_forward_and_buy_and_results_show_it(
    engine: Engine, client: TestClient, run_jobs: RunJobs
) -> None:
    loaded = load_demo(engine, customers=CUSTOMERS)
    client.headers["Authorization"] = f"Bearer {loaded.api_key}"
    broadcast_id = _sent_email(client, run_jobs)
    before = _get(client, f"/broadcasts/{broadcast_id}/results")["counts"]
    assert before["sent"] > 0
    assert (before["opened"], before["clicked"], before["converted"]) == (0, 0, 0)
    edges_before = len(_get(client, f"/share-chains?broadcast_id={broadcast_id}")["edges"])

    played = client.post(
        f"/api/v1/demo/broadcasts/{broadcast_id}/responses",
        json={"open_rate": 1, "click_rate": 1, "share_rate": 1, "buy_rate": 1, "seed": 3},
    )

    assert played.status_code == 200, played.text
    done = played.json()
    assert done["opened"] == done["clicked"] == before["sent"]
    assert done["forwarded_opens"] >= before["sent"]
    assert done["orders"] > 0
    counts = _get(client, f"/broadcasts/{broadcast_id}/results")["counts"]
    assert counts["opened"] == counts["clicked"] == before["sent"]
    assert counts["converted"] == done["orders"]
    assert counts["converted_fen"] > 0
    chain = _get(client, f"/share-chains?broadcast_id={broadcast_id}")
    assert len(chain["edges"]) > edges_before
    assert chain["spreaders"]


@pytest.mark.usefixtures("mailbox")
def test_responses_of_nobody_reached_are_refused_naming_the_broadcast(
    engine: Engine, client: TestClient
) -> None:
    loaded = load_demo(engine, customers=CUSTOMERS)
    client.headers["Authorization"] = f"Bearer {loaded.api_key}"
    segments = {s["name"]: s["id"] for s in _get(client, "/segments")}
    draft = client.post(
        "/api/v1/broadcasts",
        json={
            "name": "草稿",
            "channel": "email",
            "segment_id": segments["金卡及以上会员"],
            "content": {"subject": "草稿", "text": "草稿"},
        },
    ).json()

    refused = client.post(f"/api/v1/demo/broadcasts/{draft['id']}/responses")

    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["field"] == "broadcast_id"


@pytest.mark.usefixtures("mailbox")
def test_outside_demo_mode_there_are_no_simulated_responses(
    engine: Engine, tmp_path: Path, client: TestClient, run_jobs: RunJobs
) -> None:
    loaded = load_demo(engine, customers=CUSTOMERS)
    client.headers["Authorization"] = f"Bearer {loaded.api_key}"
    broadcast_id = _sent_email(client, run_jobs)
    dev = create_app(
        Settings(mode=Mode.DEV, data_dir=tmp_path / "dev", worker_in_process=False),
        engine=engine,
        run_worker=False,
    )
    with TestClient(dev) as outside:
        response = outside.post(
            f"/api/v1/demo/broadcasts/{broadcast_id}/responses",
            headers={"Authorization": f"Bearer {loaded.api_key}"},
        )

    assert response.status_code == 404
    assert _get(client, f"/broadcasts/{broadcast_id}/results")["counts"]["opened"] == 0
