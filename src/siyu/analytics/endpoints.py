"""Analytics API: the home dashboard."""

from fastapi import APIRouter

from siyu.analytics import service
from siyu.analytics.schemas import Overview
from siyu.db.dependencies import DbSession
from siyu.workspace.dependencies import Viewer

router = APIRouter(tags=["analytics"])


@router.get("/analytics/overview", response_model=Overview)
def overview(session: DbSession, principal: Viewer) -> Overview:
    return service.overview(session, principal)
