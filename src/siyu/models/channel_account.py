from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin
from siyu.db.types import JSONDoc


class ChannelAccount(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """A workspace's provider account for one channel: SMTP server, SMS keys, webhook."""

    __tablename__ = "channel_account"
    __table_args__ = (UniqueConstraint("workspace_id", "channel"),)

    channel: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
    # the password / access key secret / signing secret, encrypted with the app's SecretBox
    secret: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
