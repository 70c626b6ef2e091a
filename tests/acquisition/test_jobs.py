"""The scheduled re-evaluation of live code rosters, and per-code statistics over time."""

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.acquisition import roster
from siyu.connectors.wecom_sim import WecomSim
from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.models import Job, LiveCodeAdd, Schedule
from siyu.worker.runner import Runner
from tests.acquisition.conftest import Corp, create_code
from tests.conftest import WorkspaceFixture

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
MONDAY_20 = datetime(2026, 11, 23, 20, 0, tzinfo=SHANGHAI)
SATURDAY_10 = datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)
OFFICE = [{"weekdays": [1, 2, 3, 4, 5], "ranges": [["09:00", "18:00"]]}]


def _refresh(engine: Engine, workspace_id: int, now: datetime) -> dict[str, int]:
    with unit_of_work(engine) as session:
        return asyncio.run(roster.refresh_codes(session, workspace_id, now=now))


def test_refresh_hands_the_code_to_the_backup_off_shift_and_back(
    api: TestClient, corp: Corp, wecom_sim: WecomSim, engine: Engine, workspace: WorkspaceFixture
) -> None:
    code = create_code(
        api,
        [
            {"staff_id": corp.staff_ids[0], "schedule": OFFICE},
            {"staff_id": corp.staff_ids[1], "is_backup": True},
        ],
    )
    way = wecom_sim.state.contact_ways[code["config_id"]]

    _refresh(engine, workspace.id, SATURDAY_10)
    on_saturday = list(way.user)
    _refresh(engine, workspace.id, MONDAY_10)
    unchanged = _refresh(engine, workspace.id, MONDAY_10)

    assert on_saturday == [corp.userids[1]]
    assert way.user == [corp.userids[0]]
    assert unchanged["updated"] == 0
    staff = api.get(f"/api/v1/live-codes/{code['id']}").json()["staff"]
    assert [s["on_duty"] for s in staff] == [True, False]


def test_skip_verify_follows_its_daily_window(
    api: TestClient, corp: Corp, wecom_sim: WecomSim, engine: Engine, workspace: WorkspaceFixture
) -> None:
    code = create_code(
        api,
        [{"staff_id": corp.staff_ids[0]}],
        skip_verify_from="09:00",
        skip_verify_to="18:00",
    )
    way = wecom_sim.state.contact_ways[code["config_id"]]

    _refresh(engine, workspace.id, MONDAY_20)
    evening = way.skip_verify
    _refresh(engine, workspace.id, MONDAY_10)

    assert evening is False
    assert way.skip_verify is True


def test_wecom_refusing_an_update_is_shown_on_the_code(
    api: TestClient, corp: Corp, wecom_sim: WecomSim, engine: Engine, workspace: WorkspaceFixture
) -> None:
    code = create_code(
        api,
        [
            {"staff_id": corp.staff_ids[0], "schedule": OFFICE},
            {"staff_id": corp.staff_ids[1], "is_backup": True},
        ],
    )
    _refresh(engine, workspace.id, MONDAY_10)
    wecom_sim.state.members[corp.userids[1]].status = 4

    result = _refresh(engine, workspace.id, SATURDAY_10)

    assert result["failed"] == 1
    listed = api.get("/api/v1/live-codes").json()
    assert listed[0]["sync_error"]
    assert wecom_sim.state.contact_ways[code["config_id"]].user == [corp.userids[0]]


def test_creating_a_code_registers_the_refresh_schedule_that_the_worker_runs(
    api: TestClient, corp: Corp, engine: Engine, workspace: WorkspaceFixture
) -> None:
    create_code(api, [{"staff_id": corp.staff_ids[0]}])
    create_code(api, [{"staff_id": corp.staff_ids[1]}])

    runner = Runner(engine, lease_seconds=30, lane=None)
    runner.enqueue_due_schedules()
    runner.run_until_idle()

    with unit_of_work(engine) as session:
        schedules = session.scalars(
            select(Schedule).where(Schedule.workspace_id == workspace.id)
        ).all()
        jobs = session.scalars(select(Job).where(Job.name == roster.REFRESH_JOB)).all()
    assert [s.key for s in schedules] == [f"{roster.REFRESH_JOB}:{workspace.id}"]
    assert [(j.status, j.result) for j in jobs] == [
        ("succeeded", {"updated": 0, "failed": 0, "losses": 0})
    ]


def test_stats_count_adds_per_day_losses_and_retention(
    api: TestClient, corp: Corp, engine: Engine, workspace: WorkspaceFixture
) -> None:
    code = create_code(
        api, [{"staff_id": corp.staff_ids[0]}, {"staff_id": corp.staff_ids[1], "is_backup": True}]
    )
    now = utcnow()
    history: list[tuple[timedelta, timedelta | None, int, str]] = [
        (timedelta(days=40), None, 0, "sent"),
        (timedelta(days=40), timedelta(days=10), 0, "failed"),
        (timedelta(days=10), timedelta(days=2), 1, "sent"),
        (timedelta(0), None, 1, "skipped"),
    ]
    with unit_of_work(engine) as session:
        for index, (age, lost_after, staff, welcome) in enumerate(history):
            customer: Any = api.post("/api/v1/customers", json={"name": f"客户{index}"}).json()
            added = now - age
            session.add(
                LiveCodeAdd(
                    workspace_id=workspace.id,
                    live_code_id=code["id"],
                    customer_id=customer["customer"]["id"],
                    staff_id=corp.staff_ids[staff],
                    external_userid=f"wm{index}",
                    added_at=added,
                    welcome_status=welcome,
                    lost_at=added + lost_after if lost_after else None,
                )
            )

    stats = api.get(f"/api/v1/live-codes/{code['id']}/stats", params={"days": 30}).json()

    assert (stats["total_adds"], stats["losses"]) == (4, 2)
    assert (stats["welcome_sent"], stats["welcome_failed"], stats["welcome_skipped"]) == (2, 1, 1)
    assert stats["retention_7d"] == {"eligible": 3, "retained": 2, "rate": 0.6667}
    assert stats["retention_30d"] == {"eligible": 2, "retained": 1, "rate": 0.5}
    assert len(stats["per_day"]) == 30
    assert sum(d["adds"] for d in stats["per_day"]) == 2
    assert stats["per_day"][-1]["adds"] == 1
    assert sum(d["losses"] for d in stats["per_day"]) == 1
    assert [(s["staff_id"], s["adds"], s["losses"]) for s in stats["per_staff"]] == [
        (corp.staff_ids[0], 2, 1),
        (corp.staff_ids[1], 2, 1),
    ]


def test_staff_who_left_drop_out_of_the_roster(
    api: TestClient, corp: Corp, wecom_sim: WecomSim, engine: Engine, workspace: WorkspaceFixture
) -> None:
    code = create_code(
        api,
        [{"staff_id": corp.staff_ids[0]}, {"staff_id": corp.staff_ids[1], "is_backup": True}],
    )

    left = api.patch(f"/api/v1/staff/{corp.staff_ids[0]}", json={"status": "inactive"})
    _refresh(engine, workspace.id, MONDAY_10)

    assert left.status_code == 200, left.text
    assert wecom_sim.state.contact_ways[code["config_id"]].user == [corp.userids[1]]
