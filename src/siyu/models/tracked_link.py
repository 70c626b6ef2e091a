from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.kit.time import utcnow


class TrackedLink(IdMixin, WorkspaceMixin, Base):
    """A short link sent to one customer, or by a staff member to many: `/l/{code}`
    redirects to `url` and counts the open.

    `code` is unique across workspaces (the public URL names no workspace). `dedupe_key`
    (a hash of broadcast, customer and url) makes minting idempotent: a resumed send finds
    the links it minted before instead of minting new ones.
    """

    __tablename__ = "tracked_link"
    __table_args__ = (
        UniqueConstraint("code"),
        UniqueConstraint("workspace_id", "dedupe_key"),
        Index(None, "workspace_id", "broadcast_id"),
        Index(None, "workspace_id", "customer_id"),
    )

    code: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2048))
    # None for a link a staff member sends to many customers at once (WeCom messages and
    # posters): its opens are the broadcast's and the staff member's, not one customer's.
    customer_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    staff_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("staff.id", ondelete="SET NULL")
    )
    # The messaging domain's broadcast; None for links sent outside a broadcast.
    broadcast_id: Mapped[int | None] = mapped_column(BigInteger)
    # wecom | wecom_group | sms | email | webhook | poster …
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
