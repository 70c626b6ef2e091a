from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.kit.time import utcnow


class SegmentChange(IdMixin, WorkspaceMixin, Base):
    """A customer entered or left a segment; journeys start from these rows."""

    __tablename__ = "segment_change"
    __table_args__ = (
        Index(None, "workspace_id", "segment_id", "changed_at"),
        Index(None, "workspace_id", "customer_id", "changed_at"),
    )

    segment_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("segment.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    # entered | left
    change: Mapped[str] = mapped_column(String(8))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
