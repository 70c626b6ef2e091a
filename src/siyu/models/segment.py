from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin
from siyu.db.types import JSONDoc


class Segment(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """An audience: a rule tree kept current (dynamic) or a fixed list of customers (static)."""

    __tablename__ = "segment"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500))
    # dynamic | static
    kind: Mapped[str] = mapped_column(String(16))
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc())
    # Ids of the segments the rule reads, so segments of segments rebuild in order.
    depends_on: Mapped[list[int]] = mapped_column(JSONDoc(), default=list)
    # pending | building | ready | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    member_count: Mapped[int] = mapped_column(default=0)
    built_at: Mapped[datetime | None]
    build_ms: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_by: Mapped[str | None] = mapped_column(String(100))
