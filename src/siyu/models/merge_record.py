from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.db.types import JSONDoc
from siyu.kit.time import utcnow


class MergeRecord(IdMixin, WorkspaceMixin, Base):
    """One merge of `merged_id` into `survivor_id`, with what moved, so it can be undone."""

    __tablename__ = "merge_record"
    __table_args__ = (
        Index(None, "workspace_id", "survivor_id"),
        Index(None, "workspace_id", "merged_id"),
    )

    survivor_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    merged_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    reason: Mapped[str] = mapped_column(String(200))
    moved: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
    actor: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(100))
