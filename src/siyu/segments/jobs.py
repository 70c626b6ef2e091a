"""Segments in the background: builds, refreshes of changed customers, daily rebuilds."""

from typing import Any

from siyu.customers.changes import REFRESH_JOB
from siyu.db.maintenance import analyze_stale
from siyu.exceptions import NotFound
from siyu.segments import service
from siyu.worker.context import JobContext
from siyu.worker.queue import enqueue
from siyu.worker.registry import job

REFRESH_BATCH = 5_000
# A refresh run handles this many batches, then hands over to a fresh job so one busy
# workspace cannot hold a runner forever.
REFRESH_BATCHES_PER_RUN = 20


@job(service.BUILD_JOB)
def build(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    assert ctx.workspace_id is not None
    analyze_stale(ctx.session)
    try:
        return service.build_segment(ctx.session, ctx.workspace_id, int(payload["segment_id"]))
    except NotFound:
        return {"deleted": True}  # before its build ran: nothing to retry


@job(REFRESH_JOB)
def refresh_changed(ctx: JobContext, _payload: dict[str, Any]) -> dict[str, Any]:
    """Drain the changed-customer marks: each batch commits on its own."""
    assert ctx.workspace_id is not None
    done = 0
    for _ in range(REFRESH_BATCHES_PER_RUN):
        handled = service.refresh_changed(ctx.session, ctx.workspace_id, REFRESH_BATCH)
        if not handled:
            break
        done += handled
        ctx.checkpoint()
    else:
        if service.pending_changes(ctx.session, ctx.workspace_id):
            enqueue(ctx.session, REFRESH_JOB, {}, workspace_id=ctx.workspace_id)
    return {"customers": done}


@job(service.REBUILD_JOB)
def rebuild_all(ctx: JobContext, _payload: dict[str, Any]) -> dict[str, Any]:
    assert ctx.workspace_id is not None
    analyze_stale(ctx.session)
    return {"segments": service.rebuild_all(ctx.session, ctx.workspace_id)}
