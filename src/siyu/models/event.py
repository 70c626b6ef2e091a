from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.db.types import JSONDoc
from siyu.kit.time import utcnow


class Event(IdMixin, WorkspaceMixin, Base):
    """Something a customer did; `event_key` is the sender's id, unique per workspace."""

    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("workspace_id", "event_key"),
        Index(None, "workspace_id", "customer_id", "occurred_at"),
        Index(None, "workspace_id", "event_type", "occurred_at"),
    )

    event_key: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    properties: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
