from typing import Any

from sqlalchemy import BigInteger, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin
from siyu.db.types import JSONDoc


class LiveCodeStaff(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """A staff member on a live code: weight, own daily cap, working hours, backup or not."""

    __tablename__ = "live_code_staff"
    __table_args__ = (UniqueConstraint("live_code_id", "staff_id"),)

    live_code_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("live_code.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("staff.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    weight: Mapped[int] = mapped_column(default=1)
    daily_cap: Mapped[int | None]
    # [{"weekdays": [1..7], "ranges": [["09:00", "18:00"], ...]}, ...]; empty = always.
    schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc(), default=list)
    is_backup: Mapped[bool] = mapped_column(default=False)
