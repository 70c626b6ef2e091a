from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base
from siyu.db.types import BigIntId
from siyu.kit.time import utcnow


class ChangedCustomer(Base):
    """A customer whose data changed since dynamic segments last looked at them.

    Writers mark customers in their own transaction; the segments' refresh job reads the
    marks, re-evaluates every dynamic segment for just those customers and clears them.
    `order_changes` counts the marks that came with orders (only those customers' order
    windows need recomputing).
    """

    __tablename__ = "changed_customer"
    __table_args__ = (Index(None, "workspace_id", "changed_at"),)

    workspace_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    order_changes: Mapped[int] = mapped_column(default=0, server_default="0")
