from datetime import date

from sqlalchemy import BigInteger, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, WorkspaceMixin


class SegmentSize(WorkspaceMixin, Base):
    """A segment's size at the end of a day (workspace time zone), for its size trend."""

    __tablename__ = "segment_size"

    segment_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("segment.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    member_count: Mapped[int]
