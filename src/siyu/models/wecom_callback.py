from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.kit.time import utcnow


class WecomCallback(IdMixin, WorkspaceMixin, Base):
    """The inbox: one verified, decrypted WeCom callback, stored before it is processed.

    `dedupe_key` is the SHA-256 of the decrypted XML, so WeCom's retries are stored once.
    """

    __tablename__ = "wecom_callback"
    __table_args__ = (
        UniqueConstraint("workspace_id", "dedupe_key"),
        Index(None, "workspace_id", "status", "received_at"),
    )

    dedupe_key: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64), default="")
    change_type: Mapped[str | None] = mapped_column(String(64))
    raw_xml: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # received | processed | ignored (no handler) | failed (error kept, the job retries)
    status: Mapped[str] = mapped_column(String(16), default="received")
    error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]
