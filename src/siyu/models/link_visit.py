from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.kit.time import utcnow


class LinkVisit(IdMixin, WorkspaceMixin, Base):
    """One counted open of a tracked link (bot and prefetch requests are never stored).

    `kind` is "own" when the link's own customer opened it, "shared" when someone it was
    forwarded to did; `customer_id` is who the visitor was known as at the time, if anyone.
    """

    __tablename__ = "link_visit"
    __table_args__ = (
        Index(None, "workspace_id", "link_id", "kind"),
        Index(None, "workspace_id", "customer_id"),
    )

    link_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tracked_link.id", ondelete="CASCADE")
    )
    visitor_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("link_visitor.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(8))
    visited_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_agent: Mapped[str | None] = mapped_column(String(300))
