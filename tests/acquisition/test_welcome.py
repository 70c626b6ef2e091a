"""End to end: a simulated customer scans a live code; WeCom's callback reaches Siyu."""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.acquisition import roster, service
from siyu.connectors.wecom_sim import WecomSim
from siyu.connectors.wecom_sim.server import ThreadedServer
from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.models import Customer, CustomerTag, FollowRelation, Identity, Job, LiveCodeAdd
from siyu.worker.queue import enqueue
from siyu.worker.runner import Runner
from tests.acquisition.conftest import Corp, create_code
from tests.conftest import WorkspaceFixture


@pytest.fixture
def receiving(
    wecom_sim: WecomSim, corp: Corp, siyu_server: ThreadedServer, workspace: WorkspaceFixture
) -> None:
    """The simulator pushes its callbacks to Siyu's callback URL."""
    registered = wecom_sim.control.post(
        "/callback",
        json={
            "url": f"{siyu_server.base_url}/wecom/callback/{workspace.slug}",
            "token": corp.callback_token,
            "encoding_aes_key": corp.encoding_aes_key,
            "verify": True,
        },
    )
    assert registered.json()["verified"] is True


def _scan(wecom_sim: WecomSim, code: dict[str, Any], name: str = "陈女士") -> dict[str, Any]:
    before = len(wecom_sim.state.pushes)
    response = wecom_sim.control.post("/scan", json={"config_id": code["config_id"], "name": name})
    response.raise_for_status()
    wecom_sim.wait_for_pushes(before + 1)
    result: dict[str, Any] = response.json()
    return result


def _customer_id(engine: Engine, workspace_id: int, external_userid: str) -> int:
    with unit_of_work(engine) as session:
        customer_id = session.scalar(
            select(Identity.customer_id).where(
                Identity.workspace_id == workspace_id,
                Identity.kind == "wecom_external_userid",
                Identity.value == external_userid,
            )
        )
    assert customer_id is not None
    return int(customer_id)


def _adds(api: TestClient, code: dict[str, Any]) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/live-codes/{code['id']}/adds")
    assert response.status_code == 200, response.text
    adds: list[dict[str, Any]] = response.json()
    return adds


