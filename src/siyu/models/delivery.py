from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin


class Delivery(IdMixin, WorkspaceMixin, Base):
    """One customer's message of one broadcast: unique per (broadcast, customer, channel).

    The row exists before anything is sent; a send claims it first, so a message can only
    go out once however often a worker crashes or a send is resumed.
    """

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "customer_id", "channel"),
        Index(None, "broadcast_id", "status", "id"),
        Index(None, "workspace_id", "customer_id", "channel", "sent_at"),
        Index(None, "workspace_id", "channel", "provider_id"),
        # Frequency caps and WeCom's quota look back over a channel's recent sends.
        Index(None, "workspace_id", "channel", "sent_at"),
    )

    broadcast_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("broadcast.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(16))
    variant: Mapped[str | None] = mapped_column(String(8))
    staff_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("staff.id", ondelete="SET NULL")
    )
    # email address, mobile, external_userid or chat id: where the message goes
    address: Mapped[str | None] = mapped_column(String(320))
    # excluded | pending | sending | sent | delivered | failed | cancelled
    status: Mapped[str] = mapped_column(String(12), default="pending")
    # why it was excluded or failed: opted_out, no_address, frequency_cap, smtp_550 …
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(500))
    task_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("wecom_broadcast_task.id", ondelete="SET NULL")
    )
    provider_id: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    # set when the message is about to leave: a crash after it means "handed over"
    committed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    # the first time the message was seen (an email's open pixel); opens are counted once
    opened_at: Mapped[datetime | None]
