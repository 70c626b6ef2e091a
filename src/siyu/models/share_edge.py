from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.kit.time import utcnow


class ShareEdge(IdMixin, WorkspaceMixin, Base):
    """A forwarded link reached someone: the link's customer (sharer) → a visitor.

    One row per (link, visitor), counting that visitor's opens. The visitor is resolved to
    a customer when the share chain is read, so an anonymous visitor who later opens a link
    of their own joins the chain as that customer.
    """

    __tablename__ = "share_edge"
    __table_args__ = (
        UniqueConstraint("workspace_id", "link_id", "visitor_id"),
        Index(None, "workspace_id", "broadcast_id"),
        Index(None, "workspace_id", "sharer_customer_id"),
    )

    link_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tracked_link.id", ondelete="CASCADE")
    )
    # Copied from the link, so a broadcast's chain is read without joining its links.
    broadcast_id: Mapped[int | None] = mapped_column(BigInteger)
    sharer_customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    visitor_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("link_visitor.id", ondelete="CASCADE")
    )
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)
    opens: Mapped[int] = mapped_column(default=1)
