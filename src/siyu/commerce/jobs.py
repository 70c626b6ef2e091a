"""Background work of the commerce domain."""

from typing import Any

from siyu.commerce.importing import DEFAULT_CHUNK_ROWS, run_order_import
from siyu.commerce.imports import IMPORT_JOB
from siyu.worker.context import JobContext
from siyu.worker.registry import job


@job(IMPORT_JOB, max_attempts=5)
def import_orders(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Import an uploaded order file chunk by chunk; a retry resumes after the last commit."""
    assert ctx.workspace_id is not None
    return run_order_import(
        ctx.session,
        ctx.workspace_id,
        int(payload["import_run_id"]),
        progress=ctx.progress,
        checkpoint=ctx.checkpoint,
        chunk_rows=int(payload.get("chunk_rows") or DEFAULT_CHUNK_ROWS),
    )
