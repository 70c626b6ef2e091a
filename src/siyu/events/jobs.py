"""Background work of the events domain."""

from typing import Any

from siyu.events import counters
from siyu.worker.context import JobContext
from siyu.worker.queue import get_job
from siyu.worker.registry import job


@job(counters.RECOUNT_JOB)
def recount(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Rebuild one event type's counters from its stored events (its counted properties
    changed), chunk by chunk; a retried job resumes after the last committed chunk."""
    assert ctx.workspace_id is not None
    state: dict[str, Any] = dict(
        get_job(ctx.session, ctx.job_id, workspace_id=ctx.workspace_id).result or {}
    )
    after = int(state.get("after", 0))
    while True:
        last = counters.recount_type(ctx.session, ctx.workspace_id, payload["event_type"], after)
        if last is None:
            return {"after": after, "done": True}
        after = last
        get_job(ctx.session, ctx.job_id, workspace_id=ctx.workspace_id).result = {"after": after}
        ctx.checkpoint()
