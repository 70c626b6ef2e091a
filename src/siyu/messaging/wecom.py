"""WeCom broadcasts: one `add_msg_template` task per staff member (1:1, per 10,000 customers)
or per group owner (groups, per 2,000 chats), confirmed by each member in the WeCom client,
results polled until final.

A mass task's content is the same for everyone it reaches, so it is composed per sender
(wecom_content.py). A task row is committed ("creating") before WeCom is called; a
worker that died after WeCom created the task but before its msgid was stored finds the
task again through `get_groupmsg_list_v2` instead of creating a second one.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.errors import WecomApiError
from siyu.connectors.wecom.schemas.messages import AddMsgTemplateRequest, TextContent
from siyu.exceptions import SiyuError
from siyu.kit.time import utcnow
from siyu.messaging.repository import MessagingRepository
from siyu.messaging.schemas import BroadcastStatus, Channel, DeliveryStatus
from siyu.messaging.wecom_calls import broadcast_client
from siyu.messaging.wecom_content import Message, compose
from siyu.models import Broadcast, Delivery, WecomBroadcastTask, WecomGroupDelivery
from siyu.staff import service as staff_service
from siyu.worker.context import JobContext

# add_msg_template limits (protocol.md §5); content limits are in wecom_content.py
CUSTOMERS_PER_TASK = 10_000
CHATS_PER_TASK = 2000
# get_groupmsg_send_result: 0 not sent yet, 1 sent, 2 not a friend (a chat: gone), 3 quota
SENT = 1
RESULT_REASONS = {2: "not_friend", 3: "wecom_quota"}
GROUP_RESULT_REASONS = {2: "group_gone", 3: "wecom_quota"}
STAFF_SENT = 2
OPEN_TASKS = ("creating", "waiting")
POLL_BATCH = 50

Row = Delivery | WecomGroupDelivery


def is_group(broadcast: Broadcast) -> bool:
    return broadcast.channel == Channel.WECOM_GROUP.value


def _fail(rows: Sequence[Row], reason: str, detail: str) -> None:
    for row in rows:
        row.status = DeliveryStatus.FAILED.value
        row.reason = reason[:40]
        row.detail = detail[:500]


def task_rows(session: Session, broadcast: Broadcast, task_id: int, *statuses: str) -> list[Row]:
    """The deliveries (1:1) or group rows a task carries, optionally of some statuses."""
    model: type[Delivery] | type[WecomGroupDelivery] = (
        WecomGroupDelivery if is_group(broadcast) else Delivery
    )
    query = select(model).where(
        model.workspace_id == broadcast.workspace_id, model.task_id == task_id
    )
    if statuses:
        query = query.where(model.status.in_(statuses))
    return list(session.scalars(query.order_by(model.id)))


def _recipient(row: Row) -> str:
    return row.chat_id if isinstance(row, WecomGroupDelivery) else row.address or ""


async def _adopt_lost_task(
    session: Session,
    broadcast: Broadcast,
    task: WecomBroadcastTask,
    message: Message,
    client: WecomClient,
) -> str | None:
    """The msgid of the task WeCom created for `task` before the worker died, if it did."""
    known = {
        t.msgid for t in MessagingRepository(session, broadcast.workspace_id).tasks(broadcast.id)
    }
    start = int((task.created_at - timedelta(minutes=1)).timestamp())
    end = int((utcnow() + timedelta(minutes=1)).timestamp())
    chat_type: Literal["single", "group"] = "group" if is_group(broadcast) else "single"
    async for sent in client.iter_groupmsg_list_v2(
        chat_type, start, end, creator=task.userid, filter_type=0
    ):
        same_text = (sent.text.content if sent.text else None) == message.text
        same_attachments = [a.msgtype for a in sent.attachments] == [
            a.msgtype for a in message.attachments
        ]
        if same_text and same_attachments and sent.msgid not in known:
            return sent.msgid
    return None


def open_task(
    ctx: JobContext,
    broadcast: Broadcast,
    staff_id: int | None,
    userid: str,
    chunk: int,
    rows: Sequence[Row],
) -> WecomBroadcastTask:
    """Record the task and hand its rows over to it (`call` commits them before WeCom
    creates the task)."""
    task = WecomBroadcastTask(
        workspace_id=broadcast.workspace_id,
        broadcast_id=broadcast.id,
        staff_id=staff_id,
        userid=userid,
        chunk=chunk,
        recipient_count=len(rows),
        status="creating",
    )
    ctx.session.add(task)
    ctx.session.flush()
    now = utcnow()
    for row in rows:
        row.task_id = task.id
        row.status = DeliveryStatus.SENDING.value
        if isinstance(row, Delivery):
            row.committed_at = now
            row.attempts += 1
    ctx.session.flush()
    return task


async def call(
    ctx: JobContext,
    broadcast: Broadcast,
    task: WecomBroadcastTask,
    client: WecomClient,
    *,
    recovering: bool,
) -> None:
    """Create the task in WeCom (or adopt the one a dead worker created) and store its msgid."""
    session = ctx.session
    rows = task_rows(session, broadcast, task.id, DeliveryStatus.SENDING.value)
    variant = rows[0].variant if rows and isinstance(rows[0], Delivery) else None
    try:
        message = await compose(session, broadcast, variant, task.staff_id, client)
    except WecomApiError as exc:
        if exc.errcode == -1:
            raise
        _give_up(ctx, task, rows, f"wecom_{exc.errcode}", f"{exc.errcode}: {exc.errmsg}")
        return
    except SiyuError as exc:
        _give_up(ctx, task, rows, "content", str(exc))
        return
    if recovering:
        found = await _adopt_lost_task(session, broadcast, task, message, client)
        if found is not None:
            task.msgid, task.status = found, "waiting"
            ctx.session.flush()
            return
    recipients = [_recipient(r) for r in rows]
    # The task row must be committed before WeCom creates the task, so a worker that dies
    # in between finds it again; the msgid is committed with the next task (or job end).
    ctx.checkpoint()
    request = AddMsgTemplateRequest(
        chat_type="group" if is_group(broadcast) else "single",
        sender=task.userid,
        external_userid=None if is_group(broadcast) else recipients,
        chat_id_list=recipients if is_group(broadcast) else None,
        text=TextContent(content=message.text) if message.text else None,
        attachments=message.attachments or None,
    )
    try:
        result = await client.externalcontact_add_msg_template(request)
    except WecomApiError as exc:
        if exc.errcode == -1:
            raise
        _give_up(ctx, task, rows, f"wecom_{exc.errcode}", f"{exc.errcode}: {exc.errmsg}")
        return
    task.msgid, task.status = result.msgid, "waiting"
    refused = set(result.fail_list)
    _fail(
        [r for r in rows if _recipient(r) in refused],
        "wecom_refused",
        "WeCom refused this customer",
    )
    ctx.session.flush()


def _give_up(
    ctx: JobContext, task: WecomBroadcastTask, rows: Sequence[Row], reason: str, detail: str
) -> None:
    task.status, task.error = "failed", detail[:500]
    _fail(rows, reason, detail)
    ctx.checkpoint()


async def resume_creating(ctx: JobContext, broadcast: Broadcast, client: WecomClient) -> None:
    """Finish the tasks a dead worker recorded but may not have created in WeCom."""
    for task in MessagingRepository(ctx.session, broadcast.workspace_id).tasks(broadcast.id):
        if task.status == "creating":
            await call(ctx, broadcast, task, client, recovering=True)


def next_chunks(session: Session, broadcast: Broadcast) -> dict[int | None, int]:
    """staff id -> the chunk number its next task takes."""
    chunks: dict[int | None, int] = defaultdict(int)
    for task in MessagingRepository(session, broadcast.workspace_id).tasks(broadcast.id):
        chunks[task.staff_id] = max(chunks[task.staff_id], task.chunk + 1)
    return chunks


def still_sending(session: Session, broadcast: Broadcast) -> bool:
    session.refresh(broadcast, ["status"])
    return broadcast.status == BroadcastStatus.SENDING.value


async def create_tasks(ctx: JobContext, broadcast: Broadcast) -> dict[str, int]:
    """Create every staff member's tasks (per content variant), each recorded first."""
    session = ctx.session
    created = failed = 0
    async with broadcast_client(session, broadcast.workspace_id) as client:
        await resume_creating(ctx, broadcast, client)
        pending = list(
            session.scalars(
                select(Delivery)
                .where(
                    Delivery.workspace_id == broadcast.workspace_id,
                    Delivery.broadcast_id == broadcast.id,
                    Delivery.status == DeliveryStatus.PENDING.value,
                )
                .order_by(Delivery.staff_id, Delivery.variant, Delivery.id)
            )
        )
        groups: dict[tuple[int | None, str | None], list[Delivery]] = defaultdict(list)
        for row in pending:
            groups[(row.staff_id, row.variant)].append(row)
        chunks = next_chunks(session, broadcast)
        for (staff_id, _variant), rows in groups.items():
            staff = (
                staff_service.get_staff(session, broadcast.workspace_id, staff_id)
                if staff_id
                else None
            )
            if staff is None or not staff.wecom_userid or staff.status == "resigned":
                _fail(rows, "no_follow", "the staff member has no WeCom account")
                failed += len(rows)
                continue
            for start in range(0, len(rows), CUSTOMERS_PER_TASK):
                if not still_sending(session, broadcast):
                    return {"tasks": created, "failed": failed}
                chunk = rows[start : start + CUSTOMERS_PER_TASK]
                task = open_task(
                    ctx, broadcast, staff_id, staff.wecom_userid, chunks[staff_id], chunk
                )
                chunks[staff_id] += 1
                await call(ctx, broadcast, task, client, recovering=False)
                created += 1
    return {"tasks": created, "failed": failed}


