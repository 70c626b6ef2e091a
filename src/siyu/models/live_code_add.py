from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin


class LiveCodeAdd(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """One customer added through a live code, and what became of its welcome message."""

    __tablename__ = "live_code_add"
    __table_args__ = (
        Index(None, "live_code_id", "added_at"),
        Index(None, "workspace_id", "customer_id", "staff_id"),
    )

    live_code_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("live_code.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    staff_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("staff.id", ondelete="CASCADE"))
    external_userid: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime]
    welcome_code: Mapped[str | None] = mapped_column(String(128))
    # pending | sent | failed | skipped
    welcome_status: Mapped[str] = mapped_column(String(16), default="pending")
    welcome_errcode: Mapped[int | None]
    welcome_error: Mapped[str | None] = mapped_column(String(500))
    welcome_sent_at: Mapped[datetime | None]
    lost_at: Mapped[datetime | None]
