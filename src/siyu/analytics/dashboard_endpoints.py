"""Dashboards: each answers JSON, or its table as CSV with ?format=csv."""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from siyu.analytics import dashboards
from siyu.analytics.csv import csv_response
from siyu.db.dependencies import DbSession
from siyu.workspace.dependencies import Viewer

router = APIRouter(prefix="/analytics", tags=["analytics"])
Format = Annotated[Literal["json", "csv"], Query(alias="format")]
From = Annotated[
    date | None, Query(alias="from", description="first local day; default 30 days ago")
]
To = Annotated[date | None, Query(alias="to", description="last local day; default today")]
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}
}


@router.get("/growth", response_model=dashboards.GrowthOut, responses=CSV)
def growth(
    session: DbSession,
    principal: Viewer,
    start: From = None,
    end: To = None,
    by: Literal["none", "channel", "staff", "live_code"] = "none",
    as_format: Format = "json",
) -> dashboards.GrowthOut | Response:
    """New, lost and net customers per day, grouped by channel, staff or live code."""
    found = dashboards.growth(session, principal, start, end, by)
    if as_format == "csv":
        rows = [
            [day.isoformat(), s.group, s.new[i], s.lost[i], s.net[i]]
            for s in found.series
            for i, day in enumerate(found.days)
        ]
        return csv_response("growth.csv", ["日期", "分组", "新增", "流失", "净增"], rows)
    return found


@router.get("/lifecycle", response_model=list[dashboards.StageCount], responses=CSV)
def lifecycle(
    session: DbSession, principal: Viewer, as_format: Format = "json"
) -> list[dashboards.StageCount] | Response:
    """Live customers by lifecycle stage."""
    found = dashboards.lifecycle(session, principal)
    if as_format == "csv":
        rows = [[s.stage, s.customers, s.share] for s in found]
        return csv_response("lifecycle.csv", ["阶段", "客户数", "占比"], rows)
    return found


@router.get("/funnel", response_model=list[dashboards.FunnelStep], responses=CSV)
def funnel(
    session: DbSession,
    principal: Viewer,
    stages: Annotated[str, Query(description="stages in funnel order, comma separated")],
    start: From = None,
    end: To = None,
    as_format: Format = "json",
) -> list[dashboards.FunnelStep] | Response:
    """Customers who entered each stage in the period, and the conversion between steps."""
    wanted = [s.strip() for s in stages.split(",") if s.strip()]
    found = dashboards.funnel(session, principal, wanted, start, end)
    if as_format == "csv":
        rows = [[s.stage, s.entered, s.conversion_from_previous] for s in found]
        return csv_response("funnel.csv", ["阶段", "进入人数", "转化率"], rows)
    return found


@router.get("/cohorts", response_model=list[dashboards.CohortRow], responses=CSV)
def cohorts(
    session: DbSession,
    principal: Viewer,
    months: Annotated[int, Query(ge=1, le=36)] = 12,
    as_format: Format = "json",
) -> list[dashboards.CohortRow] | Response:
    """By first-order month: customers, retention (share ordering in month +k), repurchase
    rate (2+ orders) and GMV."""
    found = dashboards.cohorts(session, principal, months)
    if as_format == "csv":
        header = ["首单月份", "客户数", "复购率", "GMV(分)"] + [f"M+{k}" for k in range(months)]
        rows = [[c.month, c.customers, c.repurchase_rate, c.gmv_fen, *c.retention] for c in found]
        return csv_response("cohorts.csv", header, rows)
    return found


@router.get("/platforms", response_model=dashboards.PlatformsOut, responses=CSV)
def platforms(
    session: DbSession,
    principal: Viewer,
    start: From = None,
    end: To = None,
    as_format: Format = "json",
) -> dashboards.PlatformsOut | Response:
    """GMV, orders and buyers by platform; customers by identity kind."""
    found = dashboards.platforms(session, principal, start, end)
    if as_format == "csv":
        rows = [[p.platform, p.orders, p.buyers, p.gmv_fen] for p in found.sales]
        return csv_response("platforms.csv", ["平台", "订单数", "购买人数", "GMV(分)"], rows)
    return found


@router.get("/growth-formula", response_model=dashboards.FormulaOut, responses=CSV)
def growth_formula(
    session: DbSession,
    principal: Viewer,
    start: From = None,
    end: To = None,
    compare_from: date | None = None,
    compare_to: date | None = None,
    as_format: Format = "json",
) -> dashboards.FormulaOut | Response:
    """业务增长 = 用户增长 × 活跃 × 转化 × 客单价: both periods and each factor's share of
    the GMV change (default comparison: the period just before)."""
    found = dashboards.formula(session, principal, start, end, compare_from, compare_to)
    if as_format == "csv":
        names = ("users", "activity", "conversion", "value_fen", "gmv_fen")
        rows = [
            [name, getattr(found.current, name), getattr(found.previous, name)] for name in names
        ]
        rows += [[f"contribution:{c.factor}", c.contribution_fen, ""] for c in found.contributions]
        return csv_response("growth-formula.csv", ["指标", "本期", "对比期"], rows)
    return found
