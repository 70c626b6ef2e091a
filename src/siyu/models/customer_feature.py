from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, WorkspaceMixin
from siyu.kit.time import utcnow


class CustomerFeature(WorkspaceMixin, Base):
    """Per-customer features segments read: windowed order stats, RFM and CLV.

    Order windows count back from `computed_at`; a daily job rolls them forward and new
    orders update them at once.
    """

    __tablename__ = "customer_feature"
    # customer_id last: segment filters are answered from the index alone (on SQLite the
    # key of this table is not the rowid, so without it every match reads the row).
    __table_args__ = (
        Index("ix_customer_feature_rfm_class", "workspace_id", "rfm_class", "customer_id"),
        Index(
            "ix_customer_feature_orders_365d",
            "workspace_id",
            "orders_365d",
            "paid_365d_fen",
            "customer_id",
        ),
    )

    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
    orders_30d: Mapped[int] = mapped_column(default=0)
    orders_90d: Mapped[int] = mapped_column(default=0)
    orders_365d: Mapped[int] = mapped_column(default=0)
    paid_30d_fen: Mapped[int] = mapped_column(default=0)
    paid_90d_fen: Mapped[int] = mapped_column(default=0)
    paid_365d_fen: Mapped[int] = mapped_column(default=0)
    # RFM scores 1-5 and class (important_value … general_retain); NULL without orders.
    rfm_r: Mapped[int | None] = mapped_column(SmallInteger)
    rfm_f: Mapped[int | None] = mapped_column(SmallInteger)
    rfm_m: Mapped[int | None] = mapped_column(SmallInteger)
    rfm_class: Mapped[str | None] = mapped_column(String(24))
    # CLV from the workspace's latest fitted model (BG/NBD + Gamma-Gamma).
    expected_purchases_90d: Mapped[float | None]
    expected_purchases_180d: Mapped[float | None]
    expected_purchases_365d: Mapped[float | None]
    p_alive: Mapped[float | None]
    predicted_value_fen: Mapped[int | None]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
