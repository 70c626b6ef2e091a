from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin
from siyu.db.types import JSONDoc
from siyu.kit.time import utcnow


class FollowLoss(IdMixin, WorkspaceMixin, Base):
    """A lost customer: a follow relation ended because one side deleted the other."""

    __tablename__ = "follow_loss"
    __table_args__ = (
        Index(None, "workspace_id", "occurred_at", "id"),
        Index(None, "workspace_id", "staff_id"),
    )

    follow_relation_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("follow_relation.id", ondelete="SET NULL")
    )
    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    staff_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("staff.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("department.id", ondelete="SET NULL")
    )
    # customer (the customer deleted the staff member) | staff (the staff member deleted them)
    deleted_by: Mapped[str] = mapped_column(String(16))
    # callback | reconcile
    detected_by: Mapped[str] = mapped_column(String(16), default="callback")
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The department leaders (WeCom userids) told about it, and when; no messaging yet.
    alerted_userids: Mapped[list[Any]] = mapped_column(JSONDoc(), default=list)
    alerted_at: Mapped[datetime | None]
