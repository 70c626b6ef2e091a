"""The durable work runner: claim due jobs with leases, run them, retry, dead-letter.

On PostgreSQL many workers share the queue through `FOR UPDATE SKIP LOCKED`; on SQLite
the write lock (BEGIN IMMEDIATE) serialises claims. A job's business writes and its
`succeeded` mark commit together, and only while this worker still holds the lease, so
a job whose lease was taken over can never commit twice.
"""

import asyncio
import inspect
import logging
import os
import socket
import threading
import traceback
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import Engine, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from siyu.db.session import session_factory
from siyu.kit.time import utcnow
from siyu.models import Job, Schedule, Workspace
from siyu.worker.catalog import load_job_handlers
from siyu.worker.context import JobContext
from siyu.worker.queue import DEFAULT_LANE, REALTIME_LANE
from siyu.worker.registry import JobResult, get_spec

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 3600.0

_jobs = Job.metadata.tables[Job.__tablename__]
# Built once: a long job renews its lease at every checkpoint (the send loop, every round).
_OWNED = and_(
    _jobs.c.id == bindparam("owned_id"),
    _jobs.c.locked_by == bindparam("owned_by"),
    _jobs.c.attempts == bindparam("owned_attempt"),
)
_RENEW = update(_jobs).where(_OWNED).values(lease_until=bindparam("new_lease_until"))
_PROGRESS = _RENEW.values(progress_done=bindparam("new_progress_done"))
_PROGRESS_OF = _PROGRESS.values(progress_total=bindparam("new_progress_total"))


