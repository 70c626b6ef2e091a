"""Worker lanes: realtime work (callbacks, welcome messages) never waits behind long jobs."""

import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from siyu.db.engine import read_only
from siyu.db.session import unit_of_work
from siyu.models import Job
from siyu.worker.context import JobContext
from siyu.worker.queue import enqueue
from siyu.worker.registry import job
from siyu.worker.runner import Runner, WorkerPool
from tests.conftest import WorkspaceFixture

RELEASE_LONG_JOB = threading.Event()
LONG_JOB_STARTED = threading.Event()


@job("tests.lanes.long")
def _long(_ctx: JobContext, _payload: dict[str, Any]) -> dict[str, Any]:
    LONG_JOB_STARTED.set()
    released = RELEASE_LONG_JOB.wait(60)
    return {"released": released}


@job("tests.lanes.quick")
def _quick(_ctx: JobContext, _payload: dict[str, Any]) -> dict[str, Any]:
    return {"long_job_still_running": not RELEASE_LONG_JOB.is_set()}


def _enqueue(engine: Engine, name: str, workspace_id: int, lane: str = "default") -> int:
    with unit_of_work(engine) as session:
        return enqueue(session, name, {}, workspace_id=workspace_id, lane=lane).id


def _job(engine: Engine, job_id: int) -> Job:
    with Session(read_only(engine), expire_on_commit=False) as session:
        found = session.get(Job, job_id)
        assert found is not None
        return found


def _wait_for_status(engine: Engine, job_id: int, status: str, seconds: float = 30) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = _job(engine, job_id)
        if found.status == status:
            return found
        time.sleep(0.05)
    pytest.fail(f"job {job_id} never reached {status!r}; it is {_job(engine, job_id).status!r}")


def test_jobs_go_to_the_default_lane_unless_told_otherwise(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    default_id = _enqueue(engine, "tests.lanes.quick", workspace.id)
    realtime_id = _enqueue(engine, "tests.lanes.quick", workspace.id, lane="realtime")

    assert _job(engine, default_id).lane == "default"
    assert _job(engine, realtime_id).lane == "realtime"


def test_unknown_lane_is_refused(engine: Engine, workspace: WorkspaceFixture) -> None:
    with pytest.raises(ValueError, match="unknown lane"):
        _enqueue(engine, "tests.lanes.quick", workspace.id, lane="urgent")


def test_each_runner_claims_only_its_own_lane(engine: Engine, workspace: WorkspaceFixture) -> None:
    default_id = _enqueue(engine, "tests.lanes.quick", workspace.id)
    realtime_id = _enqueue(engine, "tests.lanes.quick", workspace.id, lane="realtime")

    assert Runner(engine, lane="realtime").run_until_idle() == 1
    assert _job(engine, realtime_id).status == "succeeded"
    assert _job(engine, default_id).status == "queued"

    assert Runner(engine, lane="realtime").run_until_idle() == 0
    assert Runner(engine).run_until_idle() == 1
    assert _job(engine, default_id).status == "succeeded"


def test_runner_without_a_lane_runs_every_lane(engine: Engine, workspace: WorkspaceFixture) -> None:
    _enqueue(engine, "tests.lanes.quick", workspace.id)
    _enqueue(engine, "tests.lanes.quick", workspace.id, lane="realtime")

    assert Runner(engine, lane=None).run_until_idle() == 2


def test_realtime_job_runs_while_the_default_lane_is_busy_with_a_long_job(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    RELEASE_LONG_JOB.clear()
    LONG_JOB_STARTED.clear()
    long_id = _enqueue(engine, "tests.lanes.long", workspace.id)
    pool = WorkerPool(engine, concurrency=1, lease_seconds=60, poll_seconds=0.05)
    pool.start()
    try:
        assert LONG_JOB_STARTED.wait(30), "the default-lane runner never started the long job"
        quick_id = _enqueue(engine, "tests.lanes.quick", workspace.id, lane="realtime")

        quick = _wait_for_status(engine, quick_id, "succeeded")

        assert quick.result == {"long_job_still_running": True}
        assert _job(engine, long_id).status == "running"
    finally:
        RELEASE_LONG_JOB.set()
        pool.stop()
    assert _wait_for_status(engine, long_id, "succeeded").result == {"released": True}


def test_a_slow_realtime_job_does_not_hold_up_the_next_one(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    """A welcome message must not wait behind a callback stuck on a slow WeCom call."""
    RELEASE_LONG_JOB.clear()
    LONG_JOB_STARTED.clear()
    slow_id = _enqueue(engine, "tests.lanes.long", workspace.id, lane="realtime")
    pool = WorkerPool(
        engine, concurrency=1, lease_seconds=60, poll_seconds=0.05, realtime_concurrency=2
    )
    pool.start()
    try:
        assert LONG_JOB_STARTED.wait(30), "no realtime runner started the slow job"
        quick_id = _enqueue(engine, "tests.lanes.quick", workspace.id, lane="realtime")

        quick = _wait_for_status(engine, quick_id, "succeeded")

        assert quick.result == {"long_job_still_running": True}
        assert _job(engine, slow_id).status == "running"
    finally:
        RELEASE_LONG_JOB.set()
        pool.stop()
    assert _wait_for_status(engine, slow_id, "succeeded").result == {"released": True}
