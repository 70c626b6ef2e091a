from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin


class WecomMedia(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """A stored file of a material as uploaded to WeCom: a temporary media id (valid three
    days, `media/upload`) or a permanent image URL (`media/uploadimg`, `url` set, no expiry).

    Keyed by the stored file's content key, so a replaced file is uploaded anew."""

    __tablename__ = "wecom_media"
    __table_args__ = (
        UniqueConstraint("material_id", "blob_key", "media_type"),
        Index(None, "expires_at"),
    )

    material_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("material.id", ondelete="CASCADE")
    )
    blob_key: Mapped[str] = mapped_column(String(120))
    # image | file | video (media/upload) or uploadimg (permanent URL)
    media_type: Mapped[str] = mapped_column(String(16))
    media_id: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(1000))
    # WeCom's created_at; a temporary media id expires three days later.
    uploaded_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
