from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import Response
from pydantic import BaseModel

import siyu.analytics.feature_jobs  # noqa: F401 - registers the jobs queued here
from siyu.analytics import feature_jobs, rfm
from siyu.analytics.csv import csv_response
from siyu.db.dependencies import DbSession
from siyu.segments import service as segments_service
from siyu.workspace.dependencies import Admin, Operator, Viewer

router = APIRouter(prefix="/analytics/rfm", tags=["analytics"])
CSV_HEADER = [
    "分类",
    "class",
    "客户数",
    "占比",
    "平均最近购买天数",
    "平均购买次数",
    "平均消费(分)",
    "GMV(分)",
]


class QueuedOut(BaseModel):
    job_id: int


@router.get(
    "",
    response_model=rfm.RfmOut,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
def get_rfm(
    session: DbSession,
    principal: Viewer,
    format: Annotated[Literal["json", "csv"], Query()] = "json",  # noqa: A002 - the API's name
) -> rfm.RfmOut | Response:
    """The eight RFM classes (customers, share, averages, GMV), the R×F score grid and the
    cut points of the last scoring."""
    found = rfm.distribution(session, segments_service.context(session, principal.workspace_id))
    if format == "csv":
        return csv_response(
            "rfm.csv",
            [
                "分类",
                "class",
                "客户数",
                "占比",
                "平均最近购买天数",
                "平均购买次数",
                "平均消费(分)",
                "GMV(分)",
            ],
            [
                [
                    c.label,
                    c.rfm_class,
                    c.customers,
                    c.share,
                    c.avg_recency_days,
                    c.avg_frequency,
                    c.avg_monetary_fen,
                    c.gmv_fen,
                ]
                for c in found.classes
            ],
        )
    return found


@router.get("/settings", response_model=rfm.RfmSettings)
def get_settings(session: DbSession, principal: Viewer) -> rfm.RfmSettings:
    return rfm.get_settings(session, principal.workspace_id)


@router.put("/settings", response_model=rfm.RfmSettings)
def put_settings(body: rfm.RfmSettings, session: DbSession, principal: Admin) -> rfm.RfmSettings:
    """Window (30, 90 or 365 days) and method (quintiles or averages); rescoring follows."""
    saved = rfm.put_settings(session, principal.workspace_id, body)
    feature_jobs.queue_refresh(session, principal.workspace_id)
    return saved


@router.post("/recompute", response_model=QueuedOut, status_code=status.HTTP_202_ACCEPTED)
def recompute(session: DbSession, principal: Operator) -> QueuedOut:
    """Recompute every customer's order windows and RFM scores now (a job; follow /jobs/{id})."""
    return QueuedOut(job_id=feature_jobs.queue_refresh(session, principal.workspace_id))
