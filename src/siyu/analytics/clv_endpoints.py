from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

import siyu.analytics.clv_jobs  # noqa: F401 - registers the fit job queued here
from siyu.analytics import clv_service
from siyu.analytics.csv import csv_response
from siyu.db.dependencies import DbSession
from siyu.workspace.dependencies import Operator, Viewer

router = APIRouter(prefix="/analytics/clv", tags=["analytics"])


@router.get(
    "",
    response_model=clv_service.ClvOut,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
def get_clv(
    session: DbSession,
    principal: Viewer,
    format: Annotated[Literal["json", "csv"], Query()] = "json",  # noqa: A002 - the API's name
) -> clv_service.ClvOut | Response:
    """The latest fitted model (BG/NBD r, α, a, b; Gamma-Gamma p, q, γ; weeks), its quality
    against the hold-out period, and customers by P(alive) and by predicted 365-day value."""
    found = clv_service.overview(session, principal.workspace_id)
    if format == "csv":
        rows = [["P(alive)", b.label, b.customers] for b in found.alive_bands]
        rows += [["预测一年价值", b.label, b.customers] for b in found.value_bands]
        return csv_response("clv.csv", ["指标", "区间", "客户数"], rows)
    return found


@router.post("/fit", response_model=clv_service.ClvModelOut, status_code=status.HTTP_202_ACCEPTED)
def fit(
    body: clv_service.FitIn, session: DbSession, principal: Operator
) -> clv_service.ClvModelOut:
    """Fit the workspace's CLV model now, as a job: its status goes from fitting to ready
    or failed."""
    return clv_service.queue_fit(session, principal.workspace_id, body.holdout_days)


@router.get("/models", response_model=list[clv_service.ClvModelOut])
def list_models(session: DbSession, principal: Viewer) -> list[clv_service.ClvModelOut]:
    return clv_service.models(session, principal.workspace_id)
