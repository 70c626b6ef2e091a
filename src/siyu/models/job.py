from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin
from siyu.db.types import BigIntId, JSONDoc
from siyu.kit.time import utcnow


class Job(IdMixin, TimestampMixin, Base):
    """Durable background work: a row in the business transaction, claimed with a lease."""

    __tablename__ = "job"
    __table_args__ = (
        Index(None, "lane", "status", "run_at"),
        Index(None, "workspace_id", "name", "created_at"),
    )

    workspace_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("workspace.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(100))
    # Each runner claims one lane: "realtime" work (callbacks, welcome messages) never
    # waits behind long "default" jobs such as imports and syncs.
    lane: Mapped[str] = mapped_column(String(16), default="default", server_default="default")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
    # queued | running | succeeded | dead | cancelled
    status: Mapped[str] = mapped_column(String(16), default="queued")
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    lease_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int | None] = mapped_column(BigInteger)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc())
    finished_at: Mapped[datetime | None]
