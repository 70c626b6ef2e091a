"""The demo reaches customers: channel accounts, a materials library, past broadcasts whose
results add up with a share chain, and email and SMS that really leave for the demo's
mailbox and SMS simulator."""

import smtplib
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select
from typer.testing import CliRunner

from siyu.cli import demo as cli_demo
from siyu.cli.main import app as cli
from siyu.config import Settings, get_settings
from siyu.connectors.smtp.sink import MailSink, list_messages
from siyu.db import session as db_session
from siyu.db.session import unit_of_work
from siyu.demo import channels
from siyu.demo import wecom as demo_wecom
from siyu.demo.loader import load_demo
from siyu.models import TrackedLink, Workspace

CUSTOMERS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def demo_api(engine: Engine, client: TestClient) -> TestClient:
    """The app, signed in with the key of a freshly loaded demo workspace."""
    loaded = load_demo(engine, customers=CUSTOMERS)
    client.headers["Authorization"] = f"Bearer {loaded.api_key}"
    return client


def _get(api: TestClient, path: str) -> Any:
    response = api.get(f"/api/v1{path}")
    assert response.status_code == 200, response.text
    return response.json()


def test_the_demo_has_channel_accounts_and_a_materials_library(demo_api: TestClient) -> None:
    accounts = {a["channel"]: a for a in _get(demo_api, "/messaging/channels")}
    email = accounts["email"]
    assert email["enabled"]
    assert email["config"]["host"] == "127.0.0.1"
    assert email["config"]["port"] == channels.MAIL_PORT
    assert email["config"]["from_address"] == "member@shanchaji.example"
    assert email["config"]["from_name"] == "山茶集会员中心"
    sms = accounts["sms"]
    assert sms["enabled"]
    assert sms["has_secret"]
    assert sms["config"]["base_url"] == f"http://127.0.0.1:{channels.SMS_PORT}"
    assert sms["config"]["access_key_id"] == channels.SMS_SIM_CONFIG.resolved_access_key_id
    assert not accounts["webhook"]["enabled"]
    items = _get(demo_api, "/materials?limit=100")["items"]
    kinds = {m["kind"] for m in items}
    assert {"poster", "image", "link", "text"} <= kinds
    assert {g["name"] for g in _get(demo_api, "/material-groups")} >= {"新品上市", "大促活动"}
    for poster in (m for m in items if m["kind"] == "poster"):
        slots = {e["kind"] for e in poster["poster"]["elements"]}
        assert slots == {"qr", "avatar", "name"}
        preview = demo_api.post(f"/api/v1/materials/{poster['id']}/poster-preview", json={})
        assert preview.status_code == 200, preview.text
        assert preview.content.startswith(b"\x89PNG")
    for material in items:
        if material["has_thumbnail"]:
            thumbnail = demo_api.get(f"/api/v1/materials/{material['id']}/thumbnail")
            assert thumbnail.status_code == 200
    assert all(m["has_cover"] for m in items if m["kind"] == "link")
    assert all(m["content"] for m in items if m["kind"] == "text")


def _settled(counts: dict[str, int]) -> int:
    return sum(counts[s] for s in ("sent", "delivered", "failed", "cancelled"))


