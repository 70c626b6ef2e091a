from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, WorkspaceMixin
from siyu.kit.time import utcnow


class CustomerTag(WorkspaceMixin, Base):
    """A tag on a customer, with where it came from (manual, import, rule, wecom) and who put it."""

    __tablename__ = "customer_tag"
    __table_args__ = (Index(None, "workspace_id", "tag_id", "customer_id"),)

    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
