"""Enqueue jobs inside the caller's transaction: decided and queued commit together."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.orm import Session

from siyu.exceptions import NotFound
from siyu.kit.time import utcnow
from siyu.models import Job
from siyu.worker import catalog
from siyu.worker.registry import JobSpec, get_spec

DEFAULT_LANE = "default"
REALTIME_LANE = "realtime"
LANES = (DEFAULT_LANE, REALTIME_LANE)

_INSERT_JOB = insert(cast("Table", Job.__table__))


def enqueue(
    session: Session,
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    workspace_id: int | None,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    lane: str = DEFAULT_LANE,
) -> Job:
    """Add a job row to the session; with `dedupe_key`, an existing job is returned instead.

    `lane="realtime"` is for short work someone is waiting for (callbacks, welcome messages).
    """
    spec = _checked_spec(name, lane)
    if dedupe_key is not None:
        existing = session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    job = Job(
        workspace_id=workspace_id,
        name=name,
        lane=lane,
        payload=payload or {},
        run_at=run_at or utcnow(),
        max_attempts=spec.max_attempts,
        dedupe_key=dedupe_key,
        status="queued",
    )
    session.add(job)
    session.flush()
    return job


def enqueue_many_on_connection(
    connection: Connection,
    name: str,
    jobs: Sequence[tuple[int | None, Mapping[str, Any]]],
    *,
    lane: str = DEFAULT_LANE,
) -> None:
    """`enqueue` of many (workspace id, payload) jobs in one statement, for hot paths that
    write through a Core connection (WeCom callbacks)."""
    spec = _checked_spec(name, lane)
    run_at = utcnow()
    connection.execute(
        _INSERT_JOB,
        [
            {
                "workspace_id": workspace_id,
                "name": name,
                "lane": lane,
                "payload": payload,
                "run_at": run_at,
                "max_attempts": spec.max_attempts,
                "status": "queued",
            }
            for workspace_id, payload in jobs
        ],
    )


def run_now(
    session: Session, name: str, payload: dict[str, Any], *, workspace_id: int | None
) -> Job:
    """Bring a queued job with exactly this payload forward to now, or enqueue one."""
    waiting = session.scalars(
        select(Job).where(
            Job.name == name, Job.workspace_id == workspace_id, Job.status == "queued"
        )
    )
    for job in waiting:
        if job.payload == payload:
            job.run_at = utcnow()
            session.flush()
            return job
    return enqueue(session, name, payload, workspace_id=workspace_id)


def _checked_spec(name: str, lane: str) -> JobSpec:
    if lane not in LANES:
        msg = f"unknown lane {lane!r}"
        raise ValueError(msg)
    spec = get_spec(name)
    if spec is None:
        # A domain may queue another domain's job by name; every worker process loads all
        # handlers, and so does this one the first time it needs one it has not imported.
        catalog.load_job_handlers()
        spec = get_spec(name)
    if spec is None:
        msg = f"unknown job {name!r}"
        raise ValueError(msg)
    return spec


def get_job(session: Session, job_id: int, *, workspace_id: int) -> Job:
    job = session.scalar(select(Job).where(Job.id == job_id, Job.workspace_id == workspace_id))
    if job is None:
        raise NotFound("job")
    return job
