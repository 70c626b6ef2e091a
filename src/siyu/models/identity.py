from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.kit.time import utcnow


class Identity(IdMixin, WorkspaceMixin, Base):
    """One way to recognise a customer: (kind, value) is unique in a workspace."""

    __tablename__ = "identity"
    __table_args__ = (
        UniqueConstraint("workspace_id", "kind", "value"),
        Index(None, "customer_id"),
    )

    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
