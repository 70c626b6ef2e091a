from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin
from siyu.db.types import BigIntId


class Membership(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """A user's role in one workspace; `staff_id` ties a staff-role user to their customers."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)

    user_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("staff.id", ondelete="SET NULL")
    )
    # A deactivated member keeps their history but can no longer sign in to this workspace.
    is_active: Mapped[bool] = mapped_column(default=True)
