from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.kit.time import utcnow


class WecomTransfer(IdMixin, WorkspaceMixin, Base):
    """One customer, or one customer group, handed from one staff member to another
    (在职/离职继承)."""

    __tablename__ = "wecom_transfer"
    __table_args__ = (
        Index(None, "workspace_id", "external_userid", "requested_at"),
        Index(None, "workspace_id", "status"),
    )

    # onjob (在职继承) | resigned (离职继承) | group_onjob | group_resigned (a customer group)
    kind: Mapped[str] = mapped_column(String(16))
    handover_userid: Mapped[str] = mapped_column(String(64))
    takeover_userid: Mapped[str] = mapped_column(String(64))
    # the customer's external_userid, or the group's chat_id for group kinds
    external_userid: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="SET NULL")
    )
    # refused (by Siyu, before calling) | pending | failed (WeCom refused to start) |
    # waiting | done | customer_refused | takeover_limit | no_record; groups never wait
    status: Mapped[str] = mapped_column(String(16), default="pending")
    errcode: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    takeover_time: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