# -- results -------------------------------------------------------------------------------


async def _staff_sent(client: WecomClient, task: WecomBroadcastTask) -> bool:
    assert task.msgid is not None
    async for member in client.iter_groupmsg_task(task.msgid):
        if member.userid == task.userid and member.status == STAFF_SENT:
            return True
    return False


async def _send_results(client: WecomClient, task: WecomBroadcastTask) -> dict[str, int]:
    """external_userid (or chat id) -> result status of a task its member sent."""
    assert task.msgid is not None
    results: dict[str, int] = {}
    async for result in client.iter_groupmsg_send_result(task.msgid, task.userid):
        results[result.chat_id or result.external_userid] = result.status
    return results


def _apply(
    broadcast: Broadcast,
    task: WecomBroadcastTask,
    rows: Sequence[Row],
    results: dict[str, int],
) -> bool:
    """Record the results on the task's open rows; True when every one is final."""
    task.confirmed_at = task.confirmed_at or utcnow()
    reasons = GROUP_RESULT_REASONS if is_group(broadcast) else RESULT_REASONS
    open_rows = 0
    now = utcnow()
    for row in rows:
        status = results.get(_recipient(row))
        if status is None:
            # the member sent the task and this recipient is not in it: WeCom dropped it
            _fail([row], "wecom_refused", "WeCom left this recipient out of the task")
        elif status == SENT:
            row.status, row.sent_at = DeliveryStatus.SENT.value, now
        elif status in reasons:
            row.status, row.reason = DeliveryStatus.FAILED.value, reasons[status]
        else:
            open_rows += 1
    if open_rows == 0:
        task.status = "sent"
    return open_rows == 0