def test_past_broadcasts_have_results_that_add_up_and_a_share_chain(
    demo_api: TestClient,
) -> None:
    broadcasts = _get(demo_api, "/broadcasts")["items"]
    assert {b["name"]: b["channel"] for b in broadcasts} == {
        "明前龙井预告": "email",
        "新品龙井上市": "wecom",
        "双十一预售提醒": "email",
        "会员日积分兑换": "sms",
    }
    deepest = 0
    converted = 0
    opened = 0
    for broadcast in broadcasts:
        assert broadcast["status"] == "completed"
        created, started, finished = (
            datetime.fromisoformat(broadcast[key])
            for key in ("created_at", "started_at", "finished_at")
        )
        assert created < started <= finished
        results = _get(demo_api, f"/broadcasts/{broadcast['id']}/results")
        counts = results["counts"]
        assert counts["planned"] == broadcast["planned_count"] > 0
        assert counts["excluded"] == broadcast["excluded_count"]
        assert counts["pending"] == counts["sending"] == 0
        assert _settled(counts) == counts["planned"]
        assert sum(results["excluded_by_reason"].values()) == counts["excluded"]
        assert sum(results["failed_by_reason"].values()) == counts["failed"]
        assert counts["clicked"] <= counts["sent"] + counts["delivered"]
        assert counts["converted"] <= counts["clicked"]
        if broadcast["channel"] == "email":  # a click shows the email was read; so do pixels
            assert counts["opened"] >= counts["clicked"]
            opened += counts["opened"]
        staff_planned = sum(g["counts"]["planned"] for g in results["by_staff"])
        assert staff_planned == counts["planned"]
        if broadcast["channel"] == "wecom":
            assert results["tasks"]
            assert all(t["status"] == "sent" and t["confirmed_at"] for t in results["tasks"])
            assert sum(t["recipient_count"] for t in results["tasks"]) == counts["planned"]
        chain = _get(demo_api, f"/share-chains?broadcast_id={broadcast['id']}")
        assert len(chain["edges"]) == results["shares"]
        deepest = max([deepest, *(node["level"] for node in chain["nodes"])])
        converted += counts["converted"]
    assert deepest >= 2, "a share chain reaches friends of friends"
    assert converted > 0
    assert opened > 0


def test_the_past_wecom_broadcast_sent_each_staff_members_links_as_a_real_send_does(
    demo_api: TestClient, engine: Engine
) -> None:
    (broadcast,) = [b for b in _get(demo_api, "/broadcasts")["items"] if b["channel"] == "wecom"]
    with unit_of_work(engine, write=False) as session:
        sent = session.execute(
            select(TrackedLink.customer_id, TrackedLink.staff_id, TrackedLink.channel).where(
                TrackedLink.broadcast_id == broadcast["id"]
            )
        ).all()
    assert sent
    assert {customer for customer, _, _ in sent} == {None}
    per_staff: dict[int | None, list[str]] = {}
    for _, staff_id, channel in sent:
        per_staff.setdefault(staff_id, []).append(channel)
    assert all(sorted(channels) == ["poster", "wecom"] for channels in per_staff.values())

    results = _get(demo_api, f"/broadcasts/{broadcast['id']}/results")

    # clicks in the message and scans of the poster; forwards open the same staff links,
    # which cannot tell who forwarded them: no share chain
    assert set(results["clicked_by_link"]) == {"wecom", "poster"}
    assert results["counts"]["clicked"] >= max(results["clicked_by_link"].values())
    assert results["shares"] == 0


@pytest.fixture
def mailbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailSink]:
    """The demo mailbox on a free port; the demo's email account is made to point at it."""
    port = free_port()
    monkeypatch.setattr(channels, "MAIL_PORT", port)
    sink = channels.start_mail_sink(tmp_path / "mail", port=port)
    yield sink
    sink.stop()


def test_an_email_broadcast_of_the_demo_lands_in_the_demo_mailbox(
    engine: Engine,
    client: TestClient,
    mailbox: MailSink,
    run_jobs: Callable[[], int],
) -> None:
    loaded = load_demo(engine, customers=CUSTOMERS)
    client.headers["Authorization"] = f"Bearer {loaded.api_key}"
    segments = {s["name"]: s["id"] for s in _get(client, "/segments")}
    created = client.post(
        "/api/v1/broadcasts",
        json={
            "name": "春茶品鉴会邀请",
            "channel": "email",
            "segment_id": segments["金卡及以上会员"],
            "content": {
                "subject": "{客户昵称}，春茶品鉴会邀请",
                "text": "本周六下午在西湖旗舰店品新茶：https://shop.shanchaji.example/e/tasting",
            },
        },
    )
    assert created.status_code == 201, created.text
    broadcast_id = created.json()["id"]
    assert client.post(f"/api/v1/broadcasts/{broadcast_id}/send").status_code == 200
    run_jobs()
    counts = _get(client, f"/broadcasts/{broadcast_id}/results")["counts"]
    assert counts["sent"] == counts["planned"] > 0
    messages = list_messages(mailbox.directory, limit=1000)
    assert len(messages) == counts["sent"]
    for message in messages:
        assert message["from"] == "山茶集会员中心 <member@shanchaji.example>"
        assert message["subject"].endswith("，春茶品鉴会邀请")
        assert "/l/" in message["preview"]
        assert "shop.shanchaji.example/e/tasting" not in message["preview"]


