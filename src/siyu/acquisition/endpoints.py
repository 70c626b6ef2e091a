from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

import siyu.acquisition.jobs  # noqa: F401 - registers the jobs the service enqueues
from siyu.acquisition import service, stats
from siyu.acquisition.schemas import (
    DefaultWelcome,
    LiveCodeAddOut,
    LiveCodeIn,
    LiveCodeOut,
    LiveCodePatch,
    LiveCodeStats,
    LiveCodeStatus,
    SimulatedScan,
    SimulateScanIn,
)
from siyu.config import Mode
from siyu.db.dependencies import DbSession
from siyu.workspace.dependencies import Operator, Viewer

router = APIRouter(tags=["live-codes"])


@router.get("/live-codes", response_model=list[LiveCodeOut])
def list_codes(
    session: DbSession, principal: Viewer, status: LiveCodeStatus | None = None
) -> list[LiveCodeOut]:
    """Every live code (deleted ones excluded) with its staff and adds today and in total."""
    return service.list_codes(session, principal.workspace_id, status and status.value)


@router.post("/live-codes", response_model=LiveCodeOut, status_code=201)
async def create_code(body: LiveCodeIn, session: DbSession, principal: Operator) -> LiveCodeOut:
    """Create the code and its WeCom contact way (QR code) with the staff on duty now."""
    return await service.create_code(session, principal, body)


@router.get("/live-codes/default-welcome", response_model=DefaultWelcome)
def get_default_welcome(session: DbSession, principal: Viewer) -> DefaultWelcome:
    """The welcome message sent for codes that have none of their own."""
    return service.default_welcome(session, principal.workspace_id)


@router.put("/live-codes/default-welcome", response_model=DefaultWelcome)
def set_default_welcome(
    body: DefaultWelcome, session: DbSession, principal: Operator
) -> DefaultWelcome:
    return service.set_default_welcome(session, principal, body)


@router.get("/live-codes/{code_id}", response_model=LiveCodeOut)
def get_code(code_id: int, session: DbSession, principal: Viewer) -> LiveCodeOut:
    return service.code_out(session, principal.workspace_id, code_id)


@router.patch("/live-codes/{code_id}", response_model=LiveCodeOut)
async def update_code(
    code_id: int, body: LiveCodePatch, session: DbSession, principal: Operator
) -> LiveCodeOut:
    """Change a code; WeCom's contact way follows when its staff or skip-verify change."""
    return await service.update_code(session, principal, code_id, body)


@router.delete("/live-codes/{code_id}", status_code=204)
async def delete_code(code_id: int, session: DbSession, principal: Operator) -> None:
    """Delete the WeCom contact way; the code's adds stay in its statistics."""
    await service.delete_code(session, principal, code_id)


@router.get("/live-codes/{code_id}/stats", response_model=LiveCodeStats)
def code_stats(
    code_id: int,
    session: DbSession,
    principal: Viewer,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> LiveCodeStats:
    return stats.code_stats(session, principal.workspace_id, code_id, days=days)


@router.get("/live-codes/{code_id}/adds", response_model=list[LiveCodeAddOut])
def code_adds(
    code_id: int,
    session: DbSession,
    principal: Viewer,
    before_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[LiveCodeAddOut]:
    """The latest adds, newest first, with each welcome message's outcome and WeCom's reason."""
    return stats.code_adds(
        session, principal.workspace_id, code_id, limit=limit, before_id=before_id
    )


@router.get(
    "/live-codes/{code_id}/qr",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def code_qr(code_id: int, session: DbSession, principal: Viewer) -> Response:
    """The QR code as a PNG download."""
    image = await service.qr_image(session, principal.workspace_id, code_id)
    return Response(
        image,
        media_type="image/png",
        headers={"Content-Disposition": f'attachment; filename="live-code-{code_id}.png"'},
    )


@router.post("/live-codes/{code_id}/simulate-scan", response_model=SimulatedScan)
async def simulate_scan(
    code_id: int, body: SimulateScanIn, request: Request, session: DbSession, principal: Operator
) -> SimulatedScan:
    """Demo mode only: a simulated customer scans the code in the WeCom simulator."""
    demo = request.app.state.settings.mode is Mode.DEMO
    return await service.simulate_scan(
        session, principal.workspace_id, code_id, name=body.name, demo=demo
    )
