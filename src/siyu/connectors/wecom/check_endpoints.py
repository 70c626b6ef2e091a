"""POST /api/v1/wecom/check: run the WeCom preflight for the admin's workspace."""

import asyncio

from fastapi import APIRouter, Request

from siyu.connectors.wecom.connection import callback_url
from siyu.connectors.wecom.preflight import PreflightReport, run_preflight
from siyu.db.dependencies import DbSession
from siyu.models import Workspace
from siyu.workspace.dependencies import Admin

router = APIRouter(prefix="/wecom", tags=["wecom"])


@router.post("/check", response_model=PreflightReport)
def check(request: Request, session: DbSession, principal: Admin) -> PreflightReport:
    """Check secrets, customer-contact permission, trusted IP and callback URL; each failed
    check says what to change in the WeCom admin console."""
    workspace = session.get_one(Workspace, principal.workspace_id)
    url = callback_url(request.app.state.settings.base_url, workspace.slug)
    # Sync endpoints run in a worker thread, which has no event loop of its own.
    return asyncio.run(run_preflight(session, principal.workspace_id, callback_url=url))
