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

from siyu.analytics.clv import Array, BgNbd, FitError, GammaGamma, fit_bgnbd, fit_gamma_gamma
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


def fit_workspace(session: Session, model_row: ClvModel, holdout_days: int) -> None:
    """Fit, check and write; a fit the data cannot support ends the model as failed."""
    now = utcnow()
    history = load_history(session, model_row.workspace_id)
    try:
        checked = quality(history, now, holdout_days)
        x, t_x, t, m, ids = summarise(history, now + timedelta(days=1))
        sx, stx, st, sm = _sampled((x, t_x, t, m), FIT_SAMPLE)
        bgnbd = fit_bgnbd(sx, stx, st)
        spend = fit_gamma_gamma(sx, sm)
    except FitError as error:
        model_row.status = "failed"
        model_row.last_error = f"无法拟合 CLV 模型 / CLV model could not be fitted: {error}"
        return
    _write(session, model_row.workspace_id, ids, bgnbd, spend, x, t_x, t, m)
    model_row.status = "ready"
    model_row.customers = len(ids)
    model_row.holdout_days = holdout_days
    model_row.calibration_end = (now - timedelta(days=holdout_days)).date()
    model_row.params = {
        "r": bgnbd.r,
        "alpha": bgnbd.alpha,
        "a": bgnbd.a,
        "b": bgnbd.b,
        "p": spend.p,
        "q": spend.q,
        "gamma": spend.gamma,
        "time_unit": "week",
    }
    model_row.quality = checked | {"log_likelihood": bgnbd.log_likelihood(x, t_x, t) / len(x)}
    model_row.fitted_at = utcnow()


def _write(
    session: Session,
    workspace_id: int,
    ids: list[int],
    bgnbd: BgNbd,
    spend: GammaGamma,
    x: Array,
    t_x: Array,
    t: Array,
    m: Array,
) -> None:
    expected = {days: bgnbd.expected_purchases(days / WEEK, x, t_x, t) for days in (90, 180, 365)}
    alive = bgnbd.p_alive(x, t_x, t)
    value = expected[365] * spend.expected_spend(x, m)
    table: Table = CustomerFeature.__table__  # type: ignore[assignment]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    columns = (
        "expected_purchases_90d",
        "expected_purchases_180d",
        "expected_purchases_365d",
        "p_alive",
        "predicted_value_fen",
    )
    for start in range(0, len(ids), WRITE_CHUNK):
        rows = [
            {
                "workspace_id": workspace_id,
                "customer_id": ids[i],
                "expected_purchases_90d": round(float(expected[90][i]), 4),
                "expected_purchases_180d": round(float(expected[180][i]), 4),
                "expected_purchases_365d": round(float(expected[365][i]), 4),
                "p_alive": round(float(alive[i]), 4),
                "predicted_value_fen": round(float(value[i])),
            }
            for i in range(start, min(start + WRITE_CHUNK, len(ids)))
        ]
        stmt = dialect.insert(table)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["customer_id"],
                set_={c: getattr(stmt.excluded, c) for c in columns},
            ),
            rows,
        )
