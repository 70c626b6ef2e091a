from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.kit.time import utcnow


class OptOut(IdMixin, WorkspaceMixin, Base):
    """A customer unsubscribed from a channel (wecom | sms | email | all)."""

    __tablename__ = "opt_out"
    __table_args__ = (UniqueConstraint("workspace_id", "customer_id", "channel"),)

    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    opted_out_at: Mapped[datetime] = mapped_column(default=utcnow)
