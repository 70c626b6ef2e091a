from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin
from siyu.db.types import JSONDoc


class Material(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """One item of the materials library (素材): a text snippet, image, link, mini-program
    card, file, video or poster template. Stored files are named by their content hash
    (`file_key`, `cover_key`) in the file store, so identical uploads are stored once."""

    __tablename__ = "material"
    __table_args__ = (
        Index(None, "workspace_id", "kind", "created_at", "id"),
        Index(None, "workspace_id", "created_at", "id"),
    )

    # text | image | link | miniprogram | file | video | poster
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    group_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("material_group.id", ondelete="SET NULL"), index=True
    )
    # Free tags, in the order given; `material_tag` rows mirror them for search.
    tags: Mapped[list[str]] = mapped_column(JSONDoc(), default=list)

    content: Mapped[str | None] = mapped_column(Text)  # text snippets
    url: Mapped[str | None] = mapped_column(String(2000))  # links
    appid: Mapped[str | None] = mapped_column(String(64))  # mini-program cards
    page_path: Mapped[str | None] = mapped_column(String(500))

    # The stored file: the image, document, video or poster background.
    file_key: Mapped[str | None] = mapped_column(String(120))
    filename: Mapped[str | None] = mapped_column(String(200))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    # The cover image of a link or mini-program card.
    cover_key: Mapped[str | None] = mapped_column(String(120))
    cover_content_type: Mapped[str | None] = mapped_column(String(100))

    # Poster templates: {"elements": [{"kind", "x", "y", "size", "font_size", "color", ...}]}.
    poster: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc())
    # Set whenever the material is sent (its WeCom media id asked for); the media refresh
    # job keeps media ids alive only for materials used lately.
    last_used_at: Mapped[datetime | None]
