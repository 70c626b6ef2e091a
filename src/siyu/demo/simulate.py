"""Demo mode only: the WeCom simulator plays the staff a demo has no phones for.

A WeCom 1:1 broadcast waits until each staff member taps send in their WeCom client. In
`siyu demo` nobody can, so the results page offers "模拟员工确认": the simulator's control
API confirms the broadcast's waiting tasks, and a poll job reads the send results back
exactly as it would from WeCom. Outside demo mode the endpoint answers 404.
"""

import httpx
from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from siyu.config import Mode
from siyu.connectors.wecom.connection import get_connection
from siyu.db.dependencies import DbSession
from siyu.exceptions import Conflict, NotFound, SiyuError
from siyu.messaging import service as messaging_service
from siyu.messaging.schemas import TaskOut
from siyu.workspace.dependencies import Operator
from siyu.workspace.principal import Principal

router = APIRouter(prefix="/demo", tags=["demo"])

SIMULATOR_TIMEOUT_SECONDS = 10.0
WAITING = "waiting"
# What the simulator answers when the member already tapped send (not yet polled by Siyu).
ALREADY_SENT = "already sent"


class SimulatorUnavailable(SiyuError):
    status_code = 502
    code = "simulator_unavailable"


class ConfirmIn(BaseModel):
    """Confirm as this staff member only; without it, every waiting task is confirmed."""

    staff_id: int | None = None


class SimulatedConfirm(BaseModel):
    broadcast_id: int
    confirmed_tasks: int
    # Tasks the simulator had already sent; the poll job picks their results up too.
    already_confirmed: int
    # Per-customer outcomes the simulator reported for the tasks confirmed now.
    sent: int
    not_friend: int
    over_quota: int
    poll_job_id: int


def _waiting_tasks(
    session: Session, principal: Principal, broadcast_id: int, staff_id: int | None
) -> list[TaskOut]:
    tasks = messaging_service.results(session, principal, broadcast_id).tasks
    waiting = [t for t in tasks if t.status == WAITING and t.msgid]
    if staff_id is not None:
        waiting = [t for t in waiting if t.staff_id == staff_id]
    if not waiting:
        details = {"field": "staff_id"} if staff_id is not None else {}
        raise Conflict("no WeCom task of this broadcast is waiting for staff to confirm", details)
    return waiting


async def confirm_as_staff(
    session: Session, principal: Principal, broadcast_id: int, data: ConfirmIn, *, demo: bool
) -> SimulatedConfirm:
    if not demo:
        raise NotFound("WeCom simulator", {"hint": "only in demo mode (siyu demo)"})
    tasks = _waiting_tasks(session, principal, broadcast_id, data.staff_id)
    base_url = get_connection(session, principal.workspace_id).api_base_url.rstrip("/")
    # Nothing is written yet: end the transaction so SQLite's write lock (BEGIN IMMEDIATE)
    # is not held while the simulator answers.
    session.commit()
    outcome = SimulatedConfirm(
        broadcast_id=broadcast_id,
        confirmed_tasks=0,
        already_confirmed=0,
        sent=0,
        not_friend=0,
        over_quota=0,
        poll_job_id=0,
    )
    try:
        async with httpx.AsyncClient(timeout=SIMULATOR_TIMEOUT_SECONDS) as http:
            for task in tasks:
                response = await http.post(
                    f"{base_url}/control/groupmsg/confirm",
                    json={"msgid": task.msgid, "userid": task.userid},
                )
                refusal = _refusal(response)
                if refusal == ALREADY_SENT:
                    outcome.already_confirmed += 1
                    continue
                if refusal is not None:
                    raise Conflict(f"the WeCom simulator refused task {task.id}: {refusal}")
                response.raise_for_status()
                counts = response.json()
                outcome.confirmed_tasks += 1
                outcome.sent += int(counts.get("sent", 0))
                outcome.not_friend += int(counts.get("not_friend", 0))
                outcome.over_quota += int(counts.get("over_quota", 0))
    except httpx.HTTPError as exc:
        raise SimulatorUnavailable(f"the WeCom simulator did not answer: {exc}") from exc
    poll = messaging_service.poll_now(session, principal.workspace_id, broadcast_id)
    outcome.poll_job_id = poll.id
    return outcome


def _refusal(response: httpx.Response) -> str | None:
    """The simulator's reason when it refused to confirm (it answers 404 with a detail)."""
    if response.status_code != httpx.codes.NOT_FOUND:
        return None
    try:
        detail = response.json().get("detail")
    except ValueError:
        return None
    return str(detail) if detail else None


@router.post("/wecom/broadcasts/{broadcast_id}/confirm", response_model=SimulatedConfirm)
async def simulate_staff_confirm(
    broadcast_id: int,
    request: Request,
    session: DbSession,
    principal: Operator,
    body: ConfirmIn | None = None,
) -> SimulatedConfirm:
    """Demo mode only: simulated staff tap send on the broadcast's waiting WeCom tasks."""
    demo = request.app.state.settings.mode is Mode.DEMO
    return await confirm_as_staff(session, principal, broadcast_id, body or ConfirmIn(), demo=demo)
