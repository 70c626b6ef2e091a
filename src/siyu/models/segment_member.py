from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, WorkspaceMixin
from siyu.kit.time import utcnow


class SegmentMember(WorkspaceMixin, Base):
    """A customer currently in a segment (stored membership)."""

    __tablename__ = "segment_member"
    __table_args__ = (Index(None, "workspace_id", "customer_id"),)

    segment_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("segment.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
