"""WeCom 1:1 broadcasts: one `add_msg_template` task per staff member (and per 10,000
customers), confirmed by each member in the WeCom client, results polled until final."""

from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.connectors.wecom.clients import client_for
from siyu.connectors.wecom.errors import WecomApiError
from siyu.connectors.wecom.schemas import AddMsgTemplateRequest, Attachment, TextContent
from siyu.kit.time import utcnow
from siyu.messaging.rendering import Recipient, fill
from siyu.messaging.repository import MessagingRepository
from siyu.messaging.schemas import BroadcastStatus, DeliveryStatus
from siyu.models import Broadcast, Delivery, WecomBroadcastTask
from siyu.staff import service as staff_service
from siyu.worker.context import JobContext

# add_msg_template takes at most 10,000 external userids per call (protocol.md §5)
CHUNK = 10_000
TEXT_MAX_BYTES = 4000
# get_groupmsg_send_result: 0 not sent yet, 1 sent, 2 not a friend, 3 over WeCom's quota
RESULT_REASONS = {2: "not_friend", 3: "wecom_quota"}
STAFF_SENT = 2
# WeCom's "no sendable customers": every recipient was refused
NO_SENDABLE = 41048


def _text(broadcast: Broadcast, staff_name: str | None) -> str | None:
    text = broadcast.content.get("text")
    if not text:
        return None
    sender = Recipient(0, 0, "", None, None, None, staff_name)
    return fill(text, sender)


def _attachments(broadcast: Broadcast) -> list[Attachment]:
    return [Attachment.model_validate(a) for a in broadcast.content.get("wecom_attachments") or []]


def _fail(rows: list[Delivery], reason: str, detail: str) -> None:
    for row in rows:
        row.status = DeliveryStatus.FAILED.value
        row.reason = reason[:40]
        row.detail = detail[:500]


async def _adopt_lost_task(
    session: Session, workspace_id: int, task: WecomBroadcastTask, text: str | None
) -> str | None:
    """A worker died after WeCom created the task but before its msgid was stored: find it."""
    start = int((task.created_at - timedelta(minutes=1)).timestamp())
    end = int((utcnow() + timedelta(minutes=1)).timestamp())
    async with client_for(session, workspace_id) as client:
        async for message in client.iter_groupmsg_list_v2(
            "single", start, end, creator=task.userid, filter_type=0
        ):
            same_text = (message.text.content if message.text else None) == text
            if same_text and message.create_time >= start:
                return message.msgid
    return None


async def create_tasks(ctx: JobContext, broadcast: Broadcast) -> dict[str, int]:
    """Create every staff member's task; each one is recorded before WeCom is called."""
    session = ctx.session
    repo = MessagingRepository(session, broadcast.workspace_id)
    created = failed = 0
    for task in repo.tasks(broadcast.id):
        if task.status == "creating":
            await _call(ctx, broadcast, task, recovering=True)
    pending = list(
        session.scalars(
            select(Delivery)
            .where(
                Delivery.broadcast_id == broadcast.id,
                Delivery.status == DeliveryStatus.PENDING.value,
            )
            .order_by(Delivery.staff_id, Delivery.id)
        )
    )
    by_staff: dict[int | None, list[Delivery]] = defaultdict(list)
    for row in pending:
        by_staff[row.staff_id].append(row)
    chunks_so_far: dict[int | None, int] = defaultdict(int)
    for task in repo.tasks(broadcast.id):
        chunks_so_far[task.staff_id] = max(chunks_so_far[task.staff_id], task.chunk + 1)
    for staff_id, rows in by_staff.items():
        staff = (
            staff_service.get_staff(session, broadcast.workspace_id, staff_id) if staff_id else None
        )
        if staff is None or not staff.wecom_userid:
            _fail(rows, "no_follow", "the staff member has no WeCom account")
            failed += len(rows)
            continue
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            task = WecomBroadcastTask(
                workspace_id=broadcast.workspace_id,
                broadcast_id=broadcast.id,
                staff_id=staff_id,
                userid=staff.wecom_userid,
                chunk=chunks_so_far[staff_id],
                recipient_count=len(chunk),
                status="creating",
            )
            chunks_so_far[staff_id] += 1
            session.add(task)
            session.flush()
            now = utcnow()
            for row in chunk:
                row.task_id = task.id
                row.status = DeliveryStatus.SENDING.value
                row.committed_at = now
                row.attempts += 1
            ctx.checkpoint()
            await _call(ctx, broadcast, task, recovering=False)
            created += 1
    return {"tasks": created, "failed": failed}


