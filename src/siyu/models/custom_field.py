from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin
from siyu.db.types import JSONDoc


class CustomField(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """A typed customer field a workspace defines: text, number, date, choice, multi_choice."""

    __tablename__ = "custom_field"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100))
    field_type: Mapped[str] = mapped_column(String(16))
    options: Mapped[list[str]] = mapped_column(JSONDoc(), default=list)
    sort_order: Mapped[int] = mapped_column(default=0)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
