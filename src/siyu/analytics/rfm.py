"""RFM: recency, frequency and money scored 1–5 per customer, and the eight classes.

Scores come from the customers who bought within the workspace's window (30, 90 or 365
days): cut points at the 20/40/60/80th percentiles of each measure. A dimension is
"high" when its score is 3 or more (method "quintiles") or when the customer beats the
average (method "averages"; for recency: bought more recently than average). Customers
without an order in the window get no scores and no class.
"""

import statistics
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, case, func, literal, select, update
from sqlalchemy.orm import Session

from siyu.db.types import UTCDateTime
from siyu.models import Customer, CustomerFeature
from siyu.segments.context import CompileContext
from siyu.workspace import service as workspace_service

SETTINGS_KEY = "rfm"
CLASSES: tuple[tuple[str, str, tuple[bool, bool, bool]], ...] = (
    ("important_value", "重要价值客户", (True, True, True)),
    ("important_develop", "重要发展客户", (True, False, True)),
    ("important_keep", "重要保持客户", (False, True, True)),
    ("important_retain", "重要挽留客户", (False, False, True)),
    ("general_value", "一般价值客户", (True, True, False)),
    ("general_develop", "一般发展客户", (True, False, False)),
    ("general_keep", "一般保持客户", (False, True, False)),
    ("general_retain", "一般挽留客户", (False, False, False)),
)


class RfmSettings(BaseModel):
    window_days: Literal[30, 90, 365] = 365
    method: Literal["quintiles", "averages"] = "quintiles"


class Thresholds(BaseModel):
    """Cut points (ascending) and averages the last scoring used."""

    recency_days: list[float] = Field(default_factory=list)
    frequency: list[float] = Field(default_factory=list)
    monetary_fen: list[float] = Field(default_factory=list)
    average_recency_days: float = 0
    average_frequency: float = 0
    average_monetary_fen: float = 0
    customers: int = 0
    computed_at: str | None = None


def get_settings(session: Session, workspace_id: int) -> RfmSettings:
    stored = workspace_service.get_workspace(session, workspace_id).settings.get(SETTINGS_KEY)
    return RfmSettings.model_validate((stored or {}).get("settings", {}))


def put_settings(session: Session, workspace_id: int, settings: RfmSettings) -> RfmSettings:
    workspace = workspace_service.get_workspace(session, workspace_id)
    stored = dict(workspace.settings.get(SETTINGS_KEY) or {})
    stored["settings"] = settings.model_dump()
    workspace.settings = {**workspace.settings, SETTINGS_KEY: stored}
    return settings


def thresholds(session: Session, workspace_id: int) -> Thresholds | None:
    stored = workspace_service.get_workspace(session, workspace_id).settings.get(SETTINGS_KEY)
    raw = (stored or {}).get("thresholds")
    return Thresholds.model_validate(raw) if raw else None


@dataclass(frozen=True)
class _Measures:
    recency: list[float]
    frequency: list[float]
    monetary: list[float]


def _cuts(values: list[float]) -> list[float]:
    if len(values) < 2:
        return [values[0]] * 4 if values else [0.0] * 4
    return statistics.quantiles(values, n=5, method="inclusive")


def score(session: Session, ctx: CompileContext) -> Thresholds:
    """Score every customer of the workspace (features must be current) in one UPDATE."""
    settings, found = measure(session, ctx)
    write_scores(session, ctx, settings, found)
    keep(session, ctx.workspace_id, found)
    return found


def measure(session: Session, ctx: CompileContext) -> tuple[RfmSettings, Thresholds]:
    """The workspace's settings and the cut points of its customers now (reads only)."""
    settings = get_settings(session, ctx.workspace_id)
    orders, paid, last_order = _columns(settings)
    rows = session.execute(
        select(last_order, orders, paid).where(
            CustomerFeature.workspace_id == ctx.workspace_id, orders > 0
        )
    ).all()
    today = ctx.today
    measures = _Measures(
        [float((today - at.astimezone(ctx.timezone).date()).days) for at, _, _ in rows if at],
        [float(f) for _, f, _ in rows],
        [float(m) for _, _, m in rows],
    )
    return settings, Thresholds(
        recency_days=_cuts(sorted(measures.recency)),
        frequency=_cuts(sorted(measures.frequency)),
        monetary_fen=_cuts(sorted(measures.monetary)),
        average_recency_days=statistics.fmean(measures.recency) if measures.recency else 0,
        average_frequency=statistics.fmean(measures.frequency) if measures.frequency else 0,
        average_monetary_fen=statistics.fmean(measures.monetary) if measures.monetary else 0,
        customers=len(rows),
        computed_at=ctx.now.isoformat(),
    )


def keep(session: Session, workspace_id: int, found: Thresholds) -> None:
    """Store the cut points the scores were written with."""
    workspace = workspace_service.get_workspace(session, workspace_id)
    stored = dict(workspace.settings.get(SETTINGS_KEY) or {})
    stored["thresholds"] = found.model_dump()
    workspace.settings = {**workspace.settings, SETTINGS_KEY: stored}


def _columns(settings: RfmSettings) -> tuple[Any, Any, Any]:
    orders = getattr(CustomerFeature, f"orders_{settings.window_days}d")
    paid = getattr(CustomerFeature, f"paid_{settings.window_days}d_fen")
    last_order = (
        select(Customer.last_order_at)
        .where(Customer.id == CustomerFeature.customer_id)
        .scalar_subquery()
    )
    return orders, paid, last_order


