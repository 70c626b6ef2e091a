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
    """Build the segment, then the segments that read it, each committed on its own."""
    assert ctx.workspace_id is not None
    analyze_stale(ctx.session)
    segment_id = int(payload["segment_id"])
    try:
        with ctx.reading() as reader:
            order = service.build_order(reader, ctx.workspace_id, segment_id)
    except NotFound:
        return {"deleted": True}  # before its build ran: nothing to retry
    built = _build_each(ctx, ctx.workspace_id, order)
    if not order:
        return {"entered": 0, "left": 0}
    return built.get(segment_id, {"deleted": True})


def _build_each(ctx: JobContext, workspace_id: int, order: list[int]) -> dict[int, dict[str, int]]:
    """Evaluate each rule in a read-only session of its own (on SQLite, without holding
    the write lock), then write the difference and commit before the next segment reads
    it. A segment deleted meanwhile is skipped."""
    built = {}
    for segment_id in order:
        try:
            with ctx.reading() as reader:
                answered = service.answer_segment(reader, workspace_id, segment_id)
            built[segment_id] = service.store_answer(
                ctx.session, workspace_id, segment_id, answered
            )
        except NotFound:
            continue
        ctx.checkpoint()
    return built


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
    """Rebuild every dynamic segment (time-relative rules drift), one commit each."""
    assert ctx.workspace_id is not None
    analyze_stale(ctx.session)
    with ctx.reading() as reader:
        order = service.rebuild_order(reader, ctx.workspace_id)
    return {"segments": len(_build_each(ctx, ctx.workspace_id, order))}
