from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin
from siyu.db.types import JSONDoc

DEFAULT_MERGE_KINDS = ["wecom_external_userid", "wechat_unionid", "mobile"]


class Workspace(IdMixin, TimestampMixin, Base):
    """A tenant: one brand, one WeCom corp."""

    __tablename__ = "workspace"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    wecom_corp_id: Mapped[str | None] = mapped_column(String(64))
    # Identity kinds strong enough that one record matching two customers merges them.
    merge_kinds: Mapped[list[str]] = mapped_column(
        JSONDoc(), default=lambda: list(DEFAULT_MERGE_KINDS)
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
