"""Background work of the customers domain."""

from typing import Any

from siyu.customers import export
from siyu.customers.importing import DEFAULT_CHUNK_ROWS, IMPORT_JOB, run_customer_import
from siyu.worker.context import JobContext
from siyu.worker.registry import job


@job(IMPORT_JOB, max_attempts=5)
def import_customers(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Import an uploaded customer file chunk by chunk; a retry resumes after the last commit."""
    assert ctx.workspace_id is not None
    return run_customer_import(
        ctx.session,
        ctx.workspace_id,
        int(payload["import_run_id"]),
        progress=ctx.progress,
        checkpoint=ctx.checkpoint,
        chunk_rows=int(payload.get("chunk_rows") or DEFAULT_CHUNK_ROWS),
    )


@job(export.EXPORT_JOB)
def export_customers(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Write a large customer export to the data directory (a retry writes it over)."""
    return export.run_export(ctx, payload)