def backoff_delay(attempt: int) -> timedelta:
    """Exponential backoff after the given (1-based) failed attempt."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** (attempt - 1), BACKOFF_MAX_SECONDS))


def next_cron_time(cron: str, after: datetime, zone: tzinfo = UTC) -> datetime:
    """The next time after `after` that `cron` names on the wall clock of `zone`, in UTC.

    A workspace's "0 3 * * *" means three in the morning where the workspace is.
    """
    wall = croniter(cron, after.astimezone(zone)).get_next(datetime)
    return wall.astimezone(UTC)


class LeaseLost(Exception):
    """Another worker took over this job; our work must not commit."""


@dataclass
class ClaimedJob:
    id: int
    name: str
    workspace_id: int | None
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


class Runner:
    def __init__(
        self,
        engine: Engine,
        *,
        lease_seconds: int = 300,
        worker_id: str | None = None,
        lane: str | None = DEFAULT_LANE,
    ) -> None:
        """`lane` is the one lane this runner claims from; None claims from every lane."""
        load_job_handlers()
        self.engine = engine
        self.lane = lane
        self.sessions = session_factory(engine)
        self.lease = timedelta(seconds=lease_seconds)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()

    # -- claiming ---------------------------------------------------------------

    def claim(self, limit: int = 1) -> list[ClaimedJob]:
        now = utcnow()
        due = or_(
            and_(Job.status == "queued", Job.run_at <= now),
            and_(Job.status == "running", Job.lease_until < now),
        )
        if self.lane is not None:
            due = and_(Job.lane == self.lane, due)
        with self.sessions() as session, session.begin():
            candidates = select(Job.id).where(due).order_by(Job.run_at, Job.id).limit(limit)
            if self.engine.dialect.name == "postgresql":
                candidates = candidates.with_for_update(skip_locked=True)
            ids = list(session.scalars(candidates))
            if not ids:
                return []
            rows = session.execute(
                update(Job)
                .where(Job.id.in_(ids), due)
                .values(
                    status="running",
                    attempts=Job.attempts + 1,
                    lease_until=now + self.lease,
                    locked_by=self.worker_id,
                )
                .returning(
                    Job.id, Job.name, Job.workspace_id, Job.payload, Job.attempts, Job.max_attempts
                )
            ).all()
            claimed = [ClaimedJob(*row) for row in rows]
            # A job whose every attempt ended with its worker gone (a lease expired, no error
            # recorded) must not be retried forever: past max_attempts it is dead.
            exhausted = [job.id for job in claimed if job.attempts > job.max_attempts]
            if exhausted:
                session.execute(
                    update(Job)
                    .where(Job.id.in_(exhausted))
                    .values(
                        status="dead",
                        attempts=Job.attempts - 1,
                        lease_until=None,
                        locked_by=None,
                        finished_at=now,
                        last_error=f"lease expired on the last attempt (worker {self.worker_id} "
                        "found it abandoned: crashed or stopped mid-job)",
                    )
                    .execution_options(synchronize_session=False)
                )
        return [job for job in claimed if job.attempts <= job.max_attempts]

    # -- running ----------------------------------------------------------------

    def _owned(self, job: ClaimedJob) -> Any:
        return and_(Job.id == job.id, Job.locked_by == self.worker_id, Job.attempts == job.attempts)

    def _owner(self, job: ClaimedJob) -> dict[str, Any]:
        return {"owned_id": job.id, "owned_by": self.worker_id, "owned_attempt": job.attempts}

    def _renew(self, session: Session, job: ClaimedJob) -> None:
        lease = {"new_lease_until": utcnow() + self.lease}
        result = session.execute(_RENEW, self._owner(job) | lease)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(job.id)

    def _report_progress(
        self, session: Session, job: ClaimedJob, done: int, total: int | None
    ) -> None:
        values = {"new_lease_until": utcnow() + self.lease, "new_progress_done": done}
        statement = _PROGRESS
        if total is not None:
            values["new_progress_total"] = total
            statement = _PROGRESS_OF
        result = session.execute(statement, self._owner(job) | values)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(job.id)

    def execute(self, job: ClaimedJob) -> str:
        """Run one claimed job to an outcome: succeeded, retry, dead or lost."""
        spec = get_spec(job.name)
        # One connection for the whole job: a chunked job commits often (the send loop,
        # every round), and each transaction would otherwise check one out of the pool
        # (and, on PostgreSQL, ping it first).
        connection = self.engine.connect()
        session = self.sessions(bind=connection)
        try:
            if spec is None:
                msg = f"no handler registered for job {job.name!r}"
                raise LookupError(msg)

            def checkpoint() -> None:
                self._renew(session, job)
                session.commit()

            ctx = JobContext(
                job_id=job.id,
                workspace_id=job.workspace_id,
                attempt=job.attempts,
                session=session,
                _report=lambda done, total: self._report_progress(session, job, done, total),
                _checkpoint=checkpoint,
            )
            outcome = spec.handler(ctx, job.payload)
            result: JobResult = asyncio.run(outcome) if inspect.iscoroutine(outcome) else outcome  # type: ignore[assignment]
            done = session.execute(
                update(Job)
                .where(self._owned(job))
                .values(status="succeeded", result=result, finished_at=utcnow(), lease_until=None)
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise LeaseLost(job.id)
            session.commit()
        except LeaseLost:
            session.rollback()
            log.warning("job %s (%s): lease lost, work discarded", job.id, job.name)
            return "lost"
        except Exception as exc:
            session.rollback()
            return self._fail(job, exc)
        finally:
            session.close()
            connection.close()
        return "succeeded"

    def _fail(self, job: ClaimedJob, exc: Exception) -> str:
        error = "".join(traceback.format_exception_only(exc)).strip()
        detail = f"{error}\n{''.join(traceback.format_tb(exc.__traceback__)[-3:])}"
        dead = job.attempts >= job.max_attempts or isinstance(exc, LookupError)
        values: dict[str, Any] = {
            "last_error": detail[:4000],
            "lease_until": None,
            "locked_by": None,
        }
        if dead:
            values.update(status="dead", finished_at=utcnow())
        else:
            values.update(status="queued", run_at=utcnow() + backoff_delay(job.attempts))
        with self.sessions() as session, session.begin():
            session.execute(update(Job).where(self._owned(job)).values(**values))
        log.warning("job %s (%s) attempt %s failed: %s", job.id, job.name, job.attempts, error)
        return "dead" if dead else "retry"

    # -- schedules --------------------------------------------------------------

    def enqueue_due_schedules(self) -> int:
        """Enqueue one job per due schedule; compare-and-set keeps it once across workers."""
        now = utcnow()
        enqueued = 0
        with self.sessions() as session, session.begin():
            due = session.execute(
                select(Schedule, Workspace.timezone)
                .outerjoin(Workspace, Workspace.id == Schedule.workspace_id)
                .where(Schedule.enabled.is_(True), Schedule.next_run_at <= now)
            ).all()
            for schedule, timezone in due:
                zone = ZoneInfo(timezone) if timezone else UTC
                moved = session.execute(
                    update(Schedule)
                    .where(Schedule.id == schedule.id, Schedule.next_run_at == schedule.next_run_at)
                    .values(next_run_at=next_cron_time(schedule.cron, now, zone))
                    .execution_options(synchronize_session=False)
                )
                if moved.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                spec = get_spec(schedule.job_name)
                session.add(
                    Job(
                        workspace_id=schedule.workspace_id,
                        name=schedule.job_name,
                        payload=schedule.payload,
                        run_at=now,
                        status="queued",
                        max_attempts=spec.max_attempts if spec else 1,
                        dedupe_key=f"schedule:{schedule.key}:{schedule.next_run_at.isoformat()}",
                    )
                )
                enqueued += 1
        return enqueued

    # -- loops ------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim and run at most one job; return how many ran (0 or 1)."""
        claimed = self.claim(1)
        for job in claimed:
            self.execute(job)
        return len(claimed)

    def run_until_idle(self, *, max_jobs: int = 10_000) -> int:
        """Run due jobs until none is due (tests, CLI one-shots)."""
        ran = 0
        while ran < max_jobs and self.run_once():
            ran += 1
        return ran

    def loop(self, *, poll_seconds: float = 0.5, schedules: bool = True) -> None:
        while not self._stop.is_set():
            try:
                if schedules:
                    self.enqueue_due_schedules()
                if self.run_once():
                    continue
            except Exception:
                log.exception("worker loop error; continuing")
            self._stop.wait(poll_seconds)

    def stop(self) -> None:
        self._stop.set()


class WorkerPool:
    """Default-lane and realtime-lane runner threads sharing one engine.

    Only the first runner enqueues schedules.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        concurrency: int,
        lease_seconds: int,
        poll_seconds: float,
        realtime_concurrency: int = 1,
    ) -> None:
        self.runners = [Runner(engine, lease_seconds=lease_seconds) for _ in range(concurrency)]
        self.runners += [
            Runner(engine, lease_seconds=lease_seconds, lane=REALTIME_LANE)
            for _ in range(realtime_concurrency)
        ]
        self.poll_seconds = poll_seconds
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for i, runner in enumerate(self.runners):
            thread = threading.Thread(
                target=runner.loop,
                kwargs={"poll_seconds": self.poll_seconds, "schedules": i == 0},
                name=f"siyu-worker-{runner.lane}-{i}",
                daemon=True,
            )
            thread.start()
            self.threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        for runner in self.runners:
            runner.stop()
        for thread in self.threads:
            thread.join(timeout)
