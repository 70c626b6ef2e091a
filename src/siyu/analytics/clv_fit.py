"""Fitting CLV for a workspace: its purchase history, a hold-out check, per-customer values.

Purchases are days with a counted order (paid, shipped, completed); a day's orders are one
purchase worth what was paid less refunds. Time is in weeks. The quality check fits on the
history up to `holdout_days` ago and compares the repeat purchases it predicts for the
hold-out period with the ones that happened, per number of calibration repeat purchases;
then the model is refitted on everything and every customer gets expected purchases in the
next 90/180/365 days, P(alive) and a predicted 365-day value.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.analytics.clv import Array, BgNbd, GammaGamma, fit_bgnbd, fit_gamma_gamma
from siyu.analytics.clv_errors import FitError
from siyu.commerce.repository import COUNTED_STATUSES
from siyu.kit.time import utcnow
from siyu.models import ClvModel, CustomerFeature, Order

WEEK = 7.0
FIT_SAMPLE = 200_000
WRITE_CHUNK = 5_000
BUCKETS = 7  # repeat purchases 0..5 and 6+


@dataclass
class History:
    customer_ids: list[int]
    first: list[datetime]
    days: list[list[tuple[datetime, int]]]  # purchase days with their value, in order


def _purchases(session: Session, workspace_id: int) -> Iterator[tuple[int, datetime, int]]:
    rows = session.execute(
        select(Order.customer_id, Order.ordered_at, Order.paid_fen - Order.refunded_fen)
        .where(
            Order.workspace_id == workspace_id,
            Order.customer_id.is_not(None),
            Order.status.in_(COUNTED_STATUSES),
        )
        .order_by(Order.customer_id, Order.ordered_at)
        .execution_options(yield_per=20_000)
    )
    for customer_id, at, value in rows:
        yield int(customer_id or 0), at, int(value or 0)


def load_history(session: Session, workspace_id: int) -> History:
    history = History([], [], [])
    current: int | None = None
    for customer_id, at, value in _purchases(session, workspace_id):
        day = at.replace(hour=0, minute=0, second=0, microsecond=0)
        if customer_id != current:
            history.customer_ids.append(customer_id)
            history.first.append(day)
            history.days.append([])
            current = customer_id
        days = history.days[-1]
        if days and days[-1][0] == day:
            days[-1] = (day, days[-1][1] + value)
        else:
            days.append((day, value))
    return history


def summarise(history: History, end: datetime) -> tuple[Array, Array, Array, Array, list[int]]:
    """(x, t_x, T, m) of the customers whose first purchase is before `end`, and their ids."""
    xs, txs, ts, ms, ids = [], [], [], [], []
    for customer_id, first, days in zip(
        history.customer_ids, history.first, history.days, strict=True
    ):
        if first >= end:
            continue
        seen = [(day, value) for day, value in days if day < end]
        repeat = seen[1:]
        xs.append(float(len(repeat)))
        txs.append((seen[-1][0] - first).days / WEEK)
        ts.append((end - first).days / WEEK)
        ms.append(float(np.mean([v for _, v in repeat])) if repeat else 0.0)
        ids.append(customer_id)
    return _array(xs), _array(txs), _array(ts), _array(ms), ids


def _array(values: list[float]) -> Array:
    return np.array(values, dtype=np.float64)


def _sampled(arrays: tuple[Array, ...], size: int) -> tuple[Array, ...]:
    n = len(arrays[0])
    if n <= size:
        return arrays
    picked = np.array(sorted(random.Random(7).sample(range(n), size)))  # noqa: S311 - a sample, not a secret
    return tuple(a[picked] for a in arrays)


def quality(history: History, now: datetime, holdout_days: int) -> dict[str, Any]:
    """Calibration vs hold-out: fit before the cut, compare predicted and actual repeat
    purchases in the hold-out weeks per calibration repeat-purchase count."""
    cut = now - timedelta(days=holdout_days)
    x, t_x, t, _m, ids = summarise(history, cut)
    sx, stx, st = _sampled((x, t_x, t), FIT_SAMPLE)
    model = fit_bgnbd(sx, stx, st)
    predicted = model.expected_purchases(holdout_days / WEEK, x, t_x, t)
    by_id = dict(zip(history.customer_ids, history.days, strict=True))
    actual = np.array(
        [sum(1 for day, _ in by_id[i] if cut <= day < now) for i in ids], dtype=np.float64
    )
    buckets = []
    for bucket in range(BUCKETS):
        chosen = (x == bucket) if bucket < BUCKETS - 1 else (x >= bucket)
        buckets.append(
            {
                "repeat_purchases": bucket if bucket < BUCKETS - 1 else f"{bucket}+",
                "customers": int(np.count_nonzero(chosen)),
                "actual": round(float(np.mean(actual[chosen])), 4) if chosen.any() else 0.0,
                "predicted": round(float(np.mean(predicted[chosen])), 4) if chosen.any() else 0.0,
            }
        )
    total_actual, total_predicted = float(np.sum(actual)), float(np.sum(predicted))
    return {
        "calibration_end": cut.date().isoformat(),
        "holdout_days": holdout_days,
        "customers": len(ids),
        "actual_purchases": int(total_actual),
        "predicted_purchases": round(total_predicted, 1),
        "error_pct": round(100 * (total_predicted - total_actual) / total_actual, 1)
        if total_actual
        else None,
        "mae_per_customer": round(float(np.mean(np.abs(predicted - actual))), 4),
        "buckets": buckets,
        "calibration_params": {"r": model.r, "alpha": model.alpha, "a": model.a, "b": model.b},
    }


@dataclass
class Fitted:
    """A workspace's fitted models and every customer's values, ready to be written."""

    bgnbd: BgNbd
    spend: GammaGamma
    quality: dict[str, Any]
    ids: list[int]
    values: dict[str, Array]


def fit_history(session: Session, workspace_id: int, holdout_days: int, now: datetime) -> Fitted:
    """Read the purchase history, check the model on a hold-out and fit it on everything.
    Only reads, so a job can run it without holding a write lock; raises FitError when
    the data cannot support a fit."""
    history = load_history(session, workspace_id)
    checked = quality(history, now, holdout_days)
    x, t_x, t, m, ids = summarise(history, now + timedelta(days=1))
    sx, stx, st, sm = _sampled((x, t_x, t, m), FIT_SAMPLE)
    bgnbd = fit_bgnbd(sx, stx, st)
    spend = fit_gamma_gamma(sx, sm)
    expected = {days: bgnbd.expected_purchases(days / WEEK, x, t_x, t) for days in (90, 180, 365)}
    checked["log_likelihood"] = bgnbd.log_likelihood(x, t_x, t) / len(x)
    return Fitted(
        bgnbd,
        spend,
        checked,
        ids,
        {
            "expected_purchases_90d": expected[90],
            "expected_purchases_180d": expected[180],
            "expected_purchases_365d": expected[365],
            "p_alive": bgnbd.p_alive(x, t_x, t),
            "predicted_value_fen": expected[365] * spend.expected_spend(x, m),
        },
    )


def write_values(session: Session, workspace_id: int, fitted: Fitted, start: int) -> int:
    """Store the values of up to WRITE_CHUNK customers from `start`; returns where the
    next chunk starts."""
    stop = min(start + WRITE_CHUNK, len(fitted.ids))
    table: Table = CustomerFeature.__table__  # type: ignore[assignment]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    rows = [
        {"workspace_id": workspace_id, "customer_id": fitted.ids[i]}
        | {
            column: round(float(values[i]))
            if column == "predicted_value_fen"
            else round(float(values[i]), 4)
            for column, values in fitted.values.items()
        }
        for i in range(start, stop)
    ]
    if rows:
        stmt = dialect.insert(table)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["customer_id"],
                set_={c: getattr(stmt.excluded, c) for c in fitted.values},
            ),
            rows,
        )
    return stop


def finish(model_row: ClvModel, fitted: Fitted, holdout_days: int, now: datetime) -> None:
    model_row.status = "ready"
    model_row.customers = len(fitted.ids)
    model_row.holdout_days = holdout_days
    model_row.calibration_end = (now - timedelta(days=holdout_days)).date()
    model_row.params = {
        "r": fitted.bgnbd.r,
        "alpha": fitted.bgnbd.alpha,
        "a": fitted.bgnbd.a,
        "b": fitted.bgnbd.b,
        "p": fitted.spend.p,
        "q": fitted.spend.q,
        "gamma": fitted.spend.gamma,
        "time_unit": "week",
    }
    model_row.quality = fitted.quality
    model_row.fitted_at = utcnow()


def fail(model_row: ClvModel, error: FitError) -> None:
    model_row.status = "failed"
    model_row.last_error = f"无法拟合 CLV 模型 / CLV model could not be fitted: {error}"
