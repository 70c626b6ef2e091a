"""Keeping features and RFM current: a daily roll per workspace, and rebuilds on demand."""

from typing import Any

from sqlalchemy.orm import Session

from siyu.analytics import clv_service, features, rfm
from siyu.segments import service as segments_service
from siyu.worker.context import JobContext
from siyu.worker.queue import enqueue, get_job
from siyu.worker.registry import job
from siyu.worker.schedules import DAILY_FEATURES_JOB
from siyu.workspace import service as workspace_service

REFRESH_JOB = "analytics.refresh_features"
ROLLED_ON = "features.rolled_on"


def queue_refresh(session: Session, workspace_id: int) -> int:
    """Queue a full refresh of the workspace's features and RFM; returns the job id."""
    return enqueue(session, REFRESH_JOB, {}, workspace_id=workspace_id).id


@job(REFRESH_JOB)
def refresh(ctx: JobContext, _payload: dict[str, Any]) -> dict[str, Any]:
    """Every customer's order windows, chunk by chunk (resumable), then the RFM scores."""
    assert ctx.workspace_id is not None
    session, workspace_id = ctx.session, ctx.workspace_id
    calendar = segments_service.context(session, workspace_id)
    job_row = get_job(session, ctx.job_id, workspace_id=workspace_id)
    after = int((job_row.result or {}).get("after", 0))
    ranges = [r for r in features.id_ranges(session, workspace_id) if r[1] > after]
    total = len(ranges)
    for done, (first, last) in enumerate(ranges, start=1):
        features.refresh_range(session, calendar, first, last)
        job_row.result = {"after": last}
        ctx.progress(done, total)
        ctx.checkpoint()
    # Cut points read without the write lock, scores written range by range (on SQLite a
    # single UPDATE of a million customers held every other writer up for ~20 s).
    with ctx.reading() as reading:
        settings, found = rfm.measure(reading, calendar)
    for first, last in features.id_ranges(session, workspace_id):
        rfm.write_scores(session, calendar, settings, found, (first, last))
        ctx.checkpoint()
    rfm.keep(session, workspace_id, found)
    if found.customers and clv_service.needs_refit(session, workspace_id):
        clv_service.queue_fit(session, workspace_id, holdout_days=90)
    workspace = workspace_service.get_workspace(session, workspace_id)
    workspace.settings = {**workspace.settings, ROLLED_ON: calendar.today.isoformat()}
    return {"after": after, "scored": found.customers, "rolled_on": calendar.today.isoformat()}


@job(DAILY_FEATURES_JOB)
def daily(ctx: JobContext, _payload: dict[str, Any]) -> dict[str, int]:
    """Hourly: queue the roll of every workspace whose local day moved on since its last."""
    queued = 0
    for workspace in workspace_service.list_workspaces(ctx.session):
        calendar = segments_service.context(ctx.session, workspace.id)
        if workspace.settings.get(ROLLED_ON) == calendar.today.isoformat():
            continue
        enqueue(
            ctx.session,
            REFRESH_JOB,
            {},
            workspace_id=workspace.id,
            dedupe_key=f"{REFRESH_JOB}:{workspace.id}:{calendar.today.isoformat()}",
        )
        queued += 1
    return {"queued": queued}
