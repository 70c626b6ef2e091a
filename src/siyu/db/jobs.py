"""Database housekeeping an installation runs whether or not PostgreSQL's autovacuum does."""

from typing import Any

from siyu.db.maintenance import analyze_stale
from siyu.worker.context import JobContext
from siyu.worker.registry import job
from siyu.worker.schedules import ANALYZE_STALE_JOB


@job(ANALYZE_STALE_JOB)
def analyze(ctx: JobContext, _payload: dict[str, Any]) -> dict[str, Any]:
    return {"analyzed": analyze_stale(ctx.session)}
