"""SMS broadcasts end to end: the Aliyun simulator over HTTP pushes its reports and replies
to the real app on a loopback port."""

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from siyu.app import create_app
from siyu.config import Settings
from siyu.connectors.aliyun_sms_sim import AliyunSmsSim, FlowLimit, SimConfig, SimServer
from siyu.connectors.aliyun_sms_sim.seed import NEW_PRODUCT, POINTS_EXPIRING
from siyu.connectors.wecom_sim.server import ThreadedServer
from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.messaging import receipts
from siyu.models import Customer, Delivery, Identity, Job
from tests.conftest import WorkspaceFixture

RunJobs = Callable[[], int]

# name, mobile: one fails at the carrier, one is not a number at all, one has none
PEOPLE = (
    ("林小姐", "13800000001"),
    ("周先生", "13800000002"),  # MOBILE_NOT_ON_SERVICE in the delivery report
    ("吴女士", "12345"),  # Aliyun refuses the send: isv.MOBILE_NUMBER_ILLEGAL
    ("郑先生", None),
    ("王小姐", "13800000005"),
)
SENT_TO = ["13800000001", "13800000002", "13800000005"]


@pytest.fixture(scope="module")
def _sim_server() -> Iterator[SimServer]:
    # Receipts come only when a test flushes them.
    server = SimServer(SimConfig(report_delay=600.0))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sim(_sim_server: SimServer) -> Iterator[AliyunSmsSim]:
    _sim_server.reset()
    with httpx.Client(base_url=f"{_sim_server.base_url}/control", timeout=10) as control:
        control.post(
            "/outcomes", json={"fail_numbers": {"13800000002": "MOBILE_NOT_ON_SERVICE"}}
        ).raise_for_status()
        yield AliyunSmsSim(_sim_server, control)
    _sim_server.reset()


@pytest.fixture
def live_urls(
    engine: Engine, settings: Settings, workspace: WorkspaceFixture, sim: AliyunSmsSim
) -> Iterator[receipts.ReceiptUrls]:
    """The app on a real port, its receipt URLs for the workspace set in the simulator."""
    server = ThreadedServer(create_app(settings, engine=engine, run_worker=False))
    server.start()
    try:
        here = settings.model_copy(update={"base_url": server.base_url})
        urls = receipts.receipt_urls(here, workspace.id)
        sim.set_urls(urls.report_url, urls.uplink_url)
        yield urls
    finally:
        server.stop()


@pytest.fixture
def audience(engine: Engine, api: TestClient, workspace: WorkspaceFixture) -> dict[str, Any]:
    with unit_of_work(engine) as session:
        ids: dict[str, int] = {}
        for name, mobile in PEOPLE:
            customer = Customer(
                workspace_id=workspace.id, name=name, mobile=f"+86{mobile}" if mobile else None
            )
            session.add(customer)
            session.flush()
            ids[name] = customer.id
            if mobile and len(mobile) == 11:
                session.add(
                    Identity(
                        workspace_id=workspace.id,
                        customer_id=customer.id,
                        kind="mobile",
                        value=f"+86{mobile}",
                        source="import",
                    )
                )
    segment = api.post(
        "/api/v1/segments", json={"name": "积分到期会员", "kind": "static", "rule": None}
    ).json()
    added = api.post(
        f"/api/v1/segments/{segment['id']}/members", json={"customer_ids": list(ids.values())}
    )
    assert added.status_code == 200, added.text
    return {"ids": ids, "segment_id": segment["id"]}


def _account(api: TestClient, sim: AliyunSmsSim) -> None:
    response = api.put(
        "/api/v1/messaging/channels/sms",
        json={
            "config": {"base_url": sim.base_url, "access_key_id": sim.access_key_id},
            "secret": sim.access_key_secret,
        },
    )
    assert response.status_code == 200, response.text


def _broadcast(api: TestClient, segment_id: int, template: str = POINTS_EXPIRING) -> int:
    params = (
        {"name": "{客户昵称}", "points": "200", "date": "12月31日"}
        if template == POINTS_EXPIRING
        else {}
    )
    response = api.post(
        "/api/v1/broadcasts",
        json={
            "name": "积分到期提醒",
            "channel": "sms",
            "segment_id": segment_id,
            "content": {
                "sms": {"sign_name": "山茶集", "template_code": template, "params": params}
            },
        },
    )
    assert response.status_code == 201, response.text
    broadcast_id: int = response.json()["id"]
    sent = api.post(f"/api/v1/broadcasts/{broadcast_id}/send")
    assert sent.status_code == 200, sent.text
    return broadcast_id


