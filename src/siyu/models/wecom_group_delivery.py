from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin


class WecomGroupDelivery(IdMixin, WorkspaceMixin, Base):
    """One customer group's message of a WeCom group broadcast: unique per (broadcast, chat).

    The group's owner sends it through the task (`task_id`) they confirm in WeCom; the row
    keeps the group's name and owner as they were when the broadcast was planned.
    """

    __tablename__ = "wecom_group_delivery"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "chat_id"),
        Index(None, "broadcast_id", "status"),
        Index(None, "workspace_id", "chat_id", "sent_at"),
    )

    broadcast_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("broadcast.id", ondelete="CASCADE")
    )
    customer_group_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("customer_group.id", ondelete="SET NULL")
    )
    chat_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    owner_userid: Mapped[str | None] = mapped_column(String(64))
    staff_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("staff.id", ondelete="SET NULL")
    )
    task_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("wecom_broadcast_task.id", ondelete="SET NULL")
    )
    # excluded | pending | sending | sent | failed | cancelled
    status: Mapped[str] = mapped_column(String(12), default="pending")
    # why it was excluded or failed: dismissed, no_owner, wecom_quota, group_gone …
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None]
