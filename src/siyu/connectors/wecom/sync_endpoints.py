"""Console API of the WeCom sync: start a sync or reconciliation, its history, lost customers,
and handovers of customers and of customer groups."""

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session

from siyu.connectors.wecom import group_handover, handover, sync, sync_jobs
from siyu.connectors.wecom.sync_schemas import (
    GroupHandoverCandidateOut,
    GroupHandoverIn,
    GroupTransferOut,
    HandoverCandidateOut,
    HandoverIn,
    LostCustomerOut,
    SyncRunOut,
    SyncStartIn,
    TransferOut,
)
from siyu.customers import wecom as customers_wecom
from siyu.db.dependencies import DbSession
from siyu.kit.pagination import PageOut
from siyu.models import WecomSyncRun, WecomTransfer
from siyu.worker.queue import get_job
from siyu.workspace import service as workspace_service
from siyu.workspace.dependencies import Admin, Operator

router = APIRouter(prefix="/wecom", tags=["wecom"])


def _run_out(session: Session, run: WecomSyncRun) -> SyncRunOut:
    out = SyncRunOut.model_validate(run)
    if run.job_id is not None and run.status in sync.RUNNING:
        job = get_job(session, run.job_id, workspace_id=run.workspace_id)
        out.progress_done, out.progress_total = job.progress_done, job.progress_total
    return out


def _start(session: Session, principal: Admin, kind: str) -> SyncRunOut:
    run = sync_jobs.start_run(session, principal.workspace_id, kind)
    workspace_service.audit(
        session, principal, f"wecom.{kind}", target_type="wecom_sync_run", target_id=run.id
    )
    return _run_out(session, run)


@router.post("/sync", response_model=SyncRunOut, status_code=status.HTTP_202_ACCEPTED)
def start_sync(session: DbSession, principal: Admin, body: SyncStartIn | None = None) -> SyncRunOut:
    """Start a full sync (409 while another sync of the workspace is queued or running)."""
    return _start(session, principal, body.kind if body else "full")


@router.post("/reconcile", response_model=SyncRunOut, status_code=status.HTTP_202_ACCEPTED)
def start_reconcile(session: DbSession, principal: Admin) -> SyncRunOut:
    """Re-read WeCom and repair drift now (it also runs nightly)."""
    return _start(session, principal, "reconcile")


@router.get("/sync/runs", response_model=list[SyncRunOut])
def sync_runs(
    session: DbSession, principal: Operator, limit: int = Query(20, ge=1, le=100)
) -> list[SyncRunOut]:
    """Sync history, newest first, with counts, fixes, progress and errors."""
    runs = sync.recent_runs(session, principal.workspace_id, limit)
    return [_run_out(session, run) for run in runs]


