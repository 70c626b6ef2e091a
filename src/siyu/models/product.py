from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin


class Product(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    __tablename__ = "product"
    __table_args__ = (UniqueConstraint("workspace_id", "platform", "external_id"),)

    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(100))
    price_fen: Mapped[int | None]
