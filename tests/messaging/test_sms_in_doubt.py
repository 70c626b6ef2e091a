"""SMS sends in doubt (answer lost, sender stopped): Aliyun is asked before any resend, so
each number gets its message exactly once. The Aliyun simulator runs over real HTTP."""

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from siyu.app import create_app
from siyu.config import Settings
from siyu.connectors.aliyun_sms_sim import AliyunSmsSim, SimConfig, SimServer
from siyu.connectors.aliyun_sms_sim.seed import POINTS_EXPIRING
from siyu.connectors.wecom_sim.server import ThreadedServer
from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.messaging import receipt_jobs as receipts_jobs
from siyu.messaging import receipts, service
from siyu.messaging.sms_in_doubt import CONFIRMED
from siyu.models import Broadcast, Customer, Delivery, Job
from siyu.worker.queue import enqueue
from tests.conftest import WorkspaceFixture

RunJobs = Callable[[], int]
MOBILES = ("13800000001", "13800000002", "13800000003")
PARAMS = {"name": "{客户昵称}", "points": "200", "date": "12月31日"}


@pytest.fixture(scope="module")
def _sim_server() -> Iterator[SimServer]:
    server = SimServer(SimConfig(report_delay=600.0))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sim(_sim_server: SimServer) -> Iterator[AliyunSmsSim]:
    _sim_server.reset()
    with httpx.Client(base_url=f"{_sim_server.base_url}/control", timeout=10) as control:
        yield AliyunSmsSim(_sim_server, control)
    _sim_server.reset()


def _account(api: TestClient, sim: AliyunSmsSim, settle_seconds: float) -> None:
    response = api.put(
        "/api/v1/messaging/channels/sms",
        json={
            "config": {
                "base_url": sim.base_url,
                "access_key_id": sim.access_key_id,
                "timeout_seconds": 0.5,
                "in_doubt_settle_seconds": settle_seconds,
            },
            "secret": sim.access_key_secret,
        },
    )
    assert response.status_code == 200, response.text


def _customers(engine: Engine, workspace_id: int) -> list[int]:
    with unit_of_work(engine) as session:
        rows = [
            Customer(workspace_id=workspace_id, name=f"会员{n}", mobile=f"+86{mobile}")
            for n, mobile in enumerate(MOBILES)
        ]
        session.add_all(rows)
        session.flush()
        return [c.id for c in rows]


def _create(api: TestClient, customer_ids: list[int]) -> int:
    segment = api.post(
        "/api/v1/segments", json={"name": "积分到期会员", "kind": "static", "rule": None}
    ).json()
    api.post(f"/api/v1/segments/{segment['id']}/members", json={"customer_ids": customer_ids})
    sms = {"sign_name": "山茶集", "template_code": POINTS_EXPIRING, "params": PARAMS}
    response = api.post(
        "/api/v1/broadcasts",
        json={
            "name": "积分到期提醒",
            "channel": "sms",
            "segment_id": segment["id"],
            "content": {"sms": sms},
        },
    )
    assert response.status_code == 201, response.text
    broadcast_id: int = response.json()["id"]
    return broadcast_id


def _send(api: TestClient, engine: Engine, workspace_id: int) -> int:
    broadcast_id = _create(api, _customers(engine, workspace_id))
    sent = api.post(f"/api/v1/broadcasts/{broadcast_id}/send")
    assert sent.status_code == 200, sent.text
    return broadcast_id


def _rows(engine: Engine, broadcast_id: int) -> dict[str, Delivery]:
    with unit_of_work(engine, write=False) as session:
        rows = list(session.scalars(select(Delivery).where(Delivery.broadcast_id == broadcast_id)))
        session.expunge_all()
        return {(row.address or "")[-11:]: row for row in rows}


def _next_pass(engine: Engine, run_jobs: RunJobs) -> None:
    with unit_of_work(engine) as session:
        [later] = session.scalars(
            select(Job).where(Job.name == service.SEND_JOB, Job.status == "queued")
        ).all()
        session.execute(update(Job).where(Job.id == later.id).values(run_at=utcnow()))
    run_jobs()


def _handed_over_ago(engine: Engine, delivery_id: int, seconds: int) -> None:
    with unit_of_work(engine) as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(committed_at=utcnow() - timedelta(seconds=seconds))
        )


def _phones(sim: AliyunSmsSim) -> list[str]:
    return sorted(m.phone_number for m in sim.messages())


def _status(api: TestClient, broadcast_id: int) -> str:
    status: str = api.get(f"/api/v1/broadcasts/{broadcast_id}/results").json()["status"]
    return status


