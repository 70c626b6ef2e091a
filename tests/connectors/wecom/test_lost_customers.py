"""Lost customers: recorded by the delete callbacks, listed by the API, leaders alerted;
and the sync API itself (start, one at a time, history)."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.connectors.wecom import handlers
from siyu.connectors.wecom.events import CallbackEvent, EventHandler
from siyu.connectors.wecom_sim import WecomSim
from siyu.models import Schedule
from tests.conftest import WorkspaceFixture
from tests.connectors.wecom.sync_helpers import connect_to_sim

SYNC = "/api/v1/wecom/sync"
LOST = "/api/v1/wecom/lost-customers"


def _event(change_type: str, userid: str, external_userid: str, at: datetime) -> CallbackEvent:
    return CallbackEvent(
        event="change_external_contact",
        change_type=change_type,
        create_time=at,
        fields={"UserID": userid, "ExternalUserID": external_userid, "ChangeType": change_type},
    )


async def _call(
    handler: EventHandler, db: Session, workspace_id: int, event: CallbackEvent
) -> None:
    await handler(db, workspace_id, event)


def _synced(api: TestClient, run_jobs: Callable[[], int]) -> None:
    started = api.post(SYNC)
    assert started.status_code == 202, started.text
    run_jobs()


def test_sync_api_runs_one_sync_at_a_time_and_lists_history(
    api: TestClient,
    wecom_sim: WecomSim,
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    connect_to_sim(db, workspace.id, wecom_sim)
    first = api.post(SYNC)
    assert first.status_code == 202
    assert first.json()["status"] == "queued"

    assert api.post("/api/v1/wecom/reconcile").status_code == 409
    run_jobs()

    runs = api.get(f"{SYNC}/runs").json()
    assert [(r["kind"], r["status"]) for r in runs] == [("full", "succeeded")]
    assert runs[0]["counts"]["contacts"] == len(wecom_sim.state.follows)
    assert api.post("/api/v1/wecom/reconcile").status_code == 202
    schedule = db.scalar(select(Schedule).where(Schedule.workspace_id == workspace.id))
    assert schedule is not None
    assert (schedule.job_name, schedule.cron) == ("wecom.reconcile", "30 3 * * *")


def test_lost_customers_are_listed_filtered_paged_and_leaders_alerted(
    api: TestClient,
    wecom_sim: WecomSim,
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    connect_to_sim(db, workspace.id, wecom_sim)
    _synced(api, run_jobs)
    with wecom_sim.state.lock:
        (u1, e1), (u2, e2) = sorted(wecom_sim.state.follows)[:2]
        department = wecom_sim.state.members[u1].main_department
        wecom_sim.state.departments[department].department_leader = ["boss"]
    wecom_sim.control.post("/customer-deletes-staff", json={"userid": u1, "external_userid": e1})
    wecom_sim.control.post("/staff-deletes-customer", json={"userid": u2, "external_userid": e2})
    t1 = datetime(2026, 11, 1, 9, tzinfo=UTC)
    t2 = datetime(2026, 11, 2, 9, tzinfo=UTC)
    for event, handler in (
        (_event("del_follow_user", u1, e1, t1), handlers.customer_deleted_staff),
        (_event("del_external_contact", u2, e2, t2), handlers.staff_deleted_customer),
        (_event("del_follow_user", u1, e1, t1), handlers.customer_deleted_staff),  # repeated
    ):
        asyncio.run(_call(handler, db, workspace.id, event))
        db.commit()
    run_jobs()

    listed = api.get(LOST).json()["items"]
    assert [(i["deleted_by"], i["occurred_at"][:10]) for i in listed] == [
        ("staff", "2026-11-02"),
        ("customer", "2026-11-01"),
    ]
    by_customer = api.get(LOST, params={"deleted_by": "customer"}).json()["items"]
    assert len(by_customer) == 1
    assert by_customer[0]["alerted_userids"] == ["boss"]
    assert by_customer[0]["alerted_at"] is not None
    assert by_customer[0]["department_id"] is not None
    dept = api.get(LOST, params={"department_id": by_customer[0]["department_id"]}).json()
    assert by_customer[0]["id"] in [i["id"] for i in dept["items"]]
    staff = api.get(LOST, params={"staff_id": listed[0]["staff_id"]}).json()["items"]
    assert listed[0]["id"] in [i["id"] for i in staff]
    window = api.get(LOST, params={"since": "2026-11-02T00:00:00Z"}).json()["items"]
    assert [i["deleted_by"] for i in window] == ["staff"]
    first = api.get(LOST, params={"limit": 1}).json()
    second = api.get(LOST, params={"limit": 1, "cursor": first["next_cursor"]}).json()
    assert [first["items"][0]["id"], second["items"][0]["id"]] == [i["id"] for i in listed]
    assert second["next_cursor"] is None
