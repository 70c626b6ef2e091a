from datetime import date

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin


class WecomCallbackRefusal(IdMixin, WorkspaceMixin, Base):
    """How many callbacks a workspace refused on a day, by reason (bad_signature, …)."""

    __tablename__ = "wecom_callback_refusal"
    __table_args__ = (UniqueConstraint("workspace_id", "day", "reason"),)

    day: Mapped[date]
    reason: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(default=0)
