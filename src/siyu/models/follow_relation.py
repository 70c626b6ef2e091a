from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin


class FollowRelation(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """Customer ↔ staff member (WeCom follow_user): who added whom, how and when."""

    __tablename__ = "follow_relation"
    __table_args__ = (
        UniqueConstraint("workspace_id", "customer_id", "staff_id"),
        Index(None, "workspace_id", "staff_id", "status"),
        # Customers lost in a window (analytics): relations by status and last change.
        Index(None, "workspace_id", "status", "updated_at"),
    )

    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    staff_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("staff.id", ondelete="CASCADE"))
    remark: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500))
    added_at: Mapped[datetime]
    add_way: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str | None] = mapped_column(String(64))
    # active | deleted_by_customer | deleted_by_staff | transferred
    status: Mapped[str] = mapped_column(String(32), default="active")
