"""The durable job runner: transactions, retries, leases, schedules and async handlers."""

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from siyu.db.engine import read_only
from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.models import EventType, Job, Schedule
from siyu.worker import runner as runner_module
from siyu.worker.context import JobContext
from siyu.worker.queue import enqueue
from siyu.worker.registry import job
from siyu.worker.runner import Runner, backoff_delay, next_cron_time
from tests.conftest import WorkspaceFixture

# Test jobs write EventType rows named after their job: a real table with a unique key.

FAILURES: Counter[int] = Counter()


def _mark(ctx: JobContext, suffix: str = "") -> None:
    assert ctx.workspace_id is not None
    ctx.session.add(
        EventType(
            workspace_id=ctx.workspace_id,
            name=f"job-{ctx.job_id}{suffix}",
            display_name="written by a job",
        )
    )
    ctx.session.flush()


@job("tests.worker.writes")
def _writes(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    _mark(ctx)
    return {"echo": payload.get("echo")}


@job("tests.worker.always_fails", max_attempts=3)
def _always_fails(ctx: JobContext, _payload: dict[str, Any]) -> None:
    _mark(ctx)
    msg = f"boom on attempt {ctx.attempt}"
    raise RuntimeError(msg)


@job("tests.worker.fails_once")
def _fails_once(ctx: JobContext, _payload: dict[str, Any]) -> None:
    FAILURES[ctx.job_id] += 1
    if FAILURES[ctx.job_id] == 1:
        msg = "transient"
        raise ConnectionError(msg)
    _mark(ctx)


@job("tests.worker.chunked")
def _chunked(ctx: JobContext, payload: dict[str, Any]) -> None:
    _mark(ctx, "-chunk-1")
    ctx.progress(1, 2)
    ctx.checkpoint()
    seen = _read_job(ctx.session.get_bind(), ctx.job_id)
    payload_seen = {"progress_done": seen.progress_done, "progress_total": seen.progress_total}
    _mark(ctx, f"-seen-{payload_seen['progress_done']}-of-{payload_seen['progress_total']}")
    ctx.checkpoint()
    if payload.get("fail_after_checkpoint"):
        msg = "failed after the first chunks"
        raise RuntimeError(msg)


@job("tests.worker.async")
async def _async_handler(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(0)
    _mark(ctx)
    return {"doubled": payload["n"] * 2}


@job("tests.worker.scheduled")
def _scheduled(ctx: JobContext, _payload: dict[str, Any]) -> None:
    _mark(ctx)


class Clock:
    """The runner's clock: real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(runner_module, "utcnow", fake)
    return fake


@pytest.fixture(autouse=True)
def _forget_failures() -> Iterator[None]:
    yield
    FAILURES.clear()


def _read_job(engine: Any, job_id: int) -> Job:
    """Read a job row through a connection of its own, as another process would."""
    with Session(read_only(engine), expire_on_commit=False) as session:
        found = session.get(Job, job_id)
        assert found is not None
        return found


def _written(engine: Engine, workspace_id: int) -> list[str]:
    with Session(read_only(engine)) as session:
        return sorted(
            session.scalars(select(EventType.name).where(EventType.workspace_id == workspace_id))
        )


def _enqueue(engine: Engine, name: str, workspace_id: int, **payload: Any) -> int:
    with unit_of_work(engine) as session:
        return enqueue(session, name, payload, workspace_id=workspace_id).id


def test_job_enqueued_in_a_rolled_back_transaction_never_runs(
    engine: Engine, db: Session, workspace: WorkspaceFixture
) -> None:
    enqueue(db, "tests.worker.writes", {}, workspace_id=workspace.id)
    db.rollback()

    assert Runner(engine).run_until_idle() == 0
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
    assert _written(engine, workspace.id) == []


def test_success_commits_business_writes_and_the_job_mark_together(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    job_id = _enqueue(engine, "tests.worker.writes", workspace.id, echo="hi")

    assert Runner(engine).run_until_idle() == 1

    done = _read_job(engine, job_id)
    assert done.status == "succeeded"
    assert done.result == {"echo": "hi"}
    assert done.finished_at is not None
    assert done.lease_until is None
    assert _written(engine, workspace.id) == [f"job-{job_id}"]


def test_failing_job_rolls_back_its_writes_and_retries_with_exponential_backoff(
    engine: Engine, workspace: WorkspaceFixture, clock: Clock
) -> None:
    job_id = _enqueue(engine, "tests.worker.always_fails", workspace.id)
    runner = Runner(engine)

    started = clock()
    assert runner.run_until_idle() == 1
    first = _read_job(engine, job_id)
    assert (first.status, first.attempts) == ("queued", 1)
    assert first.run_at >= started + backoff_delay(1)
    assert "boom on attempt 1" in (first.last_error or "")
    assert runner.run_until_idle() == 0, "not due again before its backoff has passed"

    clock.advance(backoff_delay(1) + timedelta(seconds=1))
    before_second = clock()
    assert runner.run_until_idle() == 1
    second = _read_job(engine, job_id)
    assert (second.status, second.attempts) == ("queued", 2)
    assert second.run_at >= before_second + backoff_delay(2)
    assert backoff_delay(2) == 2 * backoff_delay(1)

    assert _written(engine, workspace.id) == [], "a failed attempt's writes never commit"


def test_job_ends_dead_after_max_attempts_and_keeps_its_last_error(
    engine: Engine, workspace: WorkspaceFixture, clock: Clock
) -> None:
    job_id = _enqueue(engine, "tests.worker.always_fails", workspace.id)
    runner = Runner(engine)

    for _ in range(3):
        assert runner.run_until_idle() == 1
        clock.advance(timedelta(hours=2))
    assert runner.run_until_idle() == 0

    dead = _read_job(engine, job_id)
    assert (dead.status, dead.attempts, dead.max_attempts) == ("dead", 3, 3)
    assert "RuntimeError: boom on attempt 3" in (dead.last_error or "")
    assert dead.finished_at is not None


def test_transient_failure_then_success_on_retry(
    engine: Engine, workspace: WorkspaceFixture, clock: Clock
) -> None:
    job_id = _enqueue(engine, "tests.worker.fails_once", workspace.id)
    runner = Runner(engine)

    runner.run_until_idle()
    clock.advance(timedelta(minutes=1))
    runner.run_until_idle()

    done = _read_job(engine, job_id)
    assert (done.status, done.attempts) == ("succeeded", 2)
    assert _written(engine, workspace.id) == [f"job-{job_id}"]


def test_crashed_workers_job_is_retried_by_another_runner_only_after_its_lease_expires(
    engine: Engine, workspace: WorkspaceFixture, clock: Clock
) -> None:
    job_id = _enqueue(engine, "tests.worker.writes", workspace.id)
    crashed = Runner(engine, lease_seconds=60, worker_id="crashed")
    rescuer = Runner(engine, lease_seconds=60, worker_id="rescuer")

    assert [c.id for c in crashed.claim()] == [job_id]  # …and it never executes the job.

    clock.advance(timedelta(seconds=59))
    assert rescuer.claim() == [], "the lease still holds"

    clock.advance(timedelta(seconds=2))
    assert rescuer.run_until_idle() == 1
    done = _read_job(engine, job_id)
    assert (done.status, done.attempts, done.locked_by) == ("succeeded", 2, "rescuer")
    assert _written(engine, workspace.id) == [f"job-{job_id}"]


def test_worker_whose_lease_was_taken_over_cannot_commit_its_work(
    engine: Engine, workspace: WorkspaceFixture, clock: Clock
) -> None:
    job_id = _enqueue(engine, "tests.worker.writes", workspace.id, echo="rescuer's")
    slow = Runner(engine, lease_seconds=60, worker_id="slow")
    rescuer = Runner(engine, lease_seconds=60, worker_id="rescuer")
    (stale,) = slow.claim()

    clock.advance(timedelta(minutes=2))
    (taken,) = rescuer.claim()
    assert taken.attempts == stale.attempts + 1

    assert slow.execute(stale) == "lost"
    assert _read_job(engine, job_id).status == "running"
    assert _written(engine, workspace.id) == [], "the slow worker's writes were rolled back"

    assert rescuer.execute(taken) == "succeeded"
    assert _written(engine, workspace.id) == [f"job-{job_id}"]


def test_job_whose_worker_keeps_dying_ends_dead_instead_of_looping_forever(
    engine: Engine, workspace: WorkspaceFixture, clock: Clock
) -> None:
    job_id = _enqueue(engine, "tests.worker.always_fails", workspace.id)  # max_attempts=3
    runner = Runner(engine, lease_seconds=60)

    for _ in range(3):
        assert len(runner.claim()) == 1  # the worker dies mid-job each time
        clock.advance(timedelta(minutes=2))
    assert runner.claim() == []

    dead = _read_job(engine, job_id)
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert "lease expired" in (dead.last_error or "")
    assert dead.lease_until is None


def test_progress_and_checkpoints_are_visible_to_other_sessions(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    job_id = _enqueue(engine, "tests.worker.chunked", workspace.id)

    Runner(engine).run_until_idle()

    assert _written(engine, workspace.id) == [f"job-{job_id}-chunk-1", f"job-{job_id}-seen-1-of-2"]
    assert _read_job(engine, job_id).status == "succeeded"


def test_checkpointed_work_survives_a_later_failure(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    job_id = _enqueue(engine, "tests.worker.chunked", workspace.id, fail_after_checkpoint=True)

    Runner(engine).run_until_idle()

    failed = _read_job(engine, job_id)
    assert (failed.status, failed.progress_done, failed.progress_total) == ("queued", 1, 2)
    assert f"job-{job_id}-chunk-1" in _written(engine, workspace.id)


def test_async_handlers_run_and_their_result_is_stored(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    job_id = _enqueue(engine, "tests.worker.async", workspace.id, n=21)

    assert Runner(engine).run_until_idle() == 1

    done = _read_job(engine, job_id)
    assert (done.status, done.result) == ("succeeded", {"doubled": 42})
    assert _written(engine, workspace.id) == [f"job-{job_id}"]


def test_unknown_job_name_goes_dead_at_once(engine: Engine, workspace: WorkspaceFixture) -> None:
    with unit_of_work(engine) as session:
        orphan = Job(workspace_id=workspace.id, name="tests.worker.never_registered", payload={})
        session.add(orphan)
        session.flush()
        job_id = orphan.id

    Runner(engine).run_until_idle()

    dead = _read_job(engine, job_id)
    assert (dead.status, dead.attempts) == ("dead", 1)
    assert "no handler registered" in (dead.last_error or "")


def _schedule(engine: Engine, workspace_id: int, *, due: datetime) -> None:
    with unit_of_work(engine) as session:
        session.add(
            Schedule(
                workspace_id=workspace_id,
                key=f"tests-{workspace_id}",
                cron="*/5 * * * *",
                job_name="tests.worker.scheduled",
                payload={},
                next_run_at=due,
            )
        )


def _jobs_named(engine: Engine, name: str) -> list[Job]:
    with Session(read_only(engine), expire_on_commit=False) as session:
        return list(session.scalars(select(Job).where(Job.name == name).order_by(Job.id)))


def test_due_schedule_enqueues_exactly_once_even_with_two_runners(
    engine: Engine, workspace: WorkspaceFixture, clock: Clock
) -> None:
    _schedule(engine, workspace.id, due=utcnow() - timedelta(seconds=1))
    first, second = Runner(engine, worker_id="a"), Runner(engine, worker_id="b")

    assert first.enqueue_due_schedules() + second.enqueue_due_schedules() == 1
    assert first.enqueue_due_schedules() + second.enqueue_due_schedules() == 0

    clock.advance(timedelta(minutes=5))
    assert second.enqueue_due_schedules() + first.enqueue_due_schedules() == 1

    jobs = _jobs_named(engine, "tests.worker.scheduled")
    assert len(jobs) == 2
    assert len({j.dedupe_key for j in jobs}) == 2
    with Session(engine) as session:
        schedule = session.scalars(select(Schedule)).one()
        assert schedule.next_run_at > clock()
        assert schedule.next_run_at.minute % 5 == 0


def test_schedule_due_for_four_concurrent_runners_enqueues_one_job(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    _schedule(engine, workspace.id, due=utcnow() - timedelta(seconds=1))
    runners = [Runner(engine, worker_id=f"r{i}") for i in range(4)]
    start = threading.Barrier(len(runners))
    counts: list[int] = []

    def race(runner: Runner) -> None:
        start.wait()
        counts.append(runner.enqueue_due_schedules())

    threads = [threading.Thread(target=race, args=(r,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(counts) == [0, 0, 0, 1]
    assert len(_jobs_named(engine, "tests.worker.scheduled")) == 1


def test_scheduled_job_gets_its_handlers_max_attempts(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    with unit_of_work(engine) as session:
        session.add(
            Schedule(
                workspace_id=workspace.id,
                key="tests-fragile",
                cron="0 * * * *",
                job_name="tests.worker.always_fails",
                payload={},
                next_run_at=datetime.now(UTC) - timedelta(seconds=1),
            )
        )

    Runner(engine).enqueue_due_schedules()

    (scheduled,) = _jobs_named(engine, "tests.worker.always_fails")
    assert scheduled.max_attempts == 3


EXECUTIONS: Counter[int] = Counter()
EXECUTIONS_LOCK = threading.Lock()


@job("tests.worker.counted", max_attempts=1)
def _counted(ctx: JobContext, _payload: dict[str, Any]) -> None:
    with EXECUTIONS_LOCK:
        EXECUTIONS[ctx.job_id] += 1
    _mark(ctx)


@pytest.mark.postgres_only
def test_concurrent_runners_run_every_job_exactly_once(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    with unit_of_work(engine) as session:
        job_ids = [
            enqueue(session, "tests.worker.counted", {}, workspace_id=workspace.id).id
            for _ in range(500)
        ]
    runners = [Runner(engine, worker_id=f"w{i}") for i in range(4)]
    start = threading.Barrier(len(runners))
    ran: Counter[str] = Counter()

    def unfinished() -> int:
        with Session(engine) as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.status.in_(["queued", "running"]))
                )
                or 0
            )

    def work(runner: Runner) -> None:
        start.wait()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if runner.run_once():
                ran[runner.worker_id] += 1
            elif unfinished() == 0:
                return

    threads = [threading.Thread(target=work, args=(r,)) for r in runners]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(150)
        statuses = Counter(j.status for j in _jobs_named(engine, "tests.worker.counted"))
        assert statuses == {"succeeded": 500}
        assert sorted(EXECUTIONS) == sorted(job_ids)
        assert set(EXECUTIONS.values()) == {1}, "a job ran twice"
        assert len(_written(engine, workspace.id)) == 500
        assert sum(ran.values()) == 500
        assert len([w for w, n in ran.items() if n > 0]) > 1, "the work was shared"
    finally:
        EXECUTIONS.clear()


def test_cron_names_the_wall_clock_of_the_given_zone() -> None:
    after = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai

    assert next_cron_time("0 3 * * *", after) == datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    assert next_cron_time("0 3 * * *", after, ZoneInfo("Asia/Shanghai")) == datetime(
        2026, 11, 24, 19, 0, tzinfo=UTC
    )


def test_cron_keeps_local_time_across_a_daylight_saving_change() -> None:
    new_york = ZoneInfo("America/New_York")
    before_change = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)  # EDT, UTC-4

    first = next_cron_time("0 9 * * *", before_change, new_york)
    after_change = next_cron_time("0 9 * * *", datetime(2026, 11, 2, 0, 0, tzinfo=UTC), new_york)

    assert first == datetime(2026, 10, 31, 13, 0, tzinfo=UTC)
    assert after_change == datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # EST, UTC-5


def test_a_workspace_schedule_runs_at_the_workspace_local_time(
    engine: Engine, workspace: WorkspaceFixture, clock: Clock
) -> None:
    with unit_of_work(engine) as session:
        session.add(
            Schedule(
                workspace_id=workspace.id,
                key=f"tests-daily-{workspace.id}",
                cron="0 3 * * *",
                job_name="tests.worker.scheduled",
                payload={},
                next_run_at=utcnow() - timedelta(seconds=1),
            )
        )

    assert Runner(engine, worker_id="a").enqueue_due_schedules() == 1

    with Session(engine) as session:
        schedule = session.scalars(
            select(Schedule).where(Schedule.key == f"tests-daily-{workspace.id}")
        ).one()
        local = schedule.next_run_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert (local.hour, local.minute) == (3, 0)
    assert schedule.next_run_at - clock() <= timedelta(days=1)
