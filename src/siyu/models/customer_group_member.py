from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin


class CustomerGroupMember(IdMixin, WorkspaceMixin, Base):
    """A member of a customer group: a staff member (userid) or a customer (external_userid)."""

    __tablename__ = "customer_group_member"
    __table_args__ = (
        UniqueConstraint("group_id", "member_id"),
        Index(None, "workspace_id", "customer_id"),
    )

    group_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer_group.id", ondelete="CASCADE")
    )
    # staff | external
    member_type: Mapped[str] = mapped_column(String(16))
    # The userid of a staff member or the external_userid of a customer.
    member_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="SET NULL")
    )
    name: Mapped[str | None] = mapped_column(String(100))
    join_time: Mapped[datetime | None]
    join_scene: Mapped[int | None]
    invitor: Mapped[str | None] = mapped_column(String(64))
    # active | left
    status: Mapped[str] = mapped_column(String(16), default="active")
    left_at: Mapped[datetime | None]
