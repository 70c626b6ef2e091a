"""Jobs of the WeCom sync: full sync and reconciliation runs, the nightly reconciliation,
lost-customer alerts and pushing Siyu's tag changes to WeCom."""

import traceback
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

# Importing the handlers registers them for the callback inbox job in every worker.
from siyu.connectors.wecom import handlers as _handlers  # noqa: F401
from siyu.connectors.wecom import sync
from siyu.connectors.wecom.clients import client_for
from siyu.customers import wecom as customers_wecom
from siyu.kit.time import utcnow
from siyu.models import Schedule, WecomSyncRun
from siyu.staff import service as staff_service
from siyu.worker.context import JobContext
from siyu.worker.queue import enqueue
from siyu.worker.registry import job
from siyu.worker.runner import next_cron_time

SYNC_JOB = "wecom.sync"
RECONCILE_JOB = "wecom.reconcile"
RECONCILE_CRON = "30 3 * * *"  # nightly, 03:30 UTC


def start_run(session: Session, workspace_id: int, kind: str) -> WecomSyncRun:
    """Queue a full sync or a reconciliation (one at a time per workspace) and make sure the
    nightly reconciliation is scheduled."""
    run = sync.new_run(session, workspace_id, kind)
    queued = enqueue(session, SYNC_JOB, {"run_id": run.id}, workspace_id=workspace_id)
    session.flush()
    run.job_id = queued.id
    ensure_reconcile_schedule(session, workspace_id)
    return run


def ensure_reconcile_schedule(session: Session, workspace_id: int) -> None:
    key = f"{RECONCILE_JOB}:{workspace_id}"
    if session.scalar(select(Schedule.id).where(Schedule.key == key)) is None:
        session.add(
            Schedule(
                workspace_id=workspace_id,
                key=key,
                cron=RECONCILE_CRON,
                job_name=RECONCILE_JOB,
                payload={},
                next_run_at=next_cron_time(RECONCILE_CRON, utcnow()),
            )
        )
        session.flush()


async def execute_run(ctx: JobContext, run: WecomSyncRun) -> dict[str, Any]:
    """Run (or resume) a sync run to its end; a failure is recorded on the run and re-raised
    so the job retries from the run's checkpoint."""
    session = ctx.session
    if run.status in ("succeeded", "failed"):
        return {"run_id": run.id, "status": run.status}
    run.status = "running"
    run.error = None
    try:
        async with client_for(session, run.workspace_id) as client:
            await sync.Syncer(
                session, run, client, commit=ctx.checkpoint, progress=ctx.progress
            ).execute()
    except Exception as exc:
        session.rollback()
        run.error = "".join(traceback.format_exception_only(exc)).strip()[:4000]
        if ctx.attempt >= MAX_ATTEMPTS:
            run.status = "failed"
            run.finished_at = utcnow()
        ctx.checkpoint()
        raise
    return {"run_id": run.id, "status": run.status, "counts": run.counts, "fixes": run.fixes}


MAX_ATTEMPTS = 8


@job(SYNC_JOB, max_attempts=MAX_ATTEMPTS)
async def run_sync(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    assert ctx.workspace_id is not None
    run = sync.get_run(ctx.session, ctx.workspace_id, int(payload["run_id"]))
    return await execute_run(ctx, run)


@job(RECONCILE_JOB, max_attempts=1)
def reconcile(ctx: JobContext, _payload: dict[str, Any]) -> dict[str, Any]:
    """The nightly reconciliation: queue a reconcile run unless one is already going."""
    assert ctx.workspace_id is not None
    if sync.running_run(ctx.session, ctx.workspace_id) is not None:
        return {"skipped": "a sync is running"}
    run = start_run(ctx.session, ctx.workspace_id, "reconcile")
    return {"run_id": run.id}


@job(customers_wecom.LOSS_ALERT_JOB)
async def alert_loss(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Tell the lost customer's staff member's department leaders (WeCom department_leader).

    Siyu has no messaging yet: the alert is recorded on the loss (who, when) and shown by
    GET /wecom/lost-customers.
    """
    assert ctx.workspace_id is not None
    session = ctx.session
    loss = customers_wecom.get_loss(session, ctx.workspace_id, int(payload["loss_id"]))
    if loss is None or loss.alerted_at is not None:
        return {"status": "skipped"}
    leaders: list[str] = []
    department = (
        staff_service.get_department(session, ctx.workspace_id, loss.department_id)
        if loss.department_id is not None
        else None
    )
    if department is not None and department.wecom_id is not None:
        async with client_for(session, ctx.workspace_id) as client:
            listed = (await client.department_list(int(department.wecom_id))).department
        leaders = sorted(
            {u for d in listed if d.id == department.wecom_id for u in d.department_leader}
        )
    loss.alerted_userids = leaders
    loss.alerted_at = utcnow()
    return {"status": "alerted", "userids": leaders}
