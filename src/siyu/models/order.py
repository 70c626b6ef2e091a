from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin


class Order(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """An order from a platform or store; amounts in fen, times in UTC."""

    __tablename__ = "customer_order"
    __table_args__ = (
        UniqueConstraint("workspace_id", "platform", "platform_order_id"),
        Index(None, "workspace_id", "customer_id", "ordered_at"),
        Index(None, "workspace_id", "ordered_at"),
    )

    platform: Mapped[str] = mapped_column(String(16))
    platform_order_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="SET NULL")
    )
    store: Mapped[str | None] = mapped_column(String(100))
    # pending | paid | shipped | completed | cancelled | refunded
    status: Mapped[str] = mapped_column(String(16))
    total_fen: Mapped[int] = mapped_column(default=0)
    paid_fen: Mapped[int] = mapped_column(default=0)
    discount_fen: Mapped[int] = mapped_column(default=0)
    shipping_fen: Mapped[int] = mapped_column(default=0)
    refunded_fen: Mapped[int] = mapped_column(default=0)
    ordered_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    buyer_id: Mapped[str | None] = mapped_column(String(100))
    buyer_nick: Mapped[str | None] = mapped_column(String(100))
    receiver_name: Mapped[str | None] = mapped_column(String(100))
    receiver_mobile: Mapped[str | None] = mapped_column(String(32))
    receiver_province: Mapped[str | None] = mapped_column(String(32))
    receiver_city: Mapped[str | None] = mapped_column(String(32))
    receiver_address: Mapped[str | None] = mapped_column(String(500))
    import_run_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("import_run.id", ondelete="SET NULL")
    )
