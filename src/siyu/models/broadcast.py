from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin
from siyu.db.types import JSONDoc


class Broadcast(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """One send of content to an audience over one channel (客户群发 and its kin)."""

    __tablename__ = "broadcast"
    __table_args__ = (Index(None, "workspace_id", "status", "send_at"),)

    name: Mapped[str] = mapped_column(String(100))
    # wecom | wecom_group | email | sms | webhook
    channel: Mapped[str] = mapped_column(String(16))
    # draft | scheduled | planning | sending | waiting | paused | completed | cancelled | failed
    status: Mapped[str] = mapped_column(String(16), default="draft")
    segment_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("segment.id", ondelete="SET NULL")
    )
    snapshot_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("segment_snapshot.id", ondelete="SET NULL")
    )
    # wecom_group: the customer groups to send to
    customer_group_ids: Mapped[list[int] | None] = mapped_column(JSONDoc())
    content: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
    # [{"key": "A", "percent": 50, "content": {...}}, ...]; None: one content for everyone
    variants: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDoc())
    send_at: Mapped[datetime | None]
    recurrence: Mapped[str | None] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("broadcast.id", ondelete="SET NULL")
    )
    attribution_days: Mapped[int] = mapped_column(default=7)
    created_by: Mapped[str | None] = mapped_column(String(100))
    planned_count: Mapped[int] = mapped_column(default=0)
    excluded_count: Mapped[int] = mapped_column(default=0)
    planned_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
