from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, IdMixin, TimestampMixin, WorkspaceMixin
from siyu.db.types import JSONDoc


class ClvModel(IdMixin, WorkspaceMixin, TimestampMixin, Base):
    """A BG/NBD + Gamma-Gamma fit for one workspace, with its quality against a hold-out."""

    __tablename__ = "clv_model"
    __table_args__ = (Index(None, "workspace_id", "created_at"),)

    # fitting | ready | failed
    status: Mapped[str] = mapped_column(String(16), default="fitting")
    calibration_end: Mapped[date | None]
    holdout_days: Mapped[int | None]
    customers: Mapped[int] = mapped_column(default=0)
    # r, alpha, a, b (BG/NBD) and p, q, gamma (Gamma-Gamma)
    params: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
    # log-likelihoods and the calibration vs hold-out comparison shown to the user
    quality: Mapped[dict[str, Any]] = mapped_column(JSONDoc(), default=dict)
    fitted_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(1000))