async def _call(
    ctx: JobContext, broadcast: Broadcast, task: WecomBroadcastTask, *, recovering: bool
) -> None:
    session = ctx.session
    staff_name = None
    if task.staff_id is not None:
        staff_name = staff_service.staff_names(
            session, broadcast.workspace_id, [task.staff_id]
        ).get(task.staff_id)
    text = _text(broadcast, staff_name)
    rows = list(session.scalars(select(Delivery).where(Delivery.task_id == task.id)))
    if recovering:
        found = await _adopt_lost_task(session, broadcast.workspace_id, task, text)
        if found is not None:
            task.msgid, task.status = found, "waiting"
            ctx.checkpoint()
            return
    request = AddMsgTemplateRequest(
        chat_type="single",
        sender=task.userid,
        external_userid=[r.address for r in rows if r.address],
        text=TextContent(content=text) if text else None,
        attachments=_attachments(broadcast) or None,
    )
    try:
        async with client_for(session, broadcast.workspace_id) as client:
            result = await client.externalcontact_add_msg_template(request)
    except WecomApiError as exc:
        if exc.errcode == -1:
            raise
        task.status, task.error = "failed", f"{exc.errcode}: {exc.errmsg}"[:500]
        _fail(rows, f"wecom_{exc.errcode}", task.error)
        ctx.checkpoint()
        return
    task.msgid, task.status = result.msgid, "waiting"
    refused = set(result.fail_list)
    _fail([r for r in rows if r.address in refused], "wecom_refused", "WeCom refused this customer")
    ctx.checkpoint()


async def poll(session: Session, broadcast: Broadcast) -> dict[str, Any]:
    """Pull each waiting task's state; deliveries become sent or failed as WeCom reports."""
    repo = MessagingRepository(session, broadcast.workspace_id)
    waiting = [t for t in repo.tasks(broadcast.id) if t.status == "waiting" and t.msgid]
    confirmed = 0
    async with client_for(session, broadcast.workspace_id) as client:
        for task in waiting:
            assert task.msgid is not None
            task.polled_at = utcnow()
            staff_done = False
            async for member in client.iter_groupmsg_task(task.msgid):
                if member.userid == task.userid and member.status == STAFF_SENT:
                    staff_done = True
                    task.confirmed_at = task.confirmed_at or utcnow()
            if not staff_done:
                continue
            results: dict[str, tuple[int, int | None]] = {}
            async for result in client.iter_groupmsg_send_result(task.msgid, task.userid):
                results[result.external_userid] = (result.status, result.send_time)
            rows = session.scalars(
                select(Delivery).where(
                    Delivery.task_id == task.id,
                    Delivery.status == DeliveryStatus.SENDING.value,
                )
            )
            open_rows = 0
            for row in rows:
                status, _ = results.get(row.address or "", (0, None))
                if status == 1:
                    row.status, row.sent_at = DeliveryStatus.SENT.value, utcnow()
                elif status in RESULT_REASONS:
                    row.status = DeliveryStatus.FAILED.value
                    row.reason = RESULT_REASONS[status]
                else:
                    open_rows += 1
            if open_rows == 0:
                task.status = "sent"
                confirmed += 1
    session.flush()
    left = [t for t in repo.tasks(broadcast.id) if t.status in ("creating", "waiting")]
    if not left and broadcast.status == BroadcastStatus.WAITING.value:
        broadcast.status = BroadcastStatus.COMPLETED.value
        broadcast.finished_at = utcnow()
    return {"confirmed": confirmed, "waiting": len(left)}


async def remind(session: Session, broadcast: Broadcast) -> int:
    repo = MessagingRepository(session, broadcast.workspace_id)
    reminded = 0
    async with client_for(session, broadcast.workspace_id) as client:
        for task in repo.tasks(broadcast.id):
            if task.status == "waiting" and task.msgid:
                await client.externalcontact_remind_groupmsg_send(task.msgid)
                task.reminded_at = utcnow()
                reminded += 1
    return reminded


async def cancel(session: Session, broadcast: Broadcast) -> int:
    """Stop tasks staff have not confirmed; their customers are cancelled, never sent."""
    repo = MessagingRepository(session, broadcast.workspace_id)
    stopped = 0
    async with client_for(session, broadcast.workspace_id) as client:
        for task in repo.tasks(broadcast.id):
            if task.status == "waiting" and task.msgid:
                await client.externalcontact_cancel_groupmsg_send(task.msgid)
                task.status = "cancelled"
                stopped += 1
                for row in session.scalars(
                    select(Delivery).where(
                        Delivery.task_id == task.id,
                        Delivery.status == DeliveryStatus.SENDING.value,
                    )
                ):
                    row.status, row.reason = DeliveryStatus.CANCELLED.value, "cancelled"
    session.flush()
    return stopped
