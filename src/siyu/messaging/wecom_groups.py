"""WeCom group broadcasts (群发到客户群): the audience is a list of customer groups, one row
per group; each owner sends one `add_msg_template` task (chat_type "group", up to 2,000
chats) to their groups. WeCom's mass-message quota counts per group as it does per customer.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from siyu.customers import groups as customer_groups
from siyu.kit.time import utcnow
from siyu.messaging import rules as messaging_rules
from siyu.messaging import wecom
from siyu.messaging.schemas import DeliveryStatus, GroupResultOut
from siyu.messaging.wecom_calls import broadcast_client
from siyu.models import Broadcast, WecomGroupDelivery
from siyu.staff import service as staff_service
from siyu.worker.context import JobContext

COUNTED = (DeliveryStatus.SENT.value, DeliveryStatus.DELIVERED.value)


def _sent_since(
    session: Session, workspace_id: int, chat_ids: list[str], since: datetime
) -> dict[str, int]:
    """chat id -> group messages it received since `since`."""
    if not chat_ids:
        return {}
    rows = session.execute(
        select(WecomGroupDelivery.chat_id, func.count())
        .where(
            WecomGroupDelivery.workspace_id == workspace_id,
            WecomGroupDelivery.chat_id.in_(chat_ids),
            WecomGroupDelivery.status.in_(COUNTED),
            WecomGroupDelivery.sent_at >= since,
        )
        .group_by(WecomGroupDelivery.chat_id)
    )
    return {chat_id: int(n) for chat_id, n in rows}


@dataclass(frozen=True)
class CheckedGroup:
    """A chosen customer group and why it would not be sent to (None: it would)."""

    row: customer_groups.GroupRow
    reason: str | None


def check_groups(
    session: Session, workspace_id: int, group_ids: Sequence[int]
) -> list[CheckedGroup]:
    """The chosen groups (each once, unknown ones left out), each with its exclusion: the
    group was dismissed, its owner is not an active staff member with WeCom, or the group
    used up WeCom's quota."""
    rules = messaging_rules.read(session, workspace_id)
    since, allowed = messaging_rules.quota_window(
        rules.wecom_quota, utcnow(), messaging_rules.zone(session, workspace_id)
    )
    found = customer_groups.groups_by_ids(session, workspace_id, group_ids)
    owners = {
        row.group.owner_staff_id: staff_service.get_staff(
            session, workspace_id, row.group.owner_staff_id
        )
        for row in found
        if row.group.owner_staff_id is not None
    }
    received = _sent_since(session, workspace_id, [row.group.chat_id for row in found], since)
    checked = []
    for row in found:
        group = row.group
        owner = owners.get(group.owner_staff_id) if group.owner_staff_id else None
        reason = None
        if group.status != "active":
            reason = "dismissed"
        elif owner is None or owner.status == "resigned" or owner.wecom_userid is None:
            reason = "no_owner"
        elif received.get(group.chat_id, 0) >= allowed:
            reason = "wecom_quota"
        checked.append(CheckedGroup(row, reason))
    return checked


