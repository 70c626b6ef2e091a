from datetime import datetime

from pydantic import SecretStr
from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin
from siyu.db.types import EncryptedString


class WecomConnection(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """A workspace's WeCom corp: the self-built app's secrets and its callback settings.

    Secrets are encrypted at rest. `api_base_url` points at qyapi.weixin.qq.com in
    production and at the simulator in the demo and in tests.
    """

    __tablename__ = "wecom_connection"
    __table_args__ = (UniqueConstraint("workspace_id"),)

    corp_id: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[str | None] = mapped_column(String(32))
    # 客户联系 secret (external-contact APIs) and 通讯录同步 secret (departments, members).
    contact_secret: Mapped[SecretStr] = mapped_column(EncryptedString())
    directory_secret: Mapped[SecretStr | None] = mapped_column(EncryptedString())
    callback_token: Mapped[SecretStr] = mapped_column(EncryptedString())
    encoding_aes_key: Mapped[SecretStr] = mapped_column(EncryptedString())
    api_base_url: Mapped[str] = mapped_column(String(300), default="https://qyapi.weixin.qq.com")
    # pending | verified | failing
    status: Mapped[str] = mapped_column(String(16), default="pending")
    callback_verified_at: Mapped[datetime | None]
    last_check_at: Mapped[datetime | None]
