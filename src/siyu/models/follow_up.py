from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.kit.time import utcnow


class FollowUp(IdMixin, WorkspaceMixin, Base):
    """A follow-up note (跟进记录) a staff member or user wrote about a customer."""

    __tablename__ = "follow_up"
    __table_args__ = (Index(None, "workspace_id", "customer_id", "created_at"),)

    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    author_user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("user_account.id", ondelete="SET NULL")
    )
    author_staff_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("staff.id", ondelete="SET NULL")
    )
    author_api_key_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("api_key.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
