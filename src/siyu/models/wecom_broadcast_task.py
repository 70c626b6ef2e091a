from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.kit.time import utcnow


class WecomBroadcastTask(IdMixin, WorkspaceMixin, Base):
    """One `add_msg_template` call: a chunk of a broadcast a staff member confirms in WeCom."""

    __tablename__ = "wecom_broadcast_task"
    __table_args__ = (UniqueConstraint("broadcast_id", "staff_id", "chunk"),)

    broadcast_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("broadcast.id", ondelete="CASCADE")
    )
    staff_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("staff.id", ondelete="SET NULL")
    )
    userid: Mapped[str] = mapped_column(String(64))
    chunk: Mapped[int] = mapped_column(default=0)
    msgid: Mapped[str | None] = mapped_column(String(128))
    recipient_count: Mapped[int] = mapped_column(default=0)
    # creating | waiting | sent | cancelled | failed
    status: Mapped[str] = mapped_column(String(12), default="creating")
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    polled_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
