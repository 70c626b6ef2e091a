from sqlalchemy import BigInteger, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, WorkspaceMixin


class SegmentSnapshotMember(WorkspaceMixin, Base):
    """A customer in a frozen snapshot."""

    __tablename__ = "segment_snapshot_member"

    snapshot_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("segment_snapshot.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
