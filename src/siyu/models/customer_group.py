from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin


class CustomerGroup(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """A WeCom customer group chat (客户群), as WeCom last reported it."""

    __tablename__ = "customer_group"
    __table_args__ = (
        UniqueConstraint("workspace_id", "chat_id"),
        Index(None, "workspace_id", "status"),
    )

    chat_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    owner_userid: Mapped[str | None] = mapped_column(String(64))
    owner_staff_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("staff.id", ondelete="SET NULL")
    )
    notice: Mapped[str | None] = mapped_column(Text)
    group_created_at: Mapped[datetime | None]
    # active | dismissed
    status: Mapped[str] = mapped_column(String(16), default="active")
    member_count: Mapped[int] = mapped_column(default=0)
    member_version: Mapped[str | None] = mapped_column(String(64))
    synced_at: Mapped[datetime | None]