@pytest.fixture
def live_urls(
    engine: Engine, settings: Settings, workspace: WorkspaceFixture, sim: AliyunSmsSim
) -> Iterator[None]:
    """The app on a real port, the workspace's receipt URLs set in the simulator."""
    server = ThreadedServer(create_app(settings, engine=engine, run_worker=False))
    server.start()
    try:
        here = settings.model_copy(update={"base_url": server.base_url})
        urls = receipts.receipt_urls(here, workspace.id)
        sim.set_urls(urls.report_url, urls.uplink_url)
        yield
    finally:
        server.stop()


def test_a_send_whose_answer_was_lost_is_found_at_aliyun_and_never_sent_again(
    api: TestClient,
    engine: Engine,
    workspace: WorkspaceFixture,
    sim: AliyunSmsSim,
    live_urls: None,
    run_jobs: RunJobs,
) -> None:
    _account(api, sim, settle_seconds=300)
    sim.control.post("/faults", json={"answer_timeouts": 1}).raise_for_status()
    broadcast_id = _send(api, engine, workspace.id)
    run_jobs()

    assert _phones(sim) == list(MOBILES)  # Aliyun took all three, one answer was lost
    [lost] = [r for r in _rows(engine, broadcast_id).values() if r.status == "sending"]
    assert (lost.reason, lost.attempts) == ("in_doubt", 1)
    assert lost.detail is not None
    assert "QuerySendDetails" in lost.detail
    assert _status(api, broadcast_id) == "sending"

    _next_pass(engine, run_jobs)

    assert _phones(sim) == list(MOBILES)  # asked, found, not sent again
    confirmed = _rows(engine, broadcast_id)[lost.address[-11:] if lost.address else ""]
    assert (confirmed.status, confirmed.detail, confirmed.attempts) == ("sent", CONFIRMED, 1)
    assert confirmed.sent_at == lost.committed_at
    assert _status(api, broadcast_id) == "completed"

    sim.control.post("/reports/flush").raise_for_status()
    sim.wait_for_pushes(1, "report")

    rows = _rows(engine, broadcast_id)
    assert {r.status for r in rows.values()} == {"delivered"}
    [message] = [m for m in sim.messages() if m.out_id == f"d{confirmed.id}"]
    assert rows[message.phone_number].provider_id == message.biz_id  # the report brought it


def test_a_send_aliyun_never_took_is_sent_again_only_after_the_settle_time(
    api: TestClient,
    engine: Engine,
    workspace: WorkspaceFixture,
    sim: AliyunSmsSim,
    run_jobs: RunJobs,
) -> None:
    _account(api, sim, settle_seconds=300)
    sim.control.post("/faults", json={"request_timeouts": 1}).raise_for_status()
    broadcast_id = _send(api, engine, workspace.id)
    run_jobs()
    [lost] = [r for r in _rows(engine, broadcast_id).values() if r.status == "sending"]
    assert len(sim.messages()) == 2

    _next_pass(engine, run_jobs)  # not listed yet, and it may still be on its way

    assert len(sim.messages()) == 2
    assert _rows(engine, broadcast_id)[(lost.address or "")[-11:]].status == "sending"

    _handed_over_ago(engine, lost.id, 301)
    _next_pass(engine, run_jobs)

    assert _phones(sim) == list(MOBILES)  # exactly one message per number
    resent = _rows(engine, broadcast_id)[(lost.address or "")[-11:]]
    assert (resent.status, resent.attempts, resent.reason) == ("sent", 2, None)
    assert _status(api, broadcast_id) == "completed"


def test_aliyun_listing_a_message_late_is_waited_for_within_the_settle_time(
    api: TestClient,
    engine: Engine,
    workspace: WorkspaceFixture,
    sim: AliyunSmsSim,
    run_jobs: RunJobs,
) -> None:
    _account(api, sim, settle_seconds=300)
    sim.control.post(
        "/faults", json={"answer_timeouts": 1, "details_delay": 120}
    ).raise_for_status()
    broadcast_id = _send(api, engine, workspace.id)
    run_jobs()
    _next_pass(engine, run_jobs)

    assert len(sim.messages()) == 3
    assert sorted(r.status for r in _rows(engine, broadcast_id).values()) == [
        "sending",
        "sent",
        "sent",
    ]

    sim.state.advance(121)  # Aliyun's record shows up
    _next_pass(engine, run_jobs)

    assert _phones(sim) == list(MOBILES)
    assert {r.status for r in _rows(engine, broadcast_id).values()} == {"sent"}


