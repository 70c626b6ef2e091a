from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.kit.time import utcnow


class TagChange(IdMixin, WorkspaceMixin, Base):
    """History of tag additions and removals, shown on the customer's timeline."""

    __tablename__ = "tag_change"
    __table_args__ = (Index(None, "workspace_id", "customer_id", "created_at"),)

    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    tag_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("tag.id", ondelete="SET NULL")
    )
    tag_name: Mapped[str] = mapped_column(String(201))
    action: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
