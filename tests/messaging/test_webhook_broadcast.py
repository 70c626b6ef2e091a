"""Webhook broadcasts end to end, posted to a real receiver on a loopback port."""

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from siyu.config import get_settings
from siyu.connectors.webhook.signing import verify_signature
from siyu.connectors.wecom_sim.server import ThreadedServer
from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.messaging.sending import MAX_ATTEMPTS
from siyu.models import Customer, Delivery, Job
from tests.conftest import WorkspaceFixture

RunJobs = Callable[[], int]
SECRET = "whsec-山茶集-0123456789abcdef"
NAMES = ("林小姐", "周先生", "吴女士", "王小姐")


@dataclass
class Post:
    delivery: str
    event: str
    body: dict[str, Any]
    verified: bool
    status: int


@dataclass
class Receiver:
    """Answers each customer's posts with the statuses scripted for it, then 200."""

    url: str = ""
    script: dict[int, list[int]] = field(default_factory=dict)
    # Retry-After sent with every answer that is not a 2xx
    retry_after: str | None = None
    posts: list[Post] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Post]:
        with self.lock:
            return [p for p in self.posts if p.status < 300]

    def for_customer(self, customer_id: int) -> list[Post]:
        with self.lock:
            return [p for p in self.posts if p.body["customer_id"] == customer_id]


def _receiver_app(receiver: Receiver) -> FastAPI:
    app = FastAPI()

    @app.post("/hooks/siyu")
    async def receive(request: Request) -> Response:
        raw = await request.body()
        verified = verify_signature(
            SECRET,
            request.headers.get("X-Siyu-Timestamp", ""),
            raw,
            request.headers.get("X-Siyu-Signature", ""),
        )
        body = json.loads(raw)
        with receiver.lock:
            planned = receiver.script.get(body["customer_id"], [])
            status = planned.pop(0) if planned else 200
            receiver.posts.append(
                Post(
                    request.headers.get("X-Siyu-Delivery", ""),
                    request.headers.get("X-Siyu-Event", ""),
                    body,
                    verified,
                    status,
                )
            )
        if status == 410:
            return Response("这个会员已注销", status_code=status)
        headers = {"Retry-After": receiver.retry_after} if receiver.retry_after else None
        return Response("ok" if status < 300 else "busy", status_code=status, headers=headers)

    return app


@pytest.fixture(scope="module")
def _receiver_server() -> Iterator[tuple[ThreadedServer, Receiver]]:
    receiver = Receiver()
    server = ThreadedServer(_receiver_app(receiver))
    server.start()
    receiver.url = f"{server.base_url}/hooks/siyu"
    yield server, receiver
    server.stop()


