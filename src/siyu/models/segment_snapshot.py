from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.db.types import JSONDoc
from siyu.kit.time import utcnow


class SegmentSnapshot(IdMixin, WorkspaceMixin, Base):
    """A segment's membership frozen at one moment, e.g. the audience of a send."""

    __tablename__ = "segment_snapshot"
    __table_args__ = (Index(None, "workspace_id", "segment_id", "taken_at"),)

    segment_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("segment.id", ondelete="SET NULL")
    )
    segment_name: Mapped[str] = mapped_column(String(100))
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc())
    member_count: Mapped[int] = mapped_column(default=0)
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    taken_by: Mapped[str | None] = mapped_column(String(100))
    purpose: Mapped[str | None] = mapped_column(String(200))
