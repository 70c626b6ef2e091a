"""Jobs of the WeCom sync: full sync and reconciliation runs, the nightly reconciliation,
lost-customer alerts and pushing Siyu's tag changes to WeCom."""

import traceback
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.connectors.wecom import group_handover, handover, sync

# Importing the handlers registers them for the callback inbox job in every worker.
from siyu.connectors.wecom import handlers as _handlers  # noqa: F401
from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.clients import client_for, release_before_calls
from siyu.connectors.wecom.errors import WecomApiError
from siyu.customers import wecom as customers_wecom
from siyu.exceptions import NotFound
from siyu.kit.time import utcnow
from siyu.models import Schedule, WecomSyncRun, WecomTransfer
from siyu.staff import service as staff_service
from siyu.tags import service as tags_service
from siyu.worker.context import JobContext
from siyu.worker.queue import enqueue
from siyu.worker.registry import job
from siyu.worker.runner import next_cron_time

SYNC_JOB = "wecom.sync"
RECONCILE_JOB = "wecom.reconcile"
RECONCILE_CRON = "30 3 * * *"  # nightly, 03:30 UTC


def start_run(session: Session, workspace_id: int, kind: str) -> WecomSyncRun:
    """Queue a full sync or a reconciliation (one at a time per workspace) and make sure the
    nightly reconciliation is scheduled."""
    run = sync.new_run(session, workspace_id, kind)
    queued = enqueue(session, SYNC_JOB, {"run_id": run.id}, workspace_id=workspace_id)
    session.flush()
    run.job_id = queued.id
    ensure_reconcile_schedule(session, workspace_id)
    return run


def ensure_reconcile_schedule(session: Session, workspace_id: int) -> None:
    key = f"{RECONCILE_JOB}:{workspace_id}"
    if session.scalar(select(Schedule.id).where(Schedule.key == key)) is None:
        session.add(
            Schedule(
                workspace_id=workspace_id,
                key=key,
                cron=RECONCILE_CRON,
                job_name=RECONCILE_JOB,
                payload={},
                next_run_at=next_cron_time(RECONCILE_CRON, utcnow()),
            )
        )
        session.flush()


async def execute_run(ctx: JobContext, run: WecomSyncRun) -> dict[str, Any]:
    """Run (or resume) a sync run to its end; a failure is recorded on the run and re-raised
    so the job retries from the run's checkpoint."""
    session = ctx.session
    if run.status in ("succeeded", "failed"):
        return {"run_id": run.id, "status": run.status}
    run.status = "running"
    run.error = None
    try:
        async with client_for(session, run.workspace_id) as client:
            await sync.Syncer(
                session, run, client, commit=ctx.checkpoint, progress=ctx.progress
            ).execute()
    except Exception as exc:
        session.rollback()
        run.error = "".join(traceback.format_exception_only(exc)).strip()[:4000]
        if ctx.attempt >= MAX_ATTEMPTS:
            run.status = "failed"
            run.finished_at = utcnow()
        ctx.checkpoint()
        raise
    return {"run_id": run.id, "status": run.status, "counts": run.counts, "fixes": run.fixes}


MAX_ATTEMPTS = 8


