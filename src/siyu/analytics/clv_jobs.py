"""CLV fitting in the background."""

from typing import Any

from siyu.analytics import clv_service
from siyu.worker.context import JobContext
from siyu.worker.registry import job


@job(clv_service.FIT_JOB, max_attempts=2)
def fit(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    assert ctx.workspace_id is not None
    status = clv_service.run_fit(
        ctx.session, ctx.workspace_id, int(payload["model_id"]), int(payload["holdout_days"])
    )
    return {"status": status}