@pytest.mark.usefixtures("receiving")
def test_scanned_customer_arrives_with_channel_staff_tags_remark_and_welcome(
    api: TestClient,
    corp: Corp,
    wecom_sim: WecomSim,
    engine: Engine,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    group = api.post("/api/v1/tag-groups", json={"name": "渠道"}).json()["id"]
    tag = api.post(f"/api/v1/tag-groups/{group}/tags", json={"name": "门店海报"}).json()["id"]
    code = create_code(
        api,
        [{"staff_id": corp.staff_ids[0]}],
        tag_ids=[tag],
        remark_template="{渠道}-{客户昵称}",
        welcome={
            "text": "{客户昵称}您好，我是{员工姓名}",
            "attachments": [
                {"msgtype": "link", "link": {"title": "会员权益", "url": "https://example.com/vip"}}
            ],
        },
    )

    scanned = _scan(wecom_sim, code)
    run_jobs()

    customer_id = _customer_id(engine, workspace.id, scanned["external_userid"])
    with unit_of_work(engine) as session:
        relation = session.scalars(
            select(FollowRelation).where(FollowRelation.customer_id == customer_id)
        ).one()
        customer = session.get(Customer, customer_id)
        tags = session.scalars(
            select(CustomerTag.tag_id).where(CustomerTag.customer_id == customer_id)
        ).all()
    staff_name = wecom_sim.state.members[corp.userids[0]].name
    assert relation.staff_id == corp.staff_ids[0]
    assert relation.state == code["state"]
    assert relation.remark == "线下门店-陈女士"
    assert customer is not None
    assert customer.source == "线下门店"
    assert tag in tags
    follow = wecom_sim.state.follows[(corp.userids[0], scanned["external_userid"])]
    assert follow.remark == "线下门店-陈女士"
    [sent] = wecom_sim.state.welcome_messages
    assert sent.welcome_code == scanned["welcome_code"]
    assert sent.text == {"content": f"陈女士您好，我是{staff_name}"}
    assert sent.attachments == [
        {"msgtype": "link", "link": {"title": "会员权益", "url": "https://example.com/vip"}}
    ]
    [add] = _adds(api, code)
    assert (add["welcome_status"], add["welcome_error"]) == ("sent", None)
    listed = api.get("/api/v1/live-codes").json()
    assert (listed[0]["adds_today"], listed[0]["adds_total"]) == (1, 1)


@pytest.mark.usefixtures("receiving")
def test_expired_welcome_code_is_recorded_as_failed_with_wecoms_reason(
    api: TestClient, corp: Corp, wecom_sim: WecomSim, engine: Engine, run_jobs: Callable[[], int]
) -> None:
    code = create_code(api, [{"staff_id": corp.staff_ids[0]}], welcome={"text": "欢迎"})

    _scan(wecom_sim, code)
    wecom_sim.control.post("/clock/advance", json={"seconds": 25}).raise_for_status()
    run_jobs()

    [add] = _adds(api, code)
    assert add["welcome_status"] == "failed"
    assert add["welcome_errcode"] == 41050
    assert "41050" in add["welcome_error"]
    assert wecom_sim.state.welcome_messages == []
    with unit_of_work(engine) as session:
        welcome_jobs = session.scalars(
            select(Job).where(Job.name == service.SEND_WELCOME_JOB)
        ).all()
    assert [(j.status, j.attempts) for j in welcome_jobs] == [("succeeded", 1)]
    stats = api.get(f"/api/v1/live-codes/{code['id']}/stats").json()
    assert (stats["welcome_sent"], stats["welcome_failed"]) == (0, 1)


@pytest.mark.usefixtures("receiving")
def test_welcome_goes_out_while_the_default_lane_is_busy(
    api: TestClient, corp: Corp, wecom_sim: WecomSim, engine: Engine, workspace: WorkspaceFixture
) -> None:
    code = create_code(api, [{"staff_id": corp.staff_ids[0]}], welcome={"text": "欢迎"})
    with unit_of_work(engine) as session:
        for _ in range(20):
            enqueue(
                session,
                roster.REFRESH_JOB,
                workspace_id=workspace.id,
            )

    _scan(wecom_sim, code)
    Runner(engine, lease_seconds=30, lane="realtime").run_until_idle()

    assert len(wecom_sim.state.welcome_messages) == 1
    with unit_of_work(engine) as session:
        waiting = session.scalars(
            select(Job.status).where(Job.name == roster.REFRESH_JOB, Job.lane == "default")
        ).all()
    assert waiting.count("queued") >= 20


@pytest.mark.usefixtures("receiving")
def test_code_without_welcome_uses_the_workspace_default_else_skips_with_a_reason(
    api: TestClient, corp: Corp, wecom_sim: WecomSim, run_jobs: Callable[[], int]
) -> None:
    code = create_code(api, [{"staff_id": corp.staff_ids[0]}])

    _scan(wecom_sim, code, name="王先生")
    run_jobs()
    api.put("/api/v1/live-codes/default-welcome", json={"text": "默认欢迎 {客户昵称}"})
    _scan(wecom_sim, code, name="李女士")
    run_jobs()

    second, first = _adds(api, code)
    assert first["welcome_status"] == "skipped"
    assert "no welcome message" in first["welcome_error"]
    assert second["welcome_status"] == "sent"
    assert [m.text for m in wecom_sim.state.welcome_messages] == [{"content": "默认欢迎 李女士"}]


@pytest.mark.usefixtures("receiving")
def test_round_robin_code_moves_to_the_next_staff_member_after_each_add(
    api: TestClient, corp: Corp, wecom_sim: WecomSim, run_jobs: Callable[[], int]
) -> None:
    code = create_code(
        api,
        [{"staff_id": corp.staff_ids[0]}, {"staff_id": corp.staff_ids[1]}],
        code_type="multi",
    )
    way = wecom_sim.state.contact_ways[code["config_id"]]

    first = _scan(wecom_sim, code, name="甲")
    run_jobs()
    after_first = list(way.user)
    second = _scan(wecom_sim, code, name="乙")
    run_jobs()

    assert first["userid"] == corp.userids[0]
    assert after_first == [corp.userids[1]]
    assert second["userid"] == corp.userids[1]
    assert way.user == [corp.userids[0]]
    per_staff = api.get(f"/api/v1/live-codes/{code['id']}/stats").json()["per_staff"]
    assert sorted((s["staff_id"], s["adds"]) for s in per_staff) == [
        (corp.staff_ids[0], 1),
        (corp.staff_ids[1], 1),
    ]


@pytest.mark.usefixtures("receiving")
def test_daily_cap_hands_the_code_to_the_backup(
    api: TestClient, corp: Corp, wecom_sim: WecomSim, run_jobs: Callable[[], int]
) -> None:
    code = create_code(
        api,
        [
            {"staff_id": corp.staff_ids[0], "daily_cap": 1},
            {"staff_id": corp.staff_ids[2], "is_backup": True},
        ],
    )

    _scan(wecom_sim, code)
    run_jobs()

    assert wecom_sim.state.contact_ways[code["config_id"]].user == [corp.userids[2]]
    staff = api.get(f"/api/v1/live-codes/{code['id']}").json()["staff"]
    listed = api.get("/api/v1/live-codes").json()[0]["staff"]
    assert [(s["on_duty"], s["adds_today"]) for s in staff] == [(False, 1), (True, 0)]
    assert listed == staff


@pytest.mark.usefixtures("receiving")
def test_customer_deleting_the_staff_member_counts_as_a_loss(
    api: TestClient,
    corp: Corp,
    wecom_sim: WecomSim,
    engine: Engine,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    code = create_code(api, [{"staff_id": corp.staff_ids[0]}])
    scanned = _scan(wecom_sim, code)
    run_jobs()

    before = len(wecom_sim.state.pushes)
    wecom_sim.control.post(
        "/customer-deletes-staff",
        json={"userid": scanned["userid"], "external_userid": scanned["external_userid"]},
    ).raise_for_status()
    wecom_sim.wait_for_pushes(before + 1)
    run_jobs()

    stats = api.get(f"/api/v1/live-codes/{code['id']}/stats").json()
    assert (stats["total_adds"], stats["losses"]) == (1, 1)
    assert stats["per_day"][-1]["adds"] == 1
    assert stats["per_day"][-1]["losses"] == 1
    assert stats["retention_7d"] == {"eligible": 0, "retained": 0, "rate": None}
    assert _adds(api, code)[0]["lost_at"] is None
    with unit_of_work(engine) as session:
        refreshed = asyncio.run(roster.refresh_codes(session, workspace.id))
    assert refreshed["losses"] == 1
    assert _adds(api, code)[0]["lost_at"] is not None
    again = api.get(f"/api/v1/live-codes/{code['id']}/stats").json()
    assert (again["total_adds"], again["losses"]) == (1, 1)


def test_repeated_new_contact_records_one_add(
    api: TestClient, corp: Corp, engine: Engine, workspace: WorkspaceFixture
) -> None:
    code = create_code(api, [{"staff_id": corp.staff_ids[0]}], welcome={"text": "欢迎"})
    customer = api.post("/api/v1/customers", json={"name": "赵女士"}).json()["customer"]["id"]

    for _ in range(2):
        with unit_of_work(engine) as session:
            service.handle_new_contact(
                session,
                workspace_id=workspace.id,
                customer_id=customer,
                staff_id=corp.staff_ids[0],
                external_userid="wmREPEATED",
                state=code["state"],
                welcome_code="CODE1",
            )

    with unit_of_work(engine) as session:
        adds = session.scalars(select(LiveCodeAdd)).all()
        welcome_jobs = session.scalars(
            select(Job).where(Job.name == service.SEND_WELCOME_JOB)
        ).all()
    assert len(adds) == 1
    assert len(welcome_jobs) == 1
    assert welcome_jobs[0].lane == "realtime"


def test_unknown_state_is_not_a_live_code_add(
    api: TestClient, corp: Corp, engine: Engine, workspace: WorkspaceFixture
) -> None:
    customer = api.post("/api/v1/customers", json={"name": "赵女士"}).json()["customer"]["id"]

    with unit_of_work(engine) as session:
        service.handle_new_contact(
            session,
            workspace_id=workspace.id,
            customer_id=customer,
            staff_id=corp.staff_ids[0],
            external_userid="wmOTHER",
            state="poster-2024",
            welcome_code="CODE2",
        )

    with unit_of_work(engine) as session:
        assert session.scalars(select(LiveCodeAdd)).all() == []


def _system_busy_on_welcome(wecom_sim: WecomSim) -> None:
    wecom_sim.control.post(
        "/faults",
        json={
            "burst_45009": 1,
            "burst_errcode": -1,
            "burst_path": "externalcontact/send_welcome_msg",
        },
    ).raise_for_status()


@pytest.mark.usefixtures("receiving")
def test_system_busy_is_retried_while_the_welcome_code_is_valid(
    api: TestClient, corp: Corp, wecom_sim: WecomSim, engine: Engine, run_jobs: Callable[[], int]
) -> None:
    code = create_code(api, [{"staff_id": corp.staff_ids[0]}], welcome={"text": "欢迎"})
    _system_busy_on_welcome(wecom_sim)

    _scan(wecom_sim, code)
    run_jobs()
    [waiting] = _adds(api, code)
    with unit_of_work(engine) as session:
        job = session.scalars(select(Job).where(Job.name == service.SEND_WELCOME_JOB)).one()
        retry = (job.status, job.attempts)
        job.run_at = utcnow()
    run_jobs()

    assert waiting["welcome_status"] == "pending"
    assert retry == ("queued", 1)
    assert _adds(api, code)[0]["welcome_status"] == "sent"
    assert len(wecom_sim.state.welcome_messages) == 1


@pytest.mark.usefixtures("receiving")
def test_failure_after_the_welcome_window_is_recorded_not_retried(
    api: TestClient, corp: Corp, wecom_sim: WecomSim, engine: Engine, run_jobs: Callable[[], int]
) -> None:
    code = create_code(api, [{"staff_id": corp.staff_ids[0]}], welcome={"text": "欢迎"})
    _system_busy_on_welcome(wecom_sim)
    _scan(wecom_sim, code)
    runner = Runner(engine, lease_seconds=30, lane="realtime")
    runner.run_once()  # the callback: the customer arrives and the welcome job is queued
    with unit_of_work(engine) as session:
        for row in session.scalars(select(LiveCodeAdd)):
            row.added_at -= timedelta(seconds=30)

    run_jobs()

    [add] = _adds(api, code)
    assert (add["welcome_status"], add["welcome_errcode"]) == ("failed", -1)
    with unit_of_work(engine) as session:
        job = session.scalars(select(Job).where(Job.name == service.SEND_WELCOME_JOB)).one()
    assert (job.status, job.attempts) == ("succeeded", 1)


@pytest.mark.usefixtures("receiving")
def test_demo_scan_button_makes_a_simulated_customer_arrive(
    api: TestClient,
    corp: Corp,
    wecom_sim: WecomSim,
    engine: Engine,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    code = create_code(api, [{"staff_id": corp.staff_ids[0]}], welcome={"text": "欢迎"})

    outside_demo = api.post(f"/api/v1/live-codes/{code['id']}/simulate-scan", json={})
    with unit_of_work(engine) as session:
        scanned = asyncio.run(
            service.simulate_scan(session, workspace.id, code["id"], name="演示客户", demo=True)
        )
    wecom_sim.wait_for_pushes(1)
    run_jobs()

    assert outside_demo.status_code == 404
    assert scanned.userid == corp.userids[0]
    assert wecom_sim.state.contacts[scanned.external_userid].name == "演示客户"
    [add] = _adds(api, code)
    assert add["welcome_status"] == "sent"


def test_welcome_jobs_of_a_customer_deleted_meanwhile_end_quietly(
    api: TestClient,
    corp: Corp,
    wecom_sim: WecomSim,
    engine: Engine,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    code = create_code(api, [{"staff_id": corp.staff_ids[0]}], welcome={"text": "欢迎"})
    customer = api.post("/api/v1/customers", json={"name": "赵女士"}).json()["customer"]["id"]
    with unit_of_work(engine) as session:
        service.handle_new_contact(
            session,
            workspace_id=workspace.id,
            customer_id=customer,
            staff_id=corp.staff_ids[0],
            external_userid="wmGONE",
            state=code["state"],
            welcome_code="CODE3",
        )

    deleted = api.delete(f"/api/v1/customers/{customer}")
    run_jobs()

    assert deleted.status_code == 204, deleted.text
    with unit_of_work(engine) as session:
        jobs = session.scalars(select(Job).where(Job.name.like("acquisition.%"))).all()
    assert {(j.name, j.status, str(j.result)) for j in jobs} >= {
        (service.SEND_WELCOME_JOB, "succeeded", "{'welcome_status': 'gone'}"),
        (service.AFTER_ADD_JOB, "succeeded", "{'add': 'gone'}"),
    }
    assert wecom_sim.state.welcome_messages == []


def test_add_without_a_welcome_code_is_skipped_saying_why(
    api: TestClient, corp: Corp, engine: Engine, workspace: WorkspaceFixture
) -> None:
    code = create_code(api, [{"staff_id": corp.staff_ids[0]}], welcome={"text": "欢迎"})
    customer = api.post("/api/v1/customers", json={"name": "钱先生"}).json()["customer"]["id"]

    with unit_of_work(engine) as session:
        service.handle_new_contact(
            session,
            workspace_id=workspace.id,
            customer_id=customer,
            staff_id=corp.staff_ids[0],
            external_userid="wmNOCODE",
            state=code["state"],
            welcome_code=None,
        )

    [add] = _adds(api, code)
    assert add["welcome_status"] == "skipped"
    assert "no welcome code" in add["welcome_error"]
    with unit_of_work(engine) as session:
        assert session.scalars(select(Job).where(Job.name == service.SEND_WELCOME_JOB)).all() == []