def _results(api: TestClient, broadcast_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/broadcasts/{broadcast_id}/results")
    assert response.status_code == 200, response.text
    results: dict[str, Any] = response.json()
    return results


def _statuses(engine: Engine, broadcast_id: int) -> dict[int, tuple[str, str | None]]:
    with unit_of_work(engine, write=False) as session:
        rows = session.scalars(select(Delivery).where(Delivery.broadcast_id == broadcast_id))
        return {row.customer_id: (row.status, row.reason) for row in rows}


def test_each_customer_gets_one_sms_and_reports_show_delivered_and_failed_by_reason(
    api: TestClient,
    audience: dict[str, Any],
    sim: AliyunSmsSim,
    live_urls: receipts.ReceiptUrls,
    run_jobs: RunJobs,
) -> None:
    _account(api, sim)
    broadcast_id = _broadcast(api, audience["segment_id"])
    run_jobs()

    messages = sim.messages()
    assert sorted(m.phone_number for m in messages) == SENT_TO
    lin = next(m for m in messages if m.phone_number == "13800000001")
    assert lin.content.startswith("【山茶集】林小姐您好，您有200积分将于12月31日到期")
    assert sim.state.total_calls == 4  # the invalid number was refused once, never retried
    before = _results(api, broadcast_id)
    assert before["status"] == "completed"
    assert (before["counts"]["sent"], before["counts"]["delivered"]) == (3, 0)
    assert before["failed_by_reason"] == {"isv.MOBILE_NUMBER_ILLEGAL": 1}
    assert before["excluded_by_reason"] == {"no_address": 1}

    sim.control.post("/reports/flush").raise_for_status()
    sim.wait_for_pushes(1, "report")

    [push] = sim.state.pushes
    assert (push.status, push.attempts) == ("delivered", 1)  # our endpoint acknowledged it
    after = _results(api, broadcast_id)
    assert (after["counts"]["sent"], after["counts"]["delivered"]) == (0, 2)
    assert after["counts"]["failed"] == 2
    assert after["failed_by_reason"] == {
        "isv.MOBILE_NUMBER_ILLEGAL": 1,
        "MOBILE_NOT_ON_SERVICE": 1,
    }


def test_throttled_sends_are_retried_on_a_later_pass_and_invalid_numbers_are_final(
    api: TestClient,
    audience: dict[str, Any],
    sim: AliyunSmsSim,
    engine: Engine,
    run_jobs: RunJobs,
) -> None:
    _account(api, sim)
    sim.control.post("/faults", json={"throttle_burst": 2}).raise_for_status()
    broadcast_id = _broadcast(api, audience["segment_id"])
    run_jobs()

    first_pass = _statuses(engine, broadcast_id)
    throttled = [c for c, (s, r) in first_pass.items() if (s, r) == ("pending", "Throttling.User")]
    assert len(throttled) == 2
    assert _results(api, broadcast_id)["status"] == "sending"
    with unit_of_work(engine) as session:
        later = session.scalars(
            select(Job).where(Job.name == "messaging.send", Job.status == "queued")
        ).all()
        assert len(later) == 1
        assert later[0].run_at > utcnow()  # a later pass, not a hot loop
        session.execute(update(Job).where(Job.id == later[0].id).values(run_at=utcnow()))
    run_jobs()

    assert sorted(m.phone_number for m in sim.messages()) == SENT_TO
    assert sim.state.total_calls == 6  # 2 throttled calls, then one call per recipient
    ids = audience["ids"]
    final = _statuses(engine, broadcast_id)
    assert final[ids["吴女士"]] == ("failed", "isv.MOBILE_NUMBER_ILLEGAL")
    assert {final[ids[n]] for n in ("林小姐", "周先生", "王小姐")} == {("sent", None)}
    assert _results(api, broadcast_id)["status"] == "completed"


def test_a_t_reply_opts_out_and_the_next_broadcast_excludes_that_customer(
    api: TestClient,
    audience: dict[str, Any],
    sim: AliyunSmsSim,
    live_urls: receipts.ReceiptUrls,
    run_jobs: RunJobs,
) -> None:
    _account(api, sim)
    _broadcast(api, audience["segment_id"], NEW_PRODUCT)
    run_jobs()
    assert sorted(m.phone_number for m in sim.messages()) == SENT_TO

    sim.control.post(
        "/reply", json={"phone_number": "13800000001", "content": "T"}
    ).raise_for_status()
    sim.wait_for_pushes(1, "uplink")

    assert [p.status for p in sim.state.pushes if p.kind == "uplink"] == ["delivered"]
    preview = api.post(
        "/api/v1/broadcasts/eligibility",
        json={"channel": "sms", "segment_id": audience["segment_id"]},
    ).json()
    assert preview["excluded"] == {"opted_out": 1, "no_address": 1}
    second = _broadcast(api, audience["segment_id"], NEW_PRODUCT)
    run_jobs()
    phones = [m.phone_number for m in sim.messages()]
    assert phones.count("13800000001") == 1  # only the first broadcast reached 林小姐
    assert sorted(phones) == sorted([*SENT_TO, "13800000002", "13800000005"])
    assert _results(api, second)["excluded_by_reason"] == {"opted_out": 1, "no_address": 1}


def test_reports_pushed_to_a_forged_url_are_refused_and_change_nothing(
    api: TestClient,
    audience: dict[str, Any],
    sim: AliyunSmsSim,
    live_urls: receipts.ReceiptUrls,
    engine: Engine,
    run_jobs: RunJobs,
) -> None:
    _account(api, sim)
    broadcast_id = _broadcast(api, audience["segment_id"])
    run_jobs()
    token = live_urls.report_url.split("/")[-2]
    tail = "BBBB" if token.endswith("AAAA") else "AAAA"
    forged = live_urls.report_url.replace(token, token[:-4] + tail)
    sim.set_urls(report_url=forged)

    sim.control.post("/reports/flush").raise_for_status()
    sim.wait_for_attempts(1)

    [push] = sim.state.pushes
    assert push.status == "pending"  # not acknowledged: Aliyun would push it again later
    assert push.responses[0].startswith("403")
    statuses = _statuses(engine, broadcast_id)
    assert sorted(s for s, _ in statuses.values()) == [
        "excluded",
        "failed",
        "sent",
        "sent",
        "sent",
    ]


def _waits(engine: Engine) -> float:
    """Seconds until the send pass queued for later is due."""
    with unit_of_work(engine, write=False) as session:
        [later] = session.scalars(
            select(Job).where(Job.name == "messaging.send", Job.status == "queued")
        ).all()
        return (later.run_at - utcnow()).total_seconds()


def _next_pass(engine: Engine, run_jobs: RunJobs) -> None:
    with unit_of_work(engine) as session:
        session.execute(
            update(Job)
            .where(Job.name == "messaging.send", Job.status == "queued")
            .values(run_at=utcnow())
        )
    run_jobs()


def _details(engine: Engine, broadcast_id: int) -> dict[int, str | None]:
    with unit_of_work(engine, write=False) as session:
        rows = session.scalars(select(Delivery).where(Delivery.broadcast_id == broadcast_id))
        return {row.customer_id: row.detail for row in rows}


def test_a_number_over_its_flow_control_is_retried_after_the_window_with_the_reason_shown(
    api: TestClient,
    audience: dict[str, Any],
    sim: AliyunSmsSim,
    engine: Engine,
    run_jobs: RunJobs,
) -> None:
    _account(api, sim)
    sim.reset(flow_limits={1: (FlowLimit(86400, 1, "天级"),)})
    sim.control.post(
        "/outcomes", json={"fail_numbers": {"13800000002": "MOBILE_NOT_ON_SERVICE"}}
    ).raise_for_status()

    async def earlier_today() -> None:
        async with sim.client() as client:
            values = {"name": "林小姐", "points": "100", "date": "12月1日"}
            sent = await client.send_sms("13800000001", "山茶集", POINTS_EXPIRING, values, "x")
            assert sent.ok

    asyncio.run(earlier_today())
    broadcast_id = _broadcast(api, audience["segment_id"])
    run_jobs()

    ids = audience["ids"]
    statuses = _statuses(engine, broadcast_id)
    assert statuses[ids["林小姐"]] == ("pending", "isv.BUSINESS_LIMIT_CONTROL")
    assert statuses[ids["吴女士"]] == ("failed", "isv.MOBILE_NUMBER_ILLEGAL")  # final at once
    details = _details(engine, broadcast_id)
    assert "号码级流控" in (details[ids["林小姐"]] or "")
    assert "手机号码格式不正确" in (details[ids["吴女士"]] or "")
    assert 86399 <= _waits(engine) <= 86400  # the day's window Aliyun named

    sim.state.advance(86401)
    _next_pass(engine, run_jobs)

    assert _statuses(engine, broadcast_id)[ids["林小姐"]] == ("sent", None)
    results = _results(api, broadcast_id)
    assert results["status"] == "completed"
    assert results["failed_by_reason"] == {"isv.MOBILE_NUMBER_ILLEGAL": 1}


def test_an_empty_balance_pauses_the_broadcast_until_a_top_up(
    api: TestClient,
    audience: dict[str, Any],
    sim: AliyunSmsSim,
    engine: Engine,
    run_jobs: RunJobs,
) -> None:
    _account(api, sim)
    sim.control.post("/faults", json={"balance_segments": 0}).raise_for_status()
    broadcast_id = _broadcast(api, audience["segment_id"])
    run_jobs()

    ids = audience["ids"]
    statuses = _statuses(engine, broadcast_id)
    waiting = [ids[n] for n in ("林小姐", "周先生", "王小姐")]
    assert {statuses[c] for c in waiting} == {("pending", "isv.AMOUNT_NOT_ENOUGH")}
    assert "充值" in (_details(engine, broadcast_id)[ids["林小姐"]] or "")
    assert 599 <= _waits(engine) <= 750
    assert sim.messages() == []

    sim.control.post("/faults", json={"unlimited_balance": True}).raise_for_status()
    _next_pass(engine, run_jobs)

    assert sorted(m.phone_number for m in sim.messages()) == SENT_TO
    assert _results(api, broadcast_id)["status"] == "completed"
