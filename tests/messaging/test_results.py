"""Results credit clicks and conversions to the variant and staff member of each delivery,
and say why deliveries failed or wait for another try."""

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.models import Customer, Order
from tests.conftest import WorkspaceFixture
from tests.messaging.conftest import SmtpSink, free_port

RunJobs = Callable[[], int]
PEOPLE = [(f"会员{i:02d}", f"member{i:02d}@example.cn") for i in range(12)]
LINK = re.compile(r"https?://[^\s\"'<>]+/l/[A-Za-z0-9_-]+")


def _content(subject: str) -> dict[str, Any]:
    return {"subject": subject, "text": "{客户昵称}您好：新品试饮 https://shop.example.cn/tea"}


def test_clicks_and_orders_after_them_are_credited_to_each_variant(
    app: FastAPI,
    api: TestClient,
    engine: Engine,
    workspace: WorkspaceFixture,
    smtp_sink: SmtpSink,
    run_jobs: RunJobs,
) -> None:
    with unit_of_work(engine) as session:
        rows = [Customer(workspace_id=workspace.id, name=n, email=e) for n, e in PEOPLE]
        session.add_all(rows)
        session.flush()
        ids = {c.email: c.id for c in rows}
    segment = api.post("/api/v1/segments", json={"name": "试饮名单", "kind": "static"}).json()
    api.post(f"/api/v1/segments/{segment['id']}/members", json={"customer_ids": list(ids.values())})
    api.put(
        "/api/v1/messaging/channels/email",
        json={
            "config": {
                "host": smtp_sink.host,
                "port": smtp_sink.port,
                "security": "none",
                "from_address": "crm@shanchaji.example",
            },
            "secret": "",
        },
    )
    created = api.post(
        "/api/v1/broadcasts",
        json={
            "name": "新品试饮 A/B",
            "channel": "email",
            "segment_id": segment["id"],
            "content": _content("A"),
            "variants": [
                {"key": "A", "percent": 50, "content": _content("新品试饮 A")},
                {"key": "B", "percent": 50, "content": _content("新品试饮 B")},
            ],
        },
    )
    assert created.status_code == 201, created.text
    broadcast_id = created.json()["id"]
    api.post(f"/api/v1/broadcasts/{broadcast_id}/send")
    run_jobs()

    clicked: dict[str, list[str]] = {"A": [], "B": []}
    for message in smtp_sink.inbox.messages:
        variant = str(message["Subject"]).rsplit(" ", 1)[-1]
        if len(clicked[variant]) == 2:
            continue
        body = message.get_body(("plain",))
        assert body is not None
        link = LINK.search(body.get_content())
        assert link is not None
        path = link.group(0).split("://", 1)[1].split("/", 1)[1]
        with TestClient(app) as browser:  # each customer opens their link in their own browser
            opened = browser.get(f"/{path}", follow_redirects=False)
        assert opened.status_code in (302, 303, 307), opened.text
        clicked[variant].append(str(message["To"]).split("<")[-1].rstrip(">"))
    buyer = clicked["B"][0]
    with unit_of_work(engine) as session:
        session.add(
            Order(
                workspace_id=workspace.id,
                platform="tmall",
                platform_order_id="TM-20261206-0001",
                status="paid",
                ordered_at=utcnow() + timedelta(minutes=5),
                paid_at=utcnow() + timedelta(minutes=5),
                paid_fen=26800,
                total_fen=26800,
                customer_id=ids[buyer],
            )
        )

    results = api.get(f"/api/v1/broadcasts/{broadcast_id}/results").json()

    assert results["counts"]["clicked"] == 4
    assert results["clicked_by_link"] == {"email": 4}
    assert results["counts"]["converted"] == 1
    assert results["counts"]["converted_fen"] == 26800
    variants = {row["key"]: row["counts"] for row in results["by_variant"]}
    assert (variants["A"]["clicked"], variants["A"]["converted"]) == (2, 0)
    assert (variants["B"]["clicked"], variants["B"]["converted"]) == (2, 1)
    assert variants["B"]["converted_fen"] == 26800
    assert variants["A"]["sent"] + variants["B"]["sent"] == 12
    staff = {row["key"]: row["counts"] for row in results["by_staff"]}
    assert staff["none"]["clicked"] == 4


class Refusing:
    """An SMTP server that refuses some recipients for now (451) and one for good (550)."""

    def __init__(self, later: set[str], never: str) -> None:
        self.later = later
        self.never = never

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        (to,) = envelope.rcpt_tos
        if to in self.later:
            return "451 4.7.1 greylisted, try again later"
        return "550 5.1.1 no such mailbox" if to == self.never else "250 OK"


def test_deliveries_refused_for_now_are_counted_as_waiting_by_reason_with_labels(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture, run_jobs: RunJobs
) -> None:
    later = {e for _, e in PEOPLE[:3]}
    server = Controller(Refusing(later, PEOPLE[3][1]), hostname="127.0.0.1", port=free_port())
    server.start()
    try:
        with unit_of_work(engine) as session:
            rows = [Customer(workspace_id=workspace.id, name=n, email=e) for n, e in PEOPLE]
            session.add_all(rows)
            session.flush()
            ids = [c.id for c in rows]
        segment = api.post("/api/v1/segments", json={"name": "会员", "kind": "static"}).json()
        api.post(f"/api/v1/segments/{segment['id']}/members", json={"customer_ids": ids})
        api.put(
            "/api/v1/messaging/channels/email",
            json={
                "config": {
                    "host": "127.0.0.1",
                    "port": server.port,
                    "security": "none",
                    "from_address": "crm@shanchaji.example",
                },
                "secret": "",
            },
        )
        broadcast = api.post(
            "/api/v1/broadcasts",
            json={
                "name": "会员日",
                "channel": "email",
                "segment_id": segment["id"],
                "content": _content("会员日"),
            },
        ).json()
        api.post(f"/api/v1/broadcasts/{broadcast['id']}/send")
        run_jobs()
    finally:
        server.stop()

    results = api.get(f"/api/v1/broadcasts/{broadcast['id']}/results").json()

    assert results["status"] == "sending"
    assert results["counts"]["pending"] == 3
    assert results["waiting_by_reason"] == {"smtp_451": 3}
    assert results["failed_by_reason"] == {"smtp_550": 1}
    assert results["reason_labels"] == {"smtp_451": "smtp_4xx", "smtp_550": "smtp_5xx"}