@job(SYNC_JOB, max_attempts=MAX_ATTEMPTS)
async def run_sync(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    assert ctx.workspace_id is not None
    release_before_calls(ctx.session, ctx.checkpoint)
    run = sync.get_run(ctx.session, ctx.workspace_id, int(payload["run_id"]))
    return await execute_run(ctx, run)


@job(RECONCILE_JOB, max_attempts=1)
def reconcile(ctx: JobContext, _payload: dict[str, Any]) -> dict[str, Any]:
    """The nightly reconciliation: queue a reconcile run unless one is already going."""
    assert ctx.workspace_id is not None
    if sync.running_run(ctx.session, ctx.workspace_id) is not None:
        return {"skipped": "a sync is running"}
    run = start_run(ctx.session, ctx.workspace_id, "reconcile")
    return {"run_id": run.id}


@job(customers_wecom.LOSS_ALERT_JOB)
async def alert_loss(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Tell the lost customer's staff member's department leaders (WeCom department_leader).

    Siyu has no messaging yet: the alert is recorded on the loss (who, when) and shown by
    GET /wecom/lost-customers.
    """
    release_before_calls(ctx.session, ctx.checkpoint)
    assert ctx.workspace_id is not None
    session = ctx.session
    loss = customers_wecom.get_loss(session, ctx.workspace_id, int(payload["loss_id"]))
    if loss is None or loss.alerted_at is not None:
        return {"status": "skipped"}
    leaders: list[str] = []
    department = (
        staff_service.get_department(session, ctx.workspace_id, loss.department_id)
        if loss.department_id is not None
        else None
    )
    if department is not None and department.wecom_id is not None:
        async with client_for(session, ctx.workspace_id) as client:
            listed = (await client.department_list(int(department.wecom_id))).department
        leaders = sorted(
            {u for d in listed if d.id == department.wecom_id for u in d.department_leader}
        )
    loss.alerted_userids = leaders
    loss.alerted_at = utcnow()
    return {"status": "alerted", "userids": leaders}


@job(tags_service.WECOM_PUSH_JOB)
async def push_tags(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Carry a tag change made in Siyu to WeCom: create, rename or delete a corp tag or
    group, or tag customers (mark_tag on each of their active relations)."""
    release_before_calls(ctx.session, ctx.checkpoint)
    assert ctx.workspace_id is not None
    session, workspace_id = ctx.session, ctx.workspace_id
    op = payload["op"]
    async with client_for(session, workspace_id) as client:
        if op == "create":
            return await _create_corp_tag(session, workspace_id, client, int(payload["tag_id"]))
        if op == "rename":
            await client.externalcontact_edit_corp_tag(payload["id"], name=payload["name"])
        elif op == "delete":
            try:
                await client.externalcontact_del_corp_tag(
                    tag_id=payload.get("tag_ids", ()), group_id=payload.get("group_ids", ())
                )
            except WecomApiError as exc:
                if exc.errcode != GONE_TAG:
                    raise
        elif op == "mark":
            return await _mark(session, workspace_id, client, payload)
    return {"op": op}


GONE_TAG = 40068  # invalid tag or group id: already deleted
TAG_EXISTS = 40071


async def _create_corp_tag(
    session: Session, workspace_id: int, client: WecomClient, tag_id: int
) -> dict[str, Any]:
    try:
        tag = tags_service.get_tag(session, workspace_id, tag_id)
    except NotFound:
        return {"op": "create", "skipped": "tag deleted"}
    group = tags_service.get_group(session, workspace_id, tag.group_id)
    if tag.wecom_tag_id or not group.wecom_group_id:
        return {"op": "create", "skipped": "nothing to create"}
    try:
        created = await client.externalcontact_add_corp_tag(
            [tag.name], group_id=group.wecom_group_id
        )
    except WecomApiError as exc:
        if exc.errcode != TAG_EXISTS:
            raise
        # Created by an earlier attempt that did not commit: adopt it by name.
        await sync.read_tag_library(session, workspace_id, client)
        return {"op": "create", "adopted": True}
    for wecom_tag in created.tag_group.tag:
        if wecom_tag.name == tag.name:
            tag.wecom_tag_id = wecom_tag.id
    return {"op": "create", "wecom_tag_id": tag.wecom_tag_id}


async def _mark(
    session: Session, workspace_id: int, client: WecomClient, payload: dict[str, Any]
) -> dict[str, Any]:
    add: list[str] = payload.get("add", [])
    remove: list[str] = payload.get("remove", [])
    ids = tags_service.tag_ids_by_wecom_id(session, workspace_id, [*add, *remove])
    relations = customers_wecom.active_wecom_relations(
        session, workspace_id, payload["customer_ids"]
    )
    for _relation, userid, external_userid in relations:
        await client.externalcontact_mark_tag(
            userid, external_userid, add_tag=add, remove_tag=remove
        )
    customers_wecom.change_relation_tags(
        session,
        workspace_id,
        [relation.id for relation, _, _ in relations],
        add=[ids[t] for t in add if t in ids],
        remove=[ids[t] for t in remove if t in ids],
    )
    return {"op": "mark", "relations": len(relations)}


@job(handover.START_JOB)
async def handover_start(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Send queued transfers to WeCom and schedule the polling of their results."""
    release_before_calls(ctx.session, ctx.checkpoint)
    assert ctx.workspace_id is not None
    session, workspace_id = ctx.session, ctx.workspace_id
    async with client_for(session, workspace_id) as client:
        waiting = await handover.start(session, workspace_id, client, payload["ids"])
    _poll_later(session, workspace_id, waiting)
    return {"waiting": len(waiting)}


@job(handover.POLL_JOB)
async def handover_poll(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Read transfer results until every transfer is final (WeCom completes them in ~24 h)."""
    release_before_calls(ctx.session, ctx.checkpoint)
    assert ctx.workspace_id is not None
    session, workspace_id = ctx.session, ctx.workspace_id
    async with client_for(session, workspace_id) as client:
        waiting = await handover.poll(session, workspace_id, client, payload["ids"])
    _poll_later(session, workspace_id, waiting)
    return {"waiting": len(waiting)}


@job(group_handover.START_JOB)
async def group_handover_start(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Send queued group transfers to WeCom; the groups that moved are re-read at once."""
    release_before_calls(ctx.session, ctx.checkpoint)
    assert ctx.workspace_id is not None
    async with client_for(ctx.session, ctx.workspace_id) as client:
        moved = await group_handover.start(ctx.session, ctx.workspace_id, client, payload["ids"])
    return {"moved": moved}


def _poll_later(session: Session, workspace_id: int, ids: list[int]) -> None:
    if not ids:
        return
    transfers = session.scalars(select(WecomTransfer).where(WecomTransfer.id.in_(ids))).all()
    enqueue(
        session,
        handover.POLL_JOB,
        {"ids": ids},
        workspace_id=workspace_id,
        run_at=handover.next_poll(transfers),
    )
