from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin


class Tag(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    __tablename__ = "tag"
    __table_args__ = (UniqueConstraint("workspace_id", "group_id", "name"),)

    group_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tag_group.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    sort_order: Mapped[int] = mapped_column(default=0)
    wecom_tag_id: Mapped[str | None] = mapped_column(String(64))
    # Customers carrying the tag: kept by the tag writes, recounted hourly to absorb what
    # other paths change (customer deletion, merges), so lists and dashboards never count.
    customer_count: Mapped[int] = mapped_column(default=0, server_default="0")
