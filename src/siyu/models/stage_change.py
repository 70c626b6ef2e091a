from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.kit.time import utcnow


class StageChange(IdMixin, WorkspaceMixin, Base):
    """A customer's lifecycle stage moved; the conversion funnel counts these."""

    __tablename__ = "stage_change"
    __table_args__ = (
        Index(None, "workspace_id", "changed_at"),
        Index(None, "workspace_id", "customer_id", "changed_at"),
    )

    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
