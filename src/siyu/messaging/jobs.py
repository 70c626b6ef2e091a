"""Background work of broadcasts: plan and start, send passes, WeCom polling and cancels."""

from datetime import datetime, timedelta
from typing import Any

from siyu.config import get_settings
from siyu.connectors.wecom.clients import release_before_calls
from siyu.db.maintenance import analyze_stale
from siyu.kit.time import utcnow
from siyu.messaging import planning, sending, service, wecom, wecom_groups
from siyu.messaging.repository import MessagingRepository
from siyu.messaging.schemas import BroadcastStatus, Channel
from siyu.worker.context import JobContext
from siyu.worker.queue import enqueue
from siyu.worker.registry import job

RETRY_PASS_AFTER = timedelta(seconds=30)


@job(service.START_JOB, max_attempts=5)
async def start(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Plan the deliveries (once) and begin sending; WeCom: create the staff's tasks."""
    assert ctx.workspace_id is not None
    session = ctx.session
    broadcast = MessagingRepository(session, ctx.workspace_id).broadcast(payload["broadcast_id"])
    startable = [BroadcastStatus.SCHEDULED.value, BroadcastStatus.PLANNING.value]
    if broadcast is not None and broadcast.channel in service.WECOM_CHANNELS:
        # a worker that stopped while creating tasks left the broadcast sending
        startable.append(BroadcastStatus.SENDING.value)
    if broadcast is None or broadcast.status not in startable:
        return {"skipped": True}
    group = broadcast.channel == Channel.WECOM_GROUP.value
    if broadcast.planned_at is None:
        analyze_stale(session)
        if group:
            wecom_groups.plan(session, broadcast)
        else:
            planning.plan(session, broadcast)
        service.next_occurrence(session, broadcast)
    now = utcnow()
    service.mark_started(broadcast, now)
    broadcast.status = BroadcastStatus.SENDING.value
    if broadcast.channel in service.WECOM_CHANNELS:
        ctx.checkpoint()
        release_before_calls(session, ctx.checkpoint)
        if group:
            created = await wecom_groups.create_tasks(ctx, broadcast)
        else:
            created = await wecom.create_tasks(ctx, broadcast)
        session.refresh(broadcast, ["status"])
        if broadcast.status == BroadcastStatus.SENDING.value:
            broadcast.status = BroadcastStatus.WAITING.value
            # staff need a while to confirm; with no task to wait for, finish at once
            tasks = MessagingRepository(session, ctx.workspace_id).tasks(broadcast.id)
            waiting = any(t.status == "waiting" for t in tasks)
            enqueue(
                session,
                service.POLL_JOB,
                {"broadcast_id": broadcast.id},
                workspace_id=ctx.workspace_id,
                run_at=utcnow() + timedelta(seconds=get_settings().broadcast_poll_seconds)
                if waiting
                else None,
            )
        elif broadcast.status == BroadcastStatus.CANCELLED.value:
            enqueue(
                session,
                service.CANCEL_JOB,
                {"broadcast_id": broadcast.id},
                workspace_id=ctx.workspace_id,
            )
        return {"planned": broadcast.planned_count, **created}
    enqueue(
        session, service.SEND_JOB, {"broadcast_id": broadcast.id}, workspace_id=ctx.workspace_id
    )
    return {"planned": broadcast.planned_count, "excluded": broadcast.excluded_count}


@job(service.SEND_JOB, max_attempts=20)
async def send(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """One pass over what is pending; a later pass takes retryable failures and quiet hours."""
    assert ctx.workspace_id is not None
    session = ctx.session
    result = await sending.send(ctx, payload["broadcast_id"])
    broadcast = MessagingRepository(session, ctx.workspace_id).broadcast(payload["broadcast_id"])
    if broadcast is None or broadcast.status != BroadcastStatus.SENDING.value:
        return result
    if "quiet_until" in result:
        enqueue(
            session,
            service.SEND_JOB,
            {"broadcast_id": broadcast.id},
            workspace_id=ctx.workspace_id,
            run_at=datetime.fromisoformat(result["quiet_until"]),
        )
        return result
    if not sending.finish_if_done(session, broadcast):
        wait = result.get("retry_in")
        enqueue(
            session,
            service.SEND_JOB,
            {"broadcast_id": broadcast.id},
            workspace_id=ctx.workspace_id,
            run_at=utcnow() + (RETRY_PASS_AFTER if wait is None else timedelta(seconds=wait)),
        )
    return result


@job(service.POLL_JOB, max_attempts=10)
async def poll_wecom(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Pull WeCom's results until every staff task is final; polls again while any waits."""
    assert ctx.workspace_id is not None
    session = ctx.session
    broadcast = MessagingRepository(session, ctx.workspace_id).broadcast(payload["broadcast_id"])
    if broadcast is None or broadcast.status != BroadcastStatus.WAITING.value:
        return {"skipped": True}
    release_before_calls(session, ctx.checkpoint)
    if payload.get("remind"):
        reminded = await wecom.remind(session, broadcast)
        return {"reminded": reminded}
    result = await wecom.poll(session, broadcast)
    if result["waiting"]:
        enqueue(
            session,
            service.POLL_JOB,
            {"broadcast_id": broadcast.id},
            workspace_id=ctx.workspace_id,
            run_at=utcnow() + timedelta(seconds=get_settings().broadcast_poll_seconds),
        )
    return result


@job(service.CANCEL_JOB, max_attempts=5)
async def cancel_wecom(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    assert ctx.workspace_id is not None
    broadcast = MessagingRepository(ctx.session, ctx.workspace_id).broadcast(
        payload["broadcast_id"]
    )
    if broadcast is None:
        return {"skipped": True}
    release_before_calls(ctx.session, ctx.checkpoint)
    return {"cancelled_tasks": await wecom.cancel(ctx.session, broadcast)}