def test_an_sms_broadcast_of_the_demo_reaches_the_sms_simulator(
    engine: Engine,
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    run_jobs: Callable[[], int],
) -> None:
    monkeypatch.setattr(channels, "SMS_PORT", free_port())
    loaded = load_demo(engine, customers=CUSTOMERS)
    client.headers["Authorization"] = f"Bearer {loaded.api_key}"
    segments = {s["name"]: s["id"] for s in _get(client, "/segments")}
    simulator = channels.start_sms_simulator()
    try:
        created = client.post(
            "/api/v1/broadcasts",
            json={
                "name": "积分到期提醒",
                "channel": "sms",
                "segment_id": segments["近一年有消费的会员"],
                "content": {
                    "sms": {
                        "sign_name": "山茶集",
                        "template_code": "SMS_468250003",
                        "params": {"name": "{客户昵称}", "points": "500", "date": "12月31日"},
                    }
                },
            },
        )
        assert created.status_code == 201, created.text
        broadcast_id = created.json()["id"]
        assert client.post(f"/api/v1/broadcasts/{broadcast_id}/send").status_code == 200
        run_jobs()
        with simulator.state.lock:
            sent = list(simulator.state.messages)
    finally:
        simulator.stop()
    counts = _get(client, f"/broadcasts/{broadcast_id}/results")["counts"]
    assert counts["sent"] == counts["planned"] == len(sent) > 0
    assert all(m.content.startswith("【山茶集】") and "500积分" in m.content for m in sent)


def test_siyu_demo_mail_lists_what_the_mailbox_received(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIYU_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    get_settings.cache_clear()
    try:
        empty = CliRunner().invoke(cli, ["demo", "--mail"])
        assert empty.exit_code == 0, empty.output
        assert "no mail" in empty.output
        sink = channels.start_mail_sink(channels.mail_directory(tmp_path), port=free_port())
        message = EmailMessage()
        message["From"] = "member@shanchaji.example"
        message["To"] = "a@qq.example.com"
        message["Subject"] = "新茶到店"
        message.set_content("明前龙井到店了")
        try:
            with smtplib.SMTP(sink.host, sink.port) as smtp:
                smtp.send_message(message)
        finally:
            sink.stop()
        listed = CliRunner().invoke(cli, ["demo", "--mail"])
    finally:
        get_settings.cache_clear()
    assert listed.exit_code == 0, listed.output
    assert "a@qq.example.com" in listed.output
    assert "新茶到店" in listed.output
    assert not (tmp_path / "demo.db").exists(), "listing the mailbox loads no demo"


def test_siyu_demo_goes_on_without_a_simulator_whose_port_is_taken(
    engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    loaded = load_demo(engine, customers=30)
    monkeypatch.setattr(demo_wecom, "SIM_PORT", 0)
    monkeypatch.setattr(channels, "SMS_PORT", free_port())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(channels, "MAIL_PORT", taken.getsockname()[1])
        with ExitStack() as running:
            cli_demo._start_simulators(
                running, engine, loaded.workspace_id, "http://127.0.0.1:9", settings
            )
            sms_url = f"http://127.0.0.1:{channels.SMS_PORT}/control/state"
            assert httpx.get(sms_url).status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(sms_url)
    shown = capsys.readouterr()
    assert "demo mailbox not started" in shown.err
    assert "WeCom simulator (模拟企业微信) on" in shown.out
    assert "Aliyun SMS simulator (模拟阿里云短信) on" in shown.out


def test_a_demo_loaded_by_an_older_version_says_how_to_get_this_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_session, "_engine", db_session._engine)
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    args = ["demo", "--no-serve", "--customers", "30", "--database-url", url]
    assert CliRunner().invoke(cli, args).exit_code == 0
    older = create_engine(url)
    with unit_of_work(older) as session:
        workspace = session.scalars(select(Workspace)).one()
        workspace.settings = {**workspace.settings, "demo": {"version": 1}}
    older.dispose()
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert "older Siyu" in again.output
