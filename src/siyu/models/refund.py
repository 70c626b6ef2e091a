from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin


class Refund(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    __tablename__ = "refund"
    __table_args__ = (UniqueConstraint("workspace_id", "order_id", "platform_refund_id"),)

    order_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer_order.id", ondelete="CASCADE"), index=True
    )
    platform_refund_id: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(300))
    refunded_at: Mapped[datetime | None]
