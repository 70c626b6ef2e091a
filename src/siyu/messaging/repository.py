"""Queries of the messaging domain; every one is scoped to a workspace."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from siyu.db import bulk
from siyu.messaging.schemas import DeliveryStatus
from siyu.models import Broadcast, ChannelAccount, Delivery, WecomBroadcastTask

_deliveries = Delivery.metadata.tables[Delivery.__tablename__]
# Built once: the send loop runs them for every round and batch.
_HAND_OVER = (
    update(_deliveries)
    .where(
        _deliveries.c.workspace_id == bindparam("in_workspace"),
        # the broadcast lets (broadcast_id, status, id) find the rows: SQLite without
        # statistics would otherwise walk every delivery of the workspace
        _deliveries.c.broadcast_id == bindparam("in_broadcast"),
        _deliveries.c.status == DeliveryStatus.PENDING.value,
        _deliveries.c.id.in_(bindparam("ids", expanding=True)),
    )
    .values(
        status=DeliveryStatus.SENDING.value,
        committed_at=bindparam("now"),
        attempts=_deliveries.c.attempts + 1,
    )
    .returning(_deliveries.c.id)
)
_RECORD = (
    update(_deliveries)
    .where(
        _deliveries.c.workspace_id == bindparam("in_workspace"),
        _deliveries.c.id == bindparam("delivery_id"),
    )
    .values(
        status=bindparam("new_status"),
        sent_at=bindparam("new_sent_at"),
        reason=bindparam("new_reason"),
        detail=bindparam("new_detail"),
        provider_id=bindparam("new_provider_id"),
    )
)


class MessagingRepository:
    def __init__(self, session: Session, workspace_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id

    def broadcast(self, broadcast_id: int) -> Broadcast | None:
        return self.session.scalar(
            select(Broadcast).where(
                Broadcast.workspace_id == self.workspace_id, Broadcast.id == broadcast_id
            )
        )

    def broadcasts(self, status: str | None) -> Select[Any]:
        query = select(Broadcast).where(Broadcast.workspace_id == self.workspace_id)
        if status is not None:
            query = query.where(Broadcast.status == status)
        return query

    def account(self, channel: str) -> ChannelAccount | None:
        return self.session.scalar(
            select(ChannelAccount).where(
                ChannelAccount.workspace_id == self.workspace_id,
                ChannelAccount.channel == channel,
            )
        )

    def accounts(self) -> list[ChannelAccount]:
        return list(
            self.session.scalars(
                select(ChannelAccount)
                .where(ChannelAccount.workspace_id == self.workspace_id)
                .order_by(ChannelAccount.channel)
            )
        )

    def deliveries(self, broadcast_id: int, status: str | None) -> Select[Any]:
        query = select(Delivery).where(
            Delivery.workspace_id == self.workspace_id, Delivery.broadcast_id == broadcast_id
        )
        if status is not None:
            query = query.where(Delivery.status == status)
        return query

    def claim(self, broadcast_id: int, after_id: int, limit: int) -> list[Delivery]:
        """The next pending deliveries; on PostgreSQL rows another sender holds are skipped."""
        query = (
            select(Delivery)
            .where(
                Delivery.workspace_id == self.workspace_id,
                Delivery.broadcast_id == broadcast_id,
                Delivery.status == DeliveryStatus.PENDING.value,
                Delivery.id > after_id,
            )
            .order_by(Delivery.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list(self.session.scalars(query))

    def hand_over(self, broadcast_id: int, ids: Sequence[int], now: datetime) -> set[int]:
        """Move still-pending rows to sending; returns the ids that moved (this sender's)."""
        found = self.session.execute(
            _HAND_OVER,
            {
                "in_workspace": self.workspace_id,
                "in_broadcast": broadcast_id,
                "ids": list(ids),
                "now": now,
            },
        )
        return set(found.scalars())

    def record(self, changes: Sequence[dict[str, Any]]) -> None:
        """Write outcomes in one statement: each change holds `id` and the new status,
        sent_at, reason, detail and provider_id."""
        if not changes:
            return
        if self.session.get_bind().dialect.name == "postgresql":
            bulk.update_by_id(self.session, _deliveries, changes, workspace_id=self.workspace_id)
            return
        self.session.execute(
            _RECORD,
            [
                {"in_workspace": self.workspace_id, "delivery_id": c["id"]}
                | {f"new_{k}": v for k, v in c.items() if k != "id"}
                for c in changes
            ],
        )

    def mark_opened(
        self, at: datetime, where: Sequence[ColumnElement[bool]]
    ) -> tuple[int, int, int, str] | None:
        """Set `opened_at` of the delivery `where` names if it has none; returns its id,
        broadcast, customer and channel then (None: no such delivery, or opened before)."""
        found = self.session.execute(
            update(_deliveries)
            .where(
                _deliveries.c.workspace_id == self.workspace_id,
                _deliveries.c.opened_at.is_(None),
                *where,
            )
            .values(opened_at=at)
            .returning(
                _deliveries.c.id,
                _deliveries.c.broadcast_id,
                _deliveries.c.customer_id,
                _deliveries.c.channel,
            )
        ).first()
        return None if found is None else (found[0], found[1], found[2], found[3])

    def opened(self, broadcast_id: int, *columns: Any) -> list[Any]:
        """Opened deliveries of the broadcast counted per `columns` (none: one row)."""
        return list(
            self.session.execute(
                select(*columns, func.count())
                .where(
                    Delivery.workspace_id == self.workspace_id,
                    Delivery.broadcast_id == broadcast_id,
                    Delivery.opened_at.is_not(None),
                )
                .group_by(*columns)
            )
        )

    def in_doubt(self, broadcast_id: int) -> list[Delivery]:
        return list(
            self.session.scalars(
                select(Delivery).where(
                    Delivery.workspace_id == self.workspace_id,
                    Delivery.broadcast_id == broadcast_id,
                    Delivery.status == DeliveryStatus.SENDING.value,
                    Delivery.task_id.is_(None),
                )
            )
        )

    def count_status(self, broadcast_id: int, *statuses: str) -> int:
        return (
            self.session.scalar(
                select(func.count()).where(
                    Delivery.workspace_id == self.workspace_id,
                    Delivery.broadcast_id == broadcast_id,
                    Delivery.status.in_(statuses),
                )
            )
            or 0
        )

    def cancel_pending(self, broadcast_id: int) -> int:
        result = self.session.execute(
            update(Delivery)
            .where(
                Delivery.workspace_id == self.workspace_id,
                Delivery.broadcast_id == broadcast_id,
                Delivery.status == DeliveryStatus.PENDING.value,
            )
            .values(status=DeliveryStatus.CANCELLED.value, reason="cancelled")
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def tasks(self, broadcast_id: int) -> list[WecomBroadcastTask]:
        return list(
            self.session.scalars(
                select(WecomBroadcastTask)
                .where(
                    WecomBroadcastTask.workspace_id == self.workspace_id,
                    WecomBroadcastTask.broadcast_id == broadcast_id,
                )
                .order_by(WecomBroadcastTask.id)
            )
        )

    def grouped(self, broadcast_id: int, *columns: Any) -> list[Any]:
        return list(
            self.session.execute(
                select(*columns, Delivery.status, func.count())
                .where(
                    Delivery.workspace_id == self.workspace_id,
                    Delivery.broadcast_id == broadcast_id,
                )
                .group_by(*columns, Delivery.status)
            )
        )
