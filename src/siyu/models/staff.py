from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin


class Staff(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """A staff member (WeCom member): sales, store guide, service."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("workspace_id", "wecom_userid"),)

    name: Mapped[str] = mapped_column(String(100))
    wecom_userid: Mapped[str | None] = mapped_column(String(64))
    mobile: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    position: Mapped[str | None] = mapped_column(String(100))
    department_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("department.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="active")
