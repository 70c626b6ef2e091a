from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin


class Department(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    __tablename__ = "department"
    __table_args__ = (UniqueConstraint("workspace_id", "wecom_id"),)

    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("department.id", ondelete="SET NULL")
    )
    wecom_id: Mapped[int | None] = mapped_column(BigInteger)
    sort_order: Mapped[int] = mapped_column(default=0)
    # No foreign key: staff already references department, and a cycle would complicate
    # table creation; the staff service clears it when the staff member is deleted.
    manager_staff_id: Mapped[int | None] = mapped_column(BigInteger)
