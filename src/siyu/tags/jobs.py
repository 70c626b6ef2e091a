"""Background work of the tags domain."""

import logging
from bisect import bisect_right
from typing import Any

from siyu.tags import batching, service
from siyu.tags.schemas import CustomerFilter
from siyu.worker.context import JobContext
from siyu.worker.queue import get_job
from siyu.worker.registry import job
from siyu.worker.schedules import RECOUNT_TAGS_JOB

CHUNK_SIZE = 500

log = logging.getLogger(__name__)


@job(batching.BATCH_JOB)
def run_batch(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Add or remove tags chunk by chunk, committing after each one.

    The position reached is saved in the job's result at every checkpoint, so a retried
    job resumes there; adding or removing again is a no-op, so a replayed chunk is harmless.
    Explicit ids are walked in id order; a filter is walked with the customer list's cursor.
    """
    assert ctx.workspace_id is not None
    session, workspace_id = ctx.session, ctx.workspace_id
    explicit: list[int] | None = payload.get("customer_ids")
    customer_filter = CustomerFilter.model_validate(payload.get("filter") or {})
    change = service.add_tags if payload["action"] == "add" else service.remove_tags

    job_row = get_job(session, ctx.job_id, workspace_id=workspace_id)
    state: dict[str, Any] = dict(job_row.result or {})
    changed: int = state.get("changed", 0)
    processed: int = state.get("processed", 0)
    total = len(explicit) if explicit is not None else None
    while True:
        if explicit is not None:
            start = bisect_right(explicit, state.get("after", 0))
            chunk = explicit[start : start + CHUNK_SIZE]
            position: dict[str, Any] = {"after": chunk[-1]} if chunk else {}
        else:
            if state.get("done"):
                break
            chunk, cursor = batching.filtered_customer_page(
                session, workspace_id, customer_filter, state.get("cursor")
            )
            position = {"cursor": cursor, "done": cursor is None}
        if not chunk:
            break
        changed += change(
            session,
            workspace_id,
            batching.live_customer_ids(session, workspace_id, chunk),
            payload["tag_ids"],
            source=payload["source"],
            actor=payload["actor"],
        )
        processed += len(chunk)
        state = {**position, "changed": changed, "processed": processed}
        job_row.result = state
        ctx.progress(processed, total)
        ctx.checkpoint()
    return {"changed": changed, "processed": processed}


@job(RECOUNT_TAGS_JOB)
def recount(ctx: JobContext, _payload: dict[str, Any]) -> dict[str, int]:
    """Correct every workspace's kept tag counts and bits (or one workspace's), e.g. after
    customers were deleted past the services and their assignments went by cascade. The
    assignments are read in a read-only session (on SQLite, without holding the write
    lock); only the drifted tags and blocks are then written, a workspace per commit."""
    with ctx.reading() as reader:
        workspaces = (
            [ctx.workspace_id]
            if ctx.workspace_id is not None
            else service.workspaces_with_tags(reader)
        )
    corrected = repaired = 0
    for workspace_id in workspaces:
        with ctx.reading() as reader:
            drift = service.count_drift(reader, workspace_id)
            blocks = service.bits_drift(reader, workspace_id)
        service.correct_counts(ctx.session, workspace_id, drift)
        service.repair_bits(ctx.session, workspace_id, blocks)
        ctx.checkpoint()
        if blocks:
            log.warning(
                "workspace %s: kept tag bits differed from the assignments in %s blocks"
                " of tags %s; rewritten",
                workspace_id,
                len(blocks),
                sorted({tag_id for tag_id, _ in blocks}),
            )
        corrected += len(drift)
        repaired += len(blocks)
    return {
        "workspaces": len(workspaces),
        "tags_corrected": corrected,
        "bit_blocks_repaired": repaired,
    }