def _open_rows(
    session: Session, broadcast: Broadcast, task_ids: Sequence[int]
) -> dict[int, list[Row]]:
    """task id -> its rows still sending, in one query."""
    model: type[Delivery] | type[WecomGroupDelivery] = (
        WecomGroupDelivery if is_group(broadcast) else Delivery
    )
    query = select(model).where(
        model.workspace_id == broadcast.workspace_id,
        model.task_id.in_(task_ids),
        model.status == DeliveryStatus.SENDING.value,
    )
    found: dict[int, list[Row]] = defaultdict(list)
    rows: list[Row] = list(session.scalars(query))
    for row in rows:
        assert row.task_id is not None
        found[row.task_id].append(row)
    return found


async def poll(session: Session, broadcast: Broadcast) -> dict[str, Any]:
    """Pull each waiting task's state; rows become sent or failed as WeCom reports.

    Tasks go in batches: WeCom is asked about a whole batch before anything is written, so
    (with `release_before_calls`) the job commits once per batch, not once per call."""
    repo = MessagingRepository(session, broadcast.workspace_id)
    waiting = [t for t in repo.tasks(broadcast.id) if t.status == "waiting" and t.msgid]
    confirmed = 0
    async with broadcast_client(session, broadcast.workspace_id) as client:
        for start in range(0, len(waiting), POLL_BATCH):
            batch = waiting[start : start + POLL_BATCH]
            results = {}
            for task in batch:
                if await _staff_sent(client, task):
                    results[task.id] = await _send_results(client, task)
            rows = _open_rows(session, broadcast, list(results))
            now = utcnow()
            for task in batch:
                task.polled_at = now
                if task.id in results and _apply(broadcast, task, rows[task.id], results[task.id]):
                    confirmed += 1
            session.flush()
    left = [t for t in repo.tasks(broadcast.id) if t.status in OPEN_TASKS]
    if not left and broadcast.status == BroadcastStatus.WAITING.value:
        broadcast.status = BroadcastStatus.COMPLETED.value
        broadcast.finished_at = utcnow()
    return {"confirmed": confirmed, "waiting": len(left)}


async def remind(session: Session, broadcast: Broadcast) -> int:
    """Remind the staff members who have not confirmed their task yet."""
    repo = MessagingRepository(session, broadcast.workspace_id)
    reminded = 0
    async with broadcast_client(session, broadcast.workspace_id) as client:
        for task in repo.tasks(broadcast.id):
            if task.status == "waiting" and task.msgid and task.confirmed_at is None:
                await client.externalcontact_remind_groupmsg_send(task.msgid)
                task.reminded_at = utcnow()
                reminded += 1
    return reminded


async def cancel(session: Session, broadcast: Broadcast) -> int:
    """Stop tasks staff have not confirmed: their recipients are cancelled, never sent.
    A task its member sent before the cancel reached WeCom keeps its results."""
    repo = MessagingRepository(session, broadcast.workspace_id)
    stopped = 0
    async with broadcast_client(session, broadcast.workspace_id) as client:
        for task in repo.tasks(broadcast.id):
            if task.status != "waiting" or not task.msgid:
                continue
            await client.externalcontact_cancel_groupmsg_send(task.msgid)
            if await _staff_sent(client, task):
                results = await _send_results(client, task)
                _apply(broadcast, task, _open_rows(session, broadcast, [task.id])[task.id], results)
                continue
            task.status = "cancelled"
            stopped += 1
            for row in task_rows(session, broadcast, task.id, DeliveryStatus.SENDING.value):
                row.status, row.reason = DeliveryStatus.CANCELLED.value, "cancelled"
    session.flush()
    return stopped
