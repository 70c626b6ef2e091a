from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin
from siyu.db.types import JSONDoc


class EventType(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """A registered event type and the JSON Schema its properties must satisfy."""

    __tablename__ = "event_type"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    name: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    properties_schema: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
    # Properties whose values get their own daily counters (EventCounter.dimension).
    counted_properties: Mapped[list[str]] = mapped_column(JSONDoc(), default=list)