def write_scores(
    session: Session,
    ctx: CompileContext,
    settings: RfmSettings,
    found: Thresholds,
    between: tuple[int, int] | None = None,
) -> None:
    """Scores and classes from these cut points, for every customer or the customer ids
    `between` (first, last)."""
    orders, paid, last_order = _columns(settings)

    def since(days: float) -> Any:
        """Bought on or after the day `days` days before today."""
        return last_order >= ctx.day_start(ctx.today - timedelta(days=int(days)))

    r_score = case(*[(since(cut), 5 - i) for i, cut in enumerate(found.recency_days)], else_=1)
    f_score = case(
        *[(orders > cut, 5 - i) for i, cut in enumerate(reversed(found.frequency))], else_=1
    )
    m_score = case(
        *[(paid > cut, 5 - i) for i, cut in enumerate(reversed(found.monetary_fen))], else_=1
    )
    if settings.method == "quintiles":
        high_r, high_f, high_m = r_score >= 3, f_score >= 3, m_score >= 3
    else:
        high_r = since(found.average_recency_days)
        high_f = orders > found.average_frequency
        high_m = paid > found.average_monetary_fen
    classes = case(
        *[
            (and_(_is(high_r, r), _is(high_f, f), _is(high_m, m)), literal(name))
            for name, _, (r, f, m) in CLASSES
        ],
    )
    bought = orders > 0
    stmt = update(CustomerFeature).where(CustomerFeature.workspace_id == ctx.workspace_id)
    if between is not None:
        stmt = stmt.where(CustomerFeature.customer_id.between(*between))
    session.execute(
        stmt.values(
            rfm_r=case((bought, r_score), else_=None),
            rfm_f=case((bought, f_score), else_=None),
            rfm_m=case((bought, m_score), else_=None),
            rfm_class=case((bought, classes), else_=None),
        ).execution_options(synchronize_session=False)
    )


def _is(condition: ColumnElement[bool], wanted: bool) -> ColumnElement[bool]:
    return condition if wanted else ~condition


class RfmClassOut(BaseModel):
    rfm_class: str
    label: str
    customers: int
    share: float
    avg_recency_days: float | None
    avg_frequency: float | None
    avg_monetary_fen: float | None
    gmv_fen: int


class RfmOut(BaseModel):
    settings: RfmSettings
    thresholds: Thresholds | None
    classes: list[RfmClassOut]
    # score grid: [r][f] -> customers, r and f from 1 to 5
    grid: list[list[int]]
    scored_customers: int


def distribution(session: Session, ctx: CompileContext) -> RfmOut:
    settings = get_settings(session, ctx.workspace_id)
    orders, paid, last_order = _columns(settings)
    rows = session.execute(
        select(
            CustomerFeature.rfm_class,
            func.count(),
            func.avg(orders),
            func.avg(paid),
            func.coalesce(func.sum(paid), 0),
        )
        .where(
            CustomerFeature.workspace_id == ctx.workspace_id,
            CustomerFeature.rfm_class.is_not(None),
        )
        .group_by(CustomerFeature.rfm_class)
    ).all()
    recency = _average_recency(session, ctx, last_order)
    by_class = {row[0]: row for row in rows}
    total = sum(row[1] for row in rows)
    classes = []
    for name, label, _ in CLASSES:
        row = by_class.get(name)
        count = int(row[1]) if row else 0
        classes.append(
            RfmClassOut(
                rfm_class=name,
                label=label,
                customers=count,
                share=round(count / total, 4) if total else 0.0,
                avg_recency_days=recency.get(name),
                avg_frequency=float(row[2]) if row and row[2] is not None else None,
                avg_monetary_fen=float(row[3]) if row and row[3] is not None else None,
                gmv_fen=int(row[4]) if row else 0,
            )
        )
    grid = [[0] * 5 for _ in range(5)]
    for r, f, n in session.execute(
        select(CustomerFeature.rfm_r, CustomerFeature.rfm_f, func.count())
        .where(CustomerFeature.workspace_id == ctx.workspace_id, CustomerFeature.rfm_r.is_not(None))
        .group_by(CustomerFeature.rfm_r, CustomerFeature.rfm_f)
    ):
        if r is not None and f is not None:
            grid[r - 1][f - 1] = int(n)
    return RfmOut(
        settings=settings,
        thresholds=thresholds(session, ctx.workspace_id),
        classes=classes,
        grid=grid,
        scored_customers=total,
    )


def _average_recency(session: Session, ctx: CompileContext, last_order: Any) -> dict[str, float]:
    """Average days since the last order per class."""
    if ctx.dialect == "postgresql":
        age = func.extract("epoch", literal(ctx.now, UTCDateTime()) - last_order) / 86400
    else:
        age = func.julianday(literal(ctx.now.isoformat())) - func.julianday(last_order)
    rows = session.execute(
        select(CustomerFeature.rfm_class, func.avg(age))
        .where(
            CustomerFeature.workspace_id == ctx.workspace_id,
            CustomerFeature.rfm_class.is_not(None),
        )
        .group_by(CustomerFeature.rfm_class)
    )
    return {name: round(float(days), 1) for name, days in rows if days is not None}
