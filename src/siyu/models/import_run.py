from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin
from siyu.db.types import JSONDoc


class ImportRun(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """One upload of an order or customer file: mapping, progress, counts, error file."""

    __tablename__ = "import_run"

    kind: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str | None] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(300))
    stored_path: Mapped[str] = mapped_column(String(500))
    encoding: Mapped[str | None] = mapped_column(String(16))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
    # uploaded | queued | running | succeeded | failed
    status: Mapped[str] = mapped_column(String(16), default="uploaded")
    total_rows: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    errors_path: Mapped[str | None] = mapped_column(String(500))
    # Bytes of the error file that belong to committed chunks (where a resumed run appends).
    error_bytes: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(String(1000))
    created_by: Mapped[str | None] = mapped_column(String(100))
    job_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("job.id", ondelete="SET NULL")
    )
    finished_at: Mapped[datetime | None]
