"""Email broadcasts end to end: eligibility, exactly one message each, tracked links, results."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.connectors.smtp.lean_sink import LeanSink
from siyu.content import preferences
from siyu.db.session import unit_of_work
from siyu.messaging.schemas import BroadcastStatus
from siyu.models import Broadcast, Customer, Delivery
from siyu.worker.queue import enqueue
from tests.conftest import WorkspaceFixture
from tests.messaging.conftest import SmtpSink

RunJobs = Callable[[], int]

PEOPLE = (
    ("王芳", "wangfang@example.cn"),
    ("李娜", "lina@example.cn"),
    ("张伟", None),  # no address
    ("刘洋", "liuyang@example.cn"),  # opts out
    ("陈静", "lina@example.cn"),  # shares 李娜's address
    ("杨磊", "yanglei@example.cn"),
)


@pytest.fixture
def audience(engine: Engine, api: TestClient, workspace: WorkspaceFixture) -> dict[str, Any]:
    with unit_of_work(engine) as session:
        rows = [Customer(workspace_id=workspace.id, name=n, email=e) for n, e in PEOPLE]
        session.add_all(rows)
        session.flush()
        ids = {c.name: c.id for c in rows}
        preferences.opt_out(session, workspace.id, ids["刘洋"], "email", "test")
    segment = api.post(
        "/api/v1/segments", json={"name": "会员邮件名单", "kind": "static", "rule": None}
    ).json()
    added = api.post(
        f"/api/v1/segments/{segment['id']}/members", json={"customer_ids": list(ids.values())}
    )
    assert added.status_code == 200, added.text
    return {"ids": ids, "segment_id": segment["id"]}


def _account(api: TestClient, sink: SmtpSink | LeanSink, **config: Any) -> None:
    response = api.put(
        "/api/v1/messaging/channels/email",
        json={
            "config": {
                "host": "127.0.0.1",
                "port": sink.port,
                "security": "none",
                "from_address": "crm@huaxizi-demo.cn",
                "from_name": "花西子会员中心",
                **config,
            },
            "secret": "",
        },
    )
    assert response.status_code == 200, response.text


def _broadcast(api: TestClient, segment_id: int, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "双十二会员专享",
        "channel": "email",
        "segment_id": segment_id,
        "content": {
            "subject": "{客户昵称}，双十二会员专享礼",
            "html": '<p>亲爱的{客户昵称}：</p><p><a href="https://shop.example.cn/d12">点击领取</a></p>',
            "text": "亲爱的{客户昵称}：点击领取 https://shop.example.cn/d12",
        },
        **extra,
    }
    response = api.post("/api/v1/broadcasts", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_eligibility_counts_every_exclusion_reason(
    api: TestClient, audience: dict[str, Any]
) -> None:
    response = api.post(
        "/api/v1/broadcasts/eligibility",
        json={"channel": "email", "segment_id": audience["segment_id"]},
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "audience": 6,
        "eligible": 3,
        "excluded": {"no_address": 1, "opted_out": 1, "duplicate": 1},
        "groups": [],
    }


def test_each_eligible_customer_gets_exactly_one_personal_email(
    api: TestClient, audience: dict[str, Any], smtp_sink: SmtpSink, run_jobs: RunJobs
) -> None:
    _account(api, smtp_sink)
    broadcast = _broadcast(api, audience["segment_id"])

    sent = api.post(f"/api/v1/broadcasts/{broadcast['id']}/send")
    assert sent.status_code == 200, sent.text
    run_jobs()

    inbox = smtp_sink.inbox
    assert sorted(str(m["To"]).split("<")[-1].rstrip(">") for m in inbox.messages) == [
        "lina@example.cn",
        "wangfang@example.cn",
        "yanglei@example.cn",
    ]
    wang = inbox.to("wangfang@example.cn")[0]
    assert wang["Subject"] == "王芳，双十二会员专享礼"
    assert "/u/" in wang["List-Unsubscribe"]
    assert wang["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = wang.get_body(("html",))
    assert html is not None
    body = html.get_content()
    assert "https://shop.example.cn/d12" not in body
    assert "/l/" in body
    results = api.get(f"/api/v1/broadcasts/{broadcast['id']}/results").json()
    assert results["status"] == "completed"
    assert results["counts"]["planned"] == 3
    assert results["counts"]["sent"] == 3
    assert results["counts"]["excluded"] == 3
    assert results["excluded_by_reason"] == {"no_address": 1, "opted_out": 1, "duplicate": 1}


def test_on_a_pipelining_server_messages_follow_each_other_behind_the_dots(
    api: TestClient, audience: dict[str, Any], run_jobs: RunJobs, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.txt"
    with LeanSink(journal=journal) as sink:  # offers PIPELINING
        _account(api, sink, max_connections=1)  # every message after the first rides a dot
        broadcast = _broadcast(api, audience["segment_id"])
        api.post(f"/api/v1/broadcasts/{broadcast['id']}/send")
        run_jobs()

    received = [line.split(" ")[1] for line in journal.read_text().splitlines()]
    assert sorted(received) == ["lina@example.cn", "wangfang@example.cn", "yanglei@example.cn"]
    results = api.get(f"/api/v1/broadcasts/{broadcast['id']}/results").json()
    assert (results["status"], results["counts"]["sent"]) == ("completed", 3)


def test_running_the_send_again_sends_nothing_twice(
    api: TestClient,
    audience: dict[str, Any],
    smtp_sink: SmtpSink,
    run_jobs: RunJobs,
    engine: Engine,
) -> None:
    _account(api, smtp_sink)
    broadcast = _broadcast(api, audience["segment_id"])
    api.post(f"/api/v1/broadcasts/{broadcast['id']}/send")
    run_jobs()
    with unit_of_work(engine) as session:
        row = session.get(Broadcast, broadcast["id"])
        assert row is not None
        row.status = BroadcastStatus.SENDING.value
        enqueue(session, "messaging.send", {"broadcast_id": row.id}, workspace_id=row.workspace_id)
    run_jobs()

    assert len(smtp_sink.inbox.messages) == 3


def test_a_frequency_cap_skips_customers_who_just_got_a_message(
    api: TestClient, audience: dict[str, Any], smtp_sink: SmtpSink, run_jobs: RunJobs
) -> None:
    _account(api, smtp_sink)
    rules = api.put(
        "/api/v1/messaging/rules",
        json={"frequency_caps": {"email": {"max_messages": 1, "days": 7}}},
    )
    assert rules.status_code == 200, rules.text
    first = _broadcast(api, audience["segment_id"])
    api.post(f"/api/v1/broadcasts/{first['id']}/send")
    run_jobs()

    second = api.post(
        "/api/v1/broadcasts/eligibility",
        json={"channel": "email", "segment_id": audience["segment_id"]},
    ).json()

    assert second["excluded"]["frequency_cap"] == 3


def test_pause_holds_the_send_and_resume_finishes_it_once(
    api: TestClient, audience: dict[str, Any], smtp_sink: SmtpSink, run_jobs: RunJobs
) -> None:
    _account(api, smtp_sink)
    broadcast = _broadcast(api, audience["segment_id"])
    api.post(f"/api/v1/broadcasts/{broadcast['id']}/send")
    run_jobs()  # plans, starts; the send pass runs too
    assert len(smtp_sink.inbox.messages) == 3

    paused = api.post(f"/api/v1/broadcasts/{broadcast['id']}/pause")
    assert paused.status_code == 409  # a completed broadcast has nothing to pause


def test_cancel_before_sending_sends_nothing(
    api: TestClient,
    audience: dict[str, Any],
    smtp_sink: SmtpSink,
    run_jobs: RunJobs,
    engine: Engine,
) -> None:
    _account(api, smtp_sink)
    broadcast = _broadcast(api, audience["segment_id"])
    api.post(f"/api/v1/broadcasts/{broadcast['id']}/send")
    cancelled = api.post(f"/api/v1/broadcasts/{broadcast['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    run_jobs()

    assert smtp_sink.inbox.messages == []
    assert cancelled.json()["status"] == "cancelled"


def test_a_malformed_address_fails_without_stopping_the_others(
    api: TestClient,
    audience: dict[str, Any],
    smtp_sink: SmtpSink,
    run_jobs: RunJobs,
    engine: Engine,
) -> None:
    with unit_of_work(engine) as session:
        customer = session.get(Customer, audience["ids"]["杨磊"])
        assert customer is not None
        customer.email = "not-an-address"
    _account(api, smtp_sink)
    broadcast = _broadcast(api, audience["segment_id"])
    api.post(f"/api/v1/broadcasts/{broadcast['id']}/send")
    run_jobs()

    with unit_of_work(engine) as session:
        failed = session.scalars(
            select(Delivery).where(
                Delivery.broadcast_id == broadcast["id"], Delivery.status == "failed"
            )
        ).all()
    assert [(d.customer_id, d.reason) for d in failed] == [
        (audience["ids"]["杨磊"], "invalid_address")
    ]
    assert len(smtp_sink.inbox.messages) == 2


def test_email_needs_a_subject(api: TestClient, audience: dict[str, Any]) -> None:
    response = api.post(
        "/api/v1/broadcasts",
        json={
            "name": "x",
            "channel": "email",
            "segment_id": audience["segment_id"],
            "content": {"html": "<p>hi</p>"},
        },
    )

    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "content.subject"


def test_text_lines_starting_with_a_dot_arrive_unchanged(
    api: TestClient, audience: dict[str, Any], smtp_sink: SmtpSink, run_jobs: RunJobs
) -> None:
    _account(api, smtp_sink)
    text = ".Dear member,\n.\n..see you at 8pm\n"
    broadcast = api.post(
        "/api/v1/broadcasts",
        json={
            "name": "dots",
            "channel": "email",
            "segment_id": audience["segment_id"],
            "content": {"subject": "Notice", "text": text},
        },
    ).json()
    api.post(f"/api/v1/broadcasts/{broadcast['id']}/send")
    run_jobs()

    assert len(smtp_sink.inbox.messages) == 3
    for message in smtp_sink.inbox.messages:
        assert message.get_content().replace("\r\n", "\n") == text
