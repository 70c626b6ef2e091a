from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin
from siyu.db.types import JSONDoc


class Customer(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """A person. Identities attach to it; a merged customer points at its survivor."""

    __tablename__ = "customer"
    __table_args__ = (
        Index(None, "workspace_id", "created_at", "id"),
        Index(None, "workspace_id", "last_active_at", "id"),
        Index(None, "workspace_id", "last_order_at", "id"),
        Index(None, "workspace_id", "total_paid_fen", "id"),
        Index(None, "workspace_id", "mobile_last4"),
        Index(None, "workspace_id", "mobile"),
        # Deleting a customer nulls merged_into_id of those merged into it.
        Index(None, "merged_into_id"),
        # Prefix search: text_pattern_ops lets PostgreSQL use the index for LIKE 'abc%'.
        Index(None, "workspace_id", "name", postgresql_ops={"name": "text_pattern_ops"}),
        Index(None, "workspace_id", "remark", postgresql_ops={"remark": "text_pattern_ops"}),
    )

    name: Mapped[str | None] = mapped_column(String(100))
    gender: Mapped[str | None] = mapped_column(String(8))
    birthday: Mapped[date | None]
    mobile: Mapped[str | None] = mapped_column(String(32))
    mobile_last4: Mapped[str | None] = mapped_column(String(4))
    email: Mapped[str | None] = mapped_column(String(320))
    province: Mapped[str | None] = mapped_column(String(32))
    city: Mapped[str | None] = mapped_column(String(32))
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    lifecycle_stage: Mapped[str] = mapped_column(String(32), default="new")
    source: Mapped[str | None] = mapped_column(String(64))
    remark: Mapped[str | None] = mapped_column(String(500))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
    merged_into_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="SET NULL")
    )

    # Stats, kept current as orders and events arrive.
    order_count: Mapped[int] = mapped_column(default=0)
    total_paid_fen: Mapped[int] = mapped_column(default=0)
    first_order_at: Mapped[datetime | None]
    last_order_at: Mapped[datetime | None]
    last_active_at: Mapped[datetime | None]
