from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.db.types import JSONDoc
from siyu.kit.time import utcnow


class WecomSyncRun(IdMixin, WorkspaceMixin, Base):
    """One full sync or reconciliation against WeCom: where it is, what it read and fixed."""

    __tablename__ = "wecom_sync_run"
    __table_args__ = (Index(None, "workspace_id", "started_at"),)

    # full | reconcile
    kind: Mapped[str] = mapped_column(String(16))
    # queued | running | succeeded | failed
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # departments | members | tags | contacts | groups | finish | done
    phase: Mapped[str] = mapped_column(String(16), default="departments")
    # Where the running phase resumes after a crash (page cursors, offsets).
    checkpoint: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
    fixes: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
    api_calls: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