def test_a_sender_that_stopped_after_the_hand_over_loses_and_doubles_nothing(
    api: TestClient,
    engine: Engine,
    workspace: WorkspaceFixture,
    sim: AliyunSmsSim,
    run_jobs: RunJobs,
) -> None:
    """One row was handed over and its request went out, one was handed over and the
    process died before its request: both are `sending`, and neither is known."""
    _account(api, sim, settle_seconds=60)
    customer_ids = _customers(engine, workspace.id)
    broadcast_id = _create(api, customer_ids)
    with unit_of_work(engine) as session:
        broadcast = session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        broadcast.status, broadcast.planned_at, broadcast.planned_count = "sending", utcnow(), 3
        handed_over = utcnow() - timedelta(minutes=10)
        rows = [
            Delivery(
                workspace_id=workspace.id,
                broadcast_id=broadcast_id,
                customer_id=customer_id,
                channel="sms",
                address=f"+86{mobile}",
                status="pending" if n == 0 else "sending",
                attempts=0 if n == 0 else 1,
                committed_at=None if n == 0 else handed_over,
            )
            for n, (customer_id, mobile) in enumerate(zip(customer_ids, MOBILES, strict=True))
        ]
        session.add_all(rows)
        session.flush()
        went_out = rows[2].id
        enqueue(
            session, service.SEND_JOB, {"broadcast_id": broadcast_id}, workspace_id=workspace.id
        )

    async def crashed_sender() -> None:
        async with sim.client() as client:
            values = {"name": "会员2", "points": "200", "date": "12月31日"}
            sent = await client.send_sms(
                f"+86{MOBILES[2]}", "山茶集", POINTS_EXPIRING, values, f"d{went_out}"
            )
            assert sent.ok

    asyncio.run(crashed_sender())
    run_jobs()

    assert _phones(sim) == list(MOBILES)  # exactly once each
    final = _rows(engine, broadcast_id)
    assert {r.status for r in final.values()} == {"sent"}
    assert (final[MOBILES[2]].detail, final[MOBILES[2]].attempts) == (CONFIRMED, 1)
    assert final[MOBILES[1]].attempts == 2  # sent again: Aliyun never had it
    assert _status(api, broadcast_id) == "completed"


def test_a_message_never_found_after_its_last_attempt_fails_with_the_reason(
    api: TestClient,
    engine: Engine,
    workspace: WorkspaceFixture,
    sim: AliyunSmsSim,
    run_jobs: RunJobs,
) -> None:
    _account(api, sim, settle_seconds=0)
    sim.control.post("/faults", json={"request_timeouts": 100}).raise_for_status()
    broadcast_id = _send(api, engine, workspace.id)
    run_jobs()
    for _ in range(4):
        _next_pass(engine, run_jobs)
    _next_pass(engine, run_jobs)

    assert sim.messages() == []
    rows = _rows(engine, broadcast_id)
    assert {(r.status, r.reason, r.attempts) for r in rows.values()} == {("failed", "in_doubt", 5)}
    results = api.get(f"/api/v1/broadcasts/{broadcast_id}/results").json()
    assert (results["status"], results["failed_by_reason"]) == ("completed", {"in_doubt": 3})


def test_a_cancelled_broadcasts_doubtful_sms_are_settled_by_the_receipt_pull(
    api: TestClient,
    engine: Engine,
    workspace: WorkspaceFixture,
    sim: AliyunSmsSim,
    run_jobs: RunJobs,
) -> None:
    """Cancelled with one answer lost (Aliyun has it) and one request lost (Aliyun never
    had it): no send pass comes, so the periodic pull asks, records the first as sent and
    cancels the second — it is never sent."""
    _account(api, sim, settle_seconds=300)
    sim.control.post(
        "/faults", json={"answer_timeouts": 1, "request_timeouts": 1}
    ).raise_for_status()
    broadcast_id = _send(api, engine, workspace.id)
    run_jobs()
    doubtful = [r for r in _rows(engine, broadcast_id).values() if r.status == "sending"]
    assert len(doubtful) == 2
    assert api.post(f"/api/v1/broadcasts/{broadcast_id}/cancel").status_code == 200
    for row in doubtful:
        _handed_over_ago(engine, row.id, 301)

    with unit_of_work(engine) as session:
        enqueue(session, receipts_jobs.PULL_JOB, {}, workspace_id=None)
    run_jobs()

    assert len(sim.messages()) == 2  # nothing was sent again
    at_aliyun = {m.out_id for m in sim.messages()}
    final = {r.id: r for r in _rows(engine, broadcast_id).values()}
    for row in doubtful:
        settled = final[row.id]
        if f"d{row.id}" in at_aliyun:
            assert (settled.status, settled.detail) == ("sent", CONFIRMED)
        else:
            assert (settled.status, settled.reason) == ("cancelled", "in_doubt")
    with unit_of_work(engine, write=False) as session:
        pull = session.scalars(select(Job).where(Job.name == receipts_jobs.PULL_JOB)).one()
        assert pull.result is not None
        assert pull.result["cancelled_in_doubt"] == 1
    assert _status(api, broadcast_id) == "cancelled"
