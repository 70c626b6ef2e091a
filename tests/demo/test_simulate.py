"""Demo-only "模拟员工确认": the WeCom simulator confirms a broadcast's waiting staff tasks
over real HTTP, and the poll job settles the deliveries from the simulator's send results."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.app import create_app
from siyu.config import Mode, Settings
from siyu.connectors.wecom import sync_jobs
from siyu.connectors.wecom_sim import WecomSim
from siyu.models import Customer, Delivery
from tests.conftest import WorkspaceFixture
from tests.connectors.wecom.sync_helpers import connect_to_sim

RunJobs = Callable[[], int]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(mode=Mode.DEMO, data_dir=tmp_path / "data", worker_in_process=False)


def _waiting_broadcast(
    api: TestClient,
    db: Session,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
) -> dict[str, Any]:
    """A synced corp and a WeCom 1:1 broadcast to all of it, its tasks created and waiting."""
    wecom_sim.reset(staff=3, contacts=12)
    connect_to_sim(db, workspace.id, wecom_sim)
    sync_jobs.start_run(db, workspace.id, "full")
    db.commit()
    run_jobs()
    customer_ids = list(
        db.scalars(select(Customer.id).where(Customer.workspace_id == workspace.id))
    )
    db.commit()  # end the read: on SQLite it holds the write lock the API needs
    assert customer_ids
    segment = api.post(
        "/api/v1/segments", json={"name": "企微好友", "kind": "static", "rule": None}
    ).json()
    added = api.post(
        f"/api/v1/segments/{segment['id']}/members", json={"customer_ids": customer_ids}
    )
    assert added.status_code == 200, added.text
    created = api.post(
        "/api/v1/broadcasts",
        json={
            "name": "新品龙井上市",
            "channel": "wecom",
            "segment_id": segment["id"],
            "content": {"text": "您好，我是{员工姓名}，明前龙井到店了"},
        },
    )
    assert created.status_code == 201, created.text
    broadcast: dict[str, Any] = created.json()
    sent = api.post(f"/api/v1/broadcasts/{broadcast['id']}/send")
    assert sent.status_code == 200, sent.text
    run_jobs()
    results: dict[str, Any] = api.get(f"/api/v1/broadcasts/{broadcast['id']}/results").json()
    assert results["status"] == "waiting"
    assert results["tasks"]
    assert {t["status"] for t in results["tasks"]} == {"waiting"}
    return results


def _delivery_statuses(db: Session, broadcast_id: int) -> dict[int | None, set[str]]:
    db.expire_all()
    by_staff: dict[int | None, set[str]] = {}
    for staff_id, status in db.execute(
        select(Delivery.staff_id, Delivery.status).where(
            Delivery.broadcast_id == broadcast_id, Delivery.status != "excluded"
        )
    ):
        by_staff.setdefault(staff_id, set()).add(status)
    db.commit()
    return by_staff


def test_simulated_staff_confirm_sends_their_customers_and_completes_the_broadcast(
    api: TestClient,
    db: Session,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
) -> None:
    results = _waiting_broadcast(api, db, workspace, wecom_sim, run_jobs)
    broadcast_id = results["broadcast_id"]
    first, *others = results["tasks"]
    assert others, "the corp's customers follow more than one staff member"

    one = api.post(
        f"/api/v1/demo/wecom/broadcasts/{broadcast_id}/confirm",
        json={"staff_id": first["staff_id"]},
    )
    assert one.status_code == 200, one.text
    assert one.json()["confirmed_tasks"] == 1
    assert one.json()["sent"] == first["recipient_count"]
    run_jobs()
    statuses = _delivery_statuses(db, broadcast_id)
    assert statuses[first["staff_id"]] == {"sent"}
    assert all(statuses[t["staff_id"]] == {"sending"} for t in others)
    assert api.get(f"/api/v1/broadcasts/{broadcast_id}").json()["status"] == "waiting"

    rest = api.post(f"/api/v1/demo/wecom/broadcasts/{broadcast_id}/confirm", json={})
    assert rest.status_code == 200, rest.text
    assert rest.json()["confirmed_tasks"] == len(others)
    run_jobs()
    after = api.get(f"/api/v1/broadcasts/{broadcast_id}/results").json()
    assert after["status"] == "completed"
    assert {t["status"] for t in after["tasks"]} == {"sent"}
    assert after["counts"]["sent"] == after["counts"]["planned"] > 0
    assert all(s == {"sent"} for s in _delivery_statuses(db, broadcast_id).values())

    again = api.post(f"/api/v1/demo/wecom/broadcasts/{broadcast_id}/confirm", json={})
    assert again.status_code == 409
    assert "waiting" in again.json()["error"]["message"]


def test_a_task_already_tapped_in_the_simulator_is_still_picked_up_by_the_poll(
    api: TestClient,
    db: Session,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
) -> None:
    results = _waiting_broadcast(api, db, workspace, wecom_sim, run_jobs)
    task = results["tasks"][0]
    tapped = wecom_sim.control.post(
        "/groupmsg/confirm", json={"msgid": task["msgid"], "userid": task["userid"]}
    )
    assert tapped.status_code == 200, tapped.text

    response = api.post(
        f"/api/v1/demo/wecom/broadcasts/{results['broadcast_id']}/confirm",
        json={"staff_id": task["staff_id"]},
    )

    assert response.status_code == 200, response.text
    assert response.json()["already_confirmed"] == 1
    assert response.json()["confirmed_tasks"] == 0
    run_jobs()
    assert _delivery_statuses(db, results["broadcast_id"])[task["staff_id"]] == {"sent"}


def test_a_staff_member_without_a_waiting_task_is_refused_naming_the_field(
    api: TestClient,
    db: Session,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
) -> None:
    results = _waiting_broadcast(api, db, workspace, wecom_sim, run_jobs)
    staff_ids = {t["staff_id"] for t in results["tasks"]}

    response = api.post(
        f"/api/v1/demo/wecom/broadcasts/{results['broadcast_id']}/confirm",
        json={"staff_id": max(staff_ids) + 1000},
    )

    assert response.status_code == 409
    assert response.json()["error"]["details"]["field"] == "staff_id"


def test_another_workspaces_broadcast_is_not_found(
    api: TestClient,
    db: Session,
    workspace: WorkspaceFixture,
    make_workspace: Callable[..., WorkspaceFixture],
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
) -> None:
    results = _waiting_broadcast(api, db, workspace, wecom_sim, run_jobs)
    other = make_workspace()

    response = api.post(
        f"/api/v1/demo/wecom/broadcasts/{results['broadcast_id']}/confirm",
        json={},
        headers=other.headers,
    )

    assert response.status_code == 404
    assert {
        t["status"]
        for t in api.get(f"/api/v1/broadcasts/{results['broadcast_id']}/results").json()["tasks"]
    } == {"waiting"}


@pytest.fixture
def dev_app(engine: Engine, tmp_path: Path) -> FastAPI:
    return create_app(
        Settings(mode=Mode.DEV, data_dir=tmp_path / "dev", worker_in_process=False),
        engine=engine,
        run_worker=False,
    )


def test_outside_demo_mode_the_endpoint_does_not_exist(
    dev_app: FastAPI, workspace: WorkspaceFixture
) -> None:
    with TestClient(dev_app) as client:
        response = client.post(
            "/api/v1/demo/wecom/broadcasts/1/confirm", json={}, headers=workspace.headers
        )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