@router.get("/lost-customers", response_model=PageOut[LostCustomerOut])
def lost_customers(
    session: DbSession,
    principal: Operator,
    staff_id: int | None = None,
    department_id: int | None = None,
    deleted_by: Literal["customer", "staff", "unknown"] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=200),
) -> PageOut[LostCustomerOut]:
    """Customers who deleted a staff member or were deleted by one, newest first."""
    query = customers_wecom.LossQuery(
        staff_id=staff_id,
        department_id=department_id,
        deleted_by=deleted_by,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    rows, next_cursor = customers_wecom.lost_customers(session, principal.workspace_id, query)
    return PageOut(
        items=[
            LostCustomerOut(
                id=loss.id,
                customer_id=loss.customer_id,
                customer_name=customer_name,
                staff_id=loss.staff_id,
                staff_name=staff_name,
                department_id=loss.department_id,
                deleted_by=loss.deleted_by,
                detected_by=loss.detected_by,
                occurred_at=loss.occurred_at,
                alerted_userids=[str(u) for u in loss.alerted_userids],
                alerted_at=loss.alerted_at,
            )
            for loss, customer_name, staff_name in rows
        ],
        next_cursor=next_cursor,
    )


@router.post("/handovers", response_model=list[TransferOut], status_code=status.HTTP_202_ACCEPTED)
def start_handover(body: HandoverIn, session: DbSession, principal: Admin) -> list[TransferOut]:
    """Hand customers to another staff member (在职/离职继承); refused ones say why."""
    transfers = handover.request_transfers(
        session,
        principal.workspace_id,
        kind=body.kind,
        handover_userid=body.handover_userid,
        takeover_userid=body.takeover_userid,
        external_userids=body.external_userids,
    )
    workspace_service.audit(
        session,
        principal,
        f"wecom.handover.{body.kind}",
        target_type="staff",
        target_id=body.handover_userid,
        details={"takeover_userid": body.takeover_userid, "customers": len(transfers)},
    )
    return [TransferOut.model_validate(t) for t in transfers]


@router.get("/handovers", response_model=list[TransferOut])
def handovers(
    session: DbSession,
    principal: Operator,
    handover_userid: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[TransferOut]:
    """Transfers, newest first, with their status."""
    rows = handover.recent_transfers(
        session, principal.workspace_id, handover_userid=handover_userid, limit=limit
    )
    return [TransferOut.model_validate(t) for t in rows]


@router.get("/handovers/candidates", response_model=list[HandoverCandidateOut])
def handover_candidates(
    session: DbSession,
    principal: Admin,
    handover_userid: str = Query(min_length=1, max_length=64),
    kind: Literal["onjob", "resigned"] = "onjob",
) -> list[HandoverCandidateOut]:
    """The customers a member follows, each marked eligible or with why WeCom would refuse."""
    rows = handover.candidates(
        session, principal.workspace_id, kind=kind, handover_userid=handover_userid
    )
    return [HandoverCandidateOut.model_validate(c) for c in rows]


def _group_transfer_out(transfer: WecomTransfer, group_name: str | None) -> GroupTransferOut:
    return GroupTransferOut(
        id=transfer.id,
        kind=transfer.kind.removeprefix("group_"),
        handover_userid=transfer.handover_userid,
        takeover_userid=transfer.takeover_userid,
        chat_id=transfer.external_userid,
        group_name=group_name,
        status=transfer.status,
        errcode=transfer.errcode,
        reason=transfer.reason,
        requested_at=transfer.requested_at,
        finished_at=transfer.finished_at,
    )


@router.post(
    "/handovers/groups",
    response_model=list[GroupTransferOut],
    status_code=status.HTTP_202_ACCEPTED,
)
def start_group_handover(
    body: GroupHandoverIn, session: DbSession, principal: Admin
) -> list[GroupTransferOut]:
    """Hand customer groups to a new owner (在职/离职继承); refused ones say why."""
    transfers = group_handover.request_group_transfers(
        session,
        principal.workspace_id,
        kind=body.kind,
        handover_userid=body.handover_userid,
        takeover_userid=body.takeover_userid,
        chat_ids=body.chat_ids,
    )
    workspace_service.audit(
        session,
        principal,
        f"wecom.group_handover.{body.kind}",
        target_type="staff",
        target_id=body.handover_userid,
        details={"takeover_userid": body.takeover_userid, "groups": len(transfers)},
    )
    return [_group_transfer_out(t, None) for t in transfers]


@router.get("/handovers/groups", response_model=list[GroupTransferOut])
def group_handovers(
    session: DbSession,
    principal: Operator,
    handover_userid: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[GroupTransferOut]:
    """Group transfers, newest first, each with its result."""
    rows = group_handover.recent_group_transfers(
        session, principal.workspace_id, handover_userid=handover_userid, limit=limit
    )
    return [_group_transfer_out(t, name) for t, name in rows]


@router.get("/handovers/groups/candidates", response_model=list[GroupHandoverCandidateOut])
def group_handover_candidates(
    session: DbSession,
    principal: Admin,
    handover_userid: str = Query(min_length=1, max_length=64),
    kind: Literal["onjob", "resigned"] = "onjob",
) -> list[GroupHandoverCandidateOut]:
    """The groups a member owns, each marked eligible or with why WeCom would refuse it."""
    rows = group_handover.group_candidates(
        session, principal.workspace_id, kind=kind, handover_userid=handover_userid
    )
    return [GroupHandoverCandidateOut.model_validate(c) for c in rows]
