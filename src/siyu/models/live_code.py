from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin
from siyu.db.types import JSONDoc


class LiveCode(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """A channel live code (渠道活码): a WeCom contact way whose `state` names the channel."""

    __tablename__ = "live_code"
    __table_args__ = (
        UniqueConstraint("workspace_id", "state"),
        Index(None, "workspace_id", "status", "id"),
    )

    name: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(64))
    # Echoed back by WeCom in add_external_contact; WeCom allows at most 30 characters.
    state: Mapped[str] = mapped_column(String(30))
    # single | multi
    code_type: Mapped[str] = mapped_column(String(16), default="single")
    # round_robin | random | least_load
    rotation: Mapped[str] = mapped_column(String(16), default="round_robin")
    skip_verify: Mapped[bool] = mapped_column(default=True)
    # Optional daily window ("HH:MM", workspace time) outside which adds need verification.
    skip_verify_from: Mapped[str | None] = mapped_column(String(5))
    skip_verify_to: Mapped[str | None] = mapped_column(String(5))
    daily_cap: Mapped[int | None]
    remark_template: Mapped[str | None] = mapped_column(String(100))
    welcome_text: Mapped[str | None] = mapped_column(Text)
    welcome_attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc(), default=list)
    tag_ids: Mapped[list[int]] = mapped_column(JSONDoc(), default=list)
    # active | paused | deleted
    status: Mapped[str] = mapped_column(String(16), default="active")

    # What WeCom holds: the contact way, its QR code URL and the users and skip_verify
    # last sent to it (compared with the current duty roster to decide on an update).
    config_id: Mapped[str | None] = mapped_column(String(64))
    qr_code: Mapped[str | None] = mapped_column(String(500))
    on_duty_staff_ids: Mapped[list[int]] = mapped_column(JSONDoc(), default=list)
    skip_verify_applied: Mapped[bool | None]
    synced_at: Mapped[datetime | None]
    sync_error: Mapped[str | None] = mapped_column(String(500))
    # The PNG behind qr_code, fetched once; cleared when qr_code changes.
    qr_image: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