def plan(session: Session, broadcast: Broadcast) -> None:
    """One row per chosen customer group: pending, or excluded with its reason (see
    `check_groups`). Running it again adds nothing."""
    workspace_id = broadcast.workspace_id
    done = set(
        session.scalars(
            select(WecomGroupDelivery.chat_id).where(
                WecomGroupDelivery.workspace_id == workspace_id,
                WecomGroupDelivery.broadcast_id == broadcast.id,
            )
        )
    )
    rows: list[dict[str, Any]] = []
    for checked in check_groups(session, workspace_id, broadcast.customer_group_ids or []):
        group = checked.row.group
        if group.chat_id in done:
            continue
        done.add(group.chat_id)
        rows.append(
            {
                "workspace_id": workspace_id,
                "broadcast_id": broadcast.id,
                "customer_group_id": group.id,
                "chat_id": group.chat_id,
                "name": group.name[:200],
                "owner_userid": group.owner_userid,
                "staff_id": group.owner_staff_id,
                "status": (
                    DeliveryStatus.EXCLUDED.value
                    if checked.reason
                    else DeliveryStatus.PENDING.value
                ),
                "reason": checked.reason,
            }
        )
    if rows:
        session.execute(insert(WecomGroupDelivery), rows)
    counts = dict(
        session.execute(
            select(WecomGroupDelivery.status, func.count())
            .where(
                WecomGroupDelivery.workspace_id == workspace_id,
                WecomGroupDelivery.broadcast_id == broadcast.id,
            )
            .group_by(WecomGroupDelivery.status)
        ).all()
    )
    broadcast.excluded_count = counts.get(DeliveryStatus.EXCLUDED.value, 0)
    broadcast.planned_count = sum(counts.values()) - broadcast.excluded_count
    broadcast.planned_at = utcnow()
    session.flush()


async def create_tasks(ctx: JobContext, broadcast: Broadcast) -> dict[str, int]:
    """One task per group owner and 2,000 groups, each recorded before WeCom is called."""
    session = ctx.session
    created = 0
    async with broadcast_client(session, broadcast.workspace_id) as client:
        await wecom.resume_creating(ctx, broadcast, client)
        pending = session.scalars(
            select(WecomGroupDelivery)
            .where(
                WecomGroupDelivery.workspace_id == broadcast.workspace_id,
                WecomGroupDelivery.broadcast_id == broadcast.id,
                WecomGroupDelivery.status == DeliveryStatus.PENDING.value,
            )
            .order_by(WecomGroupDelivery.owner_userid, WecomGroupDelivery.id)
        )
        by_owner: dict[tuple[int | None, str], list[WecomGroupDelivery]] = defaultdict(list)
        for row in pending:
            by_owner[(row.staff_id, row.owner_userid or "")].append(row)
        chunks = wecom.next_chunks(session, broadcast)
        for (staff_id, userid), rows in by_owner.items():
            for start in range(0, len(rows), wecom.CHATS_PER_TASK):
                if not wecom.still_sending(session, broadcast):
                    return {"tasks": created}
                chunk = rows[start : start + wecom.CHATS_PER_TASK]
                task = wecom.open_task(ctx, broadcast, staff_id, userid, chunks[staff_id], chunk)
                chunks[staff_id] += 1
                await wecom.call(ctx, broadcast, task, client, recovering=False)
                created += 1
    return {"tasks": created}


def cancel_pending(session: Session, broadcast: Broadcast) -> int:
    result = session.execute(
        update(WecomGroupDelivery)
        .where(
            WecomGroupDelivery.workspace_id == broadcast.workspace_id,
            WecomGroupDelivery.broadcast_id == broadcast.id,
            WecomGroupDelivery.status == DeliveryStatus.PENDING.value,
        )
        .values(status=DeliveryStatus.CANCELLED.value, reason="cancelled")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def grouped(session: Session, broadcast: Broadcast, *columns: Any) -> list[Any]:
    """(columns…, status, count) of the broadcast's group rows, like the deliveries'."""
    return list(
        session.execute(
            select(*columns, WecomGroupDelivery.status, func.count())
            .where(
                WecomGroupDelivery.workspace_id == broadcast.workspace_id,
                WecomGroupDelivery.broadcast_id == broadcast.id,
            )
            .group_by(*columns, WecomGroupDelivery.status)
        )
    )


def results(session: Session, broadcast: Broadcast) -> list[GroupResultOut]:
    rows = session.scalars(
        select(WecomGroupDelivery)
        .where(
            WecomGroupDelivery.workspace_id == broadcast.workspace_id,
            WecomGroupDelivery.broadcast_id == broadcast.id,
        )
        .order_by(WecomGroupDelivery.id)
    )
    return [GroupResultOut.model_validate(row) for row in rows]
