"""CLV models of a workspace: fits queued as jobs, the latest model and its value bands."""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from siyu.analytics.clv_errors import FitError
from siyu.exceptions import NotFound
from siyu.kit.time import utcnow
from siyu.models import ClvModel, CustomerFeature
from siyu.worker.queue import enqueue

if TYPE_CHECKING:
    from siyu.analytics.clv_fit import Fitted

FIT_JOB = "analytics.fit_clv"
REFIT_AFTER = timedelta(days=7)
ALIVE_BANDS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.01))
VALUE_BANDS_FEN = (
    (0, 10_000),
    (10_000, 50_000),
    (50_000, 100_000),
    (100_000, 500_000),
    (500_000, None),
)


class FitIn(BaseModel):
    holdout_days: int = Field(default=90, ge=30, le=365)


class ClvModelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    calibration_end: Any
    holdout_days: int | None
    customers: int
    params: dict[str, Any]
    quality: dict[str, Any]
    fitted_at: datetime | None
    last_error: str | None
    created_at: datetime


class BandOut(BaseModel):
    label: str
    low: float
    high: float | None
    customers: int


class ClvOut(BaseModel):
    model: ClvModelOut | None
    latest_attempt: ClvModelOut | None
    alive_bands: list[BandOut]
    value_bands: list[BandOut]
    predicted_value_fen: int


def queue_fit(session: Session, workspace_id: int, holdout_days: int) -> ClvModelOut:
    model = ClvModel(workspace_id=workspace_id, status="fitting", holdout_days=holdout_days)
    session.add(model)
    session.flush()
    enqueue(
        session,
        FIT_JOB,
        {"model_id": model.id, "holdout_days": holdout_days},
        workspace_id=workspace_id,
    )
    return ClvModelOut.model_validate(model)


def fit_history(
    session: Session, workspace_id: int, model_id: int, holdout_days: int, now: datetime
) -> "Fitted":
    """Fit the queued model on the workspace's history (reads only; raises FitError)."""
    from siyu.analytics import clv_fit  # noqa: PLC0415 - numpy and scipy load for fits only

    _model(session, workspace_id, model_id)
    return clv_fit.fit_history(session, workspace_id, holdout_days, now)


def finish_fit(
    session: Session,
    workspace_id: int,
    model_id: int,
    fitted: "Fitted",
    holdout_days: int,
    now: datetime,
) -> str:
    from siyu.analytics import clv_fit  # noqa: PLC0415 - numpy and scipy load for fits only

    model = _model(session, workspace_id, model_id)
    clv_fit.finish(model, fitted, holdout_days, now)
    return model.status


def fail_fit(session: Session, workspace_id: int, model_id: int, error: FitError) -> str:
    from siyu.analytics import clv_fit  # noqa: PLC0415 - numpy and scipy load for fits only

    model = _model(session, workspace_id, model_id)
    clv_fit.fail(model, error)
    return model.status


def _model(session: Session, workspace_id: int, model_id: int) -> ClvModel:
    model = session.scalar(
        select(ClvModel).where(ClvModel.workspace_id == workspace_id, ClvModel.id == model_id)
    )
    if model is None:
        raise NotFound("CLV model")
    return model


def needs_refit(session: Session, workspace_id: int) -> bool:
    last = session.scalar(
        select(func.max(ClvModel.created_at)).where(ClvModel.workspace_id == workspace_id)
    )
    return last is None or last < utcnow() - REFIT_AFTER


def models(session: Session, workspace_id: int) -> list[ClvModelOut]:
    rows = session.scalars(
        select(ClvModel)
        .where(ClvModel.workspace_id == workspace_id)
        .order_by(ClvModel.created_at.desc(), ClvModel.id.desc())
        .limit(50)
    )
    return [ClvModelOut.model_validate(m) for m in rows]


def overview(session: Session, workspace_id: int) -> ClvOut:
    history = models(session, workspace_id)
    ready = next((m for m in history if m.status == "ready"), None)
    alive = _bands(session, workspace_id, CustomerFeature.p_alive, ALIVE_BANDS, percent=True)
    value = _bands(
        session, workspace_id, CustomerFeature.predicted_value_fen, VALUE_BANDS_FEN, percent=False
    )
    total = session.scalar(
        select(func.coalesce(func.sum(CustomerFeature.predicted_value_fen), 0)).where(
            CustomerFeature.workspace_id == workspace_id
        )
    )
    return ClvOut(
        model=ready,
        latest_attempt=history[0] if history else None,
        alive_bands=alive,
        value_bands=value,
        predicted_value_fen=int(total or 0),
    )


def _bands(
    session: Session,
    workspace_id: int,
    column: Any,
    bands: tuple[tuple[float, float | None], ...],
    *,
    percent: bool,
) -> list[BandOut]:
    labels = case(
        *[
            ((column >= low) & (column < high) if high is not None else column >= low, index)
            for index, (low, high) in enumerate(bands)
        ],
        else_=-1,
    )
    rows = session.execute(
        select(labels, func.count())
        .where(CustomerFeature.workspace_id == workspace_id, column.is_not(None))
        .group_by(labels)
    )
    counts: dict[int, int] = {int(band): int(n) for band, n in rows}
    out = []
    for index, (low, high) in enumerate(bands):
        if percent:
            label = f"{round(low * 100)}–{min(round((high or 1) * 100), 100)}%"
        else:
            label = (
                f"¥{low / 100:,.0f}+" if high is None else f"¥{low / 100:,.0f}–{high / 100:,.0f}"
            )
        out.append(BandOut(label=label, low=low, high=high, customers=int(counts.get(index, 0))))
    return out
