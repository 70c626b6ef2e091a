from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin
from siyu.db.types import BigIntId, JSONDoc


class Schedule(IdMixin, TimestampMixin, Base):
    """A cron schedule that enqueues a job each time it comes due."""

    __tablename__ = "schedule"

    workspace_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("workspace.id", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(String(200), unique=True)
    cron: Mapped[str] = mapped_column(String(100))
    job_name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
    next_run_at: Mapped[datetime]
    enabled: Mapped[bool] = mapped_column(default=True)
