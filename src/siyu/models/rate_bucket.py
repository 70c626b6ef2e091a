from sqlalchemy import Double, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, WorkspaceMixin


class RateBucket(IdMixin, WorkspaceMixin, Base):
    """A rate limit's state shared by every worker process (see `siyu.kit.ratelimit`).

    For a token bucket, `tokens` is the level at `refilled_at` (unix seconds); the refill
    since then is computed in the UPDATE that takes a token. For one slot of a window's
    ring, `tokens` counts the calls made in the slot and `refilled_at` is the slot's number.
    """

    __tablename__ = "rate_bucket"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    key: Mapped[str] = mapped_column(String(120))
    tokens: Mapped[float] = mapped_column(Double())
    refilled_at: Mapped[float] = mapped_column(Double())