@pytest.fixture
def receiver(
    _receiver_server: tuple[ThreadedServer, Receiver], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Receiver]:
    """The loopback receiver, emptied; loopback URLs allowed for this test."""
    _, found = _receiver_server
    with found.lock:
        found.posts.clear()
        found.script.clear()
        found.retry_after = None
    monkeypatch.setenv("SIYU_WEBHOOK_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()
    yield found
    get_settings.cache_clear()


@pytest.fixture
def audience(engine: Engine, api: TestClient, workspace: WorkspaceFixture) -> dict[str, Any]:
    with unit_of_work(engine) as session:
        rows = [Customer(workspace_id=workspace.id, name=name) for name in NAMES]
        session.add_all(rows)
        session.flush()
        ids = {c.name: c.id for c in rows}
    segment = api.post(
        "/api/v1/segments", json={"name": "同步到 CRM 的会员", "kind": "static", "rule": None}
    ).json()
    added = api.post(
        f"/api/v1/segments/{segment['id']}/members", json={"customer_ids": list(ids.values())}
    )
    assert added.status_code == 200, added.text
    return {"ids": ids, "segment_id": segment["id"]}


def _send(api: TestClient, receiver: Receiver, segment_id: int) -> int:
    account = api.put(
        "/api/v1/messaging/channels/webhook",
        json={"config": {"url": receiver.url}, "secret": SECRET},
    )
    assert account.status_code == 200, account.text
    created = api.post(
        "/api/v1/broadcasts",
        json={
            "name": "会员日通知 CRM",
            "channel": "webhook",
            "segment_id": segment_id,
            "content": {"text": "{客户昵称}，会员日满299减50", "webhook_event": "member.day"},
        },
    )
    assert created.status_code == 201, created.text
    broadcast_id: int = created.json()["id"]
    sent = api.post(f"/api/v1/broadcasts/{broadcast_id}/send")
    assert sent.status_code == 200, sent.text
    return broadcast_id


def _deliveries(engine: Engine, broadcast_id: int) -> dict[int, Delivery]:
    with unit_of_work(engine, write=False) as session:
        rows = list(session.scalars(select(Delivery).where(Delivery.broadcast_id == broadcast_id)))
        session.expunge_all()
        return {row.customer_id: row for row in rows}


def _waits(engine: Engine) -> float:
    """Seconds until the send pass queued for later (the retry backoff) is due."""
    with unit_of_work(engine, write=False) as session:
        [later] = session.scalars(
            select(Job).where(Job.name == "messaging.send", Job.status == "queued")
        ).all()
        return (later.run_at - utcnow()).total_seconds()


def _next_pass(engine: Engine, run_jobs: RunJobs) -> None:
    """The send pass queued for later (the retry backoff) runs now."""
    assert _waits(engine) > 0
    with unit_of_work(engine) as session:
        session.execute(
            update(Job)
            .where(Job.name == "messaging.send", Job.status == "queued")
            .values(run_at=utcnow())
        )
    run_jobs()


def test_every_customer_is_posted_once_with_a_signature_that_verifies(
    api: TestClient,
    audience: dict[str, Any],
    receiver: Receiver,
    engine: Engine,
    run_jobs: RunJobs,
) -> None:
    broadcast_id = _send(api, receiver, audience["segment_id"])
    run_jobs()

    posts = receiver.accepted()
    assert sorted(p.body["customer_id"] for p in posts) == sorted(audience["ids"].values())
    assert len({p.delivery for p in posts}) == len(NAMES)
    assert all(p.verified for p in posts)
    assert {p.event for p in posts} == {"member.day"}
    lin = next(p for p in posts if p.body["customer_id"] == audience["ids"]["林小姐"])
    assert lin.body["text"] == "林小姐，会员日满299减50"
    assert lin.body["broadcast_id"] == broadcast_id
    rows = _deliveries(engine, broadcast_id)
    assert {r.status for r in rows.values()} == {"sent"}
    assert lin.delivery == rows[audience["ids"]["林小姐"]].provider_id
    results = api.get(f"/api/v1/broadcasts/{broadcast_id}/results").json()
    assert (results["status"], results["counts"]["sent"]) == ("completed", 4)


def test_5xx_answers_are_retried_on_later_passes_until_accepted_with_the_same_delivery_id(
    api: TestClient,
    audience: dict[str, Any],
    receiver: Receiver,
    engine: Engine,
    run_jobs: RunJobs,
) -> None:
    ids = audience["ids"]
    receiver.script[ids["周先生"]] = [503, 500]
    broadcast_id = _send(api, receiver, audience["segment_id"])
    run_jobs()

    first = _deliveries(engine, broadcast_id)[ids["周先生"]]
    assert (first.status, first.reason) == ("pending", "http_503")
    assert len(receiver.accepted()) == 3
    _next_pass(engine, run_jobs)
    second = _deliveries(engine, broadcast_id)[ids["周先生"]]
    assert (second.status, second.reason) == ("pending", "http_500")
    _next_pass(engine, run_jobs)

    posts = receiver.for_customer(ids["周先生"])
    assert [p.status for p in posts] == [503, 500, 200]
    assert len({p.delivery for p in posts}) == 1  # receivers dedupe on X-Siyu-Delivery
    assert all(p.verified for p in posts)
    done = _deliveries(engine, broadcast_id)[ids["周先生"]]
    assert (done.status, done.reason, done.attempts) == ("sent", None, 3)
    assert len(receiver.accepted()) == len(NAMES)  # nobody else was posted again
    results = api.get(f"/api/v1/broadcasts/{broadcast_id}/results").json()
    assert (results["status"], results["counts"]["sent"]) == ("completed", 4)


def test_a_receiver_failing_every_try_ends_failed_after_the_last_attempt(
    api: TestClient,
    audience: dict[str, Any],
    receiver: Receiver,
    engine: Engine,
    run_jobs: RunJobs,
) -> None:
    ids = audience["ids"]
    receiver.script[ids["王小姐"]] = [502] * MAX_ATTEMPTS
    broadcast_id = _send(api, receiver, audience["segment_id"])
    run_jobs()
    for _ in range(MAX_ATTEMPTS - 1):
        _next_pass(engine, run_jobs)

    row = _deliveries(engine, broadcast_id)[ids["王小姐"]]
    assert (row.status, row.reason, row.attempts) == ("failed", "http_502", MAX_ATTEMPTS)
    assert len(receiver.for_customer(ids["王小姐"])) == MAX_ATTEMPTS
    results = api.get(f"/api/v1/broadcasts/{broadcast_id}/results").json()
    assert results["status"] == "completed"
    assert results["failed_by_reason"] == {"http_502": 1}


def test_a_4xx_answer_is_final_with_its_reason_and_never_retried(
    api: TestClient,
    audience: dict[str, Any],
    receiver: Receiver,
    engine: Engine,
    run_jobs: RunJobs,
) -> None:
    ids = audience["ids"]
    receiver.script[ids["吴女士"]] = [410]
    broadcast_id = _send(api, receiver, audience["segment_id"])
    run_jobs()

    row = _deliveries(engine, broadcast_id)[ids["吴女士"]]
    assert (row.status, row.reason, row.attempts) == ("failed", "http_410", 1)
    assert row.detail is not None
    assert "HTTP 410" in row.detail
    assert "这个会员已注销" in row.detail
    assert len(receiver.for_customer(ids["吴女士"])) == 1
    results = api.get(f"/api/v1/broadcasts/{broadcast_id}/results").json()
    assert results["status"] == "completed"
    assert (results["counts"]["sent"], results["counts"]["failed"]) == (3, 1)
    assert results["failed_by_reason"] == {"http_410": 1}


def test_passes_back_off_longer_after_each_failed_attempt(
    api: TestClient,
    audience: dict[str, Any],
    receiver: Receiver,
    engine: Engine,
    run_jobs: RunJobs,
) -> None:
    ids = audience["ids"]
    receiver.script[ids["周先生"]] = [500, 502, 504]
    _send(api, receiver, audience["segment_id"])
    run_jobs()
    first = _waits(engine)
    _next_pass(engine, run_jobs)
    second = _waits(engine)
    _next_pass(engine, run_jobs)
    third = _waits(engine)

    # 30 s doubling per attempt, each within ±25 % jitter
    assert 30 * 0.75 - 1 <= first <= 30 * 1.25
    assert 60 * 0.75 - 1 <= second <= 60 * 1.25
    assert 120 * 0.75 - 1 <= third <= 120 * 1.25


def test_retry_after_of_an_overloaded_receiver_spaces_the_next_pass_and_is_recorded(
    api: TestClient,
    audience: dict[str, Any],
    receiver: Receiver,
    engine: Engine,
    run_jobs: RunJobs,
) -> None:
    ids = audience["ids"]
    receiver.script[ids["王小姐"]] = [429]
    receiver.retry_after = "600"
    broadcast_id = _send(api, receiver, audience["segment_id"])
    run_jobs()

    assert 599 <= _waits(engine) <= 600  # what the receiver asked, longer than the backoff
    row = _deliveries(engine, broadcast_id)[ids["王小姐"]]
    assert (row.status, row.reason, row.attempts) == ("pending", "http_429", 1)
    assert row.detail == "HTTP 429: busy (retry after 600 s)"
    _next_pass(engine, run_jobs)
    assert _deliveries(engine, broadcast_id)[ids["王小姐"]].status == "sent"


def test_an_overloaded_receiver_stops_the_pass_and_the_rest_waits_untried(
    api: TestClient,
    engine: Engine,
    workspace: WorkspaceFixture,
    receiver: Receiver,
    run_jobs: RunJobs,
) -> None:
    """One batch is 64 posts: after a batch answered 503, the other 6 are not posted."""
    with unit_of_work(engine) as session:
        rows = [Customer(workspace_id=workspace.id, name=f"会员{n}") for n in range(70)]
        session.add_all(rows)
        session.flush()
        customer_ids = [c.id for c in rows]
    segment = api.post(
        "/api/v1/segments", json={"name": "全部会员", "kind": "static", "rule": None}
    ).json()
    api.post(f"/api/v1/segments/{segment['id']}/members", json={"customer_ids": customer_ids})
    for customer_id in customer_ids[:64]:  # the first batch
        receiver.script[customer_id] = [503]
    broadcast_id = _send(api, receiver, segment["id"])
    run_jobs()

    assert len(receiver.posts) == 64
    attempts = sorted(r.attempts for r in _deliveries(engine, broadcast_id).values())
    assert attempts == [0] * 6 + [1] * 64
    _next_pass(engine, run_jobs)
    assert len(receiver.accepted()) == 70
    results = api.get(f"/api/v1/broadcasts/{broadcast_id}/results").json()
    assert (results["status"], results["counts"]["sent"]) == ("completed", 70)
