from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.kit.time import utcnow


class LinkVisitor(IdMixin, WorkspaceMixin, Base):
    """A browser that opened tracked links, known by its first-party cookie (`visitor_key`).

    `customer_id` is set once the browser opens a link of its own customer; until then
    the visitor is anonymous, and share edges that reach it show it as such.
    """

    __tablename__ = "link_visitor"
    __table_args__ = (
        UniqueConstraint("workspace_id", "visitor_key"),
        Index(None, "workspace_id", "customer_id"),
    )

    visitor_key: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="SET NULL")
    )
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    bound_at: Mapped[datetime | None]
