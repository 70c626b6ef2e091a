"""CLV fitting in the background."""

from typing import Any

from siyu.analytics import clv_service
from siyu.analytics.clv_errors import FitError
from siyu.kit.time import utcnow
from siyu.worker.context import JobContext
from siyu.worker.registry import job


@job(clv_service.FIT_JOB, max_attempts=2)
def fit(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Read and fit in a read-only session, then write the values chunk by chunk: on
    SQLite no write lock is held while a million customers' orders are read and fitted."""
    from siyu.analytics import clv_fit  # noqa: PLC0415 - numpy and scipy load for fits only

    assert ctx.workspace_id is not None
    workspace_id, model_id = ctx.workspace_id, int(payload["model_id"])
    holdout_days = int(payload["holdout_days"])
    now = utcnow()
    try:
        with ctx.reading() as session:
            fitted = clv_service.fit_history(session, workspace_id, model_id, holdout_days, now)
    except FitError as error:
        return {"status": clv_service.fail_fit(ctx.session, workspace_id, model_id, error)}
    written = 0
    while written < len(fitted.ids):
        written = clv_fit.write_values(ctx.session, workspace_id, fitted, written)
        ctx.progress(written, len(fitted.ids))
        ctx.checkpoint()
    status = clv_service.finish_fit(ctx.session, workspace_id, model_id, fitted, holdout_days, now)
    return {"status": status}
