"""Growth, lifecycle, funnel, cohort, platform and growth-formula dashboards.

Periods are local calendar days [from, to] in the workspace time zone. The growth formula
follows the seeds: business = users × activity × conversion × value, where users are the
live customers at the end of the period, activity = active customers (an event or an
order in the period) / users, conversion = buyers / active customers, value = GMV /
buyers; their product is the period's GMV. Each factor's contribution to the change in
GMV between two periods is its share of the log change, so the contributions add up to
the change exactly.
"""

import math
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy.orm import Session

from siyu.analytics.dashboard_repository import DashboardRepository
from siyu.analytics.repository import AnalyticsScope
from siyu.exceptions import ValidationFailed
from siyu.kit.time import utcnow
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

MAX_DAYS = 366
GROUPINGS = ("none", "channel", "staff", "live_code")


class GrowthSeries(BaseModel):
    group: str
    new: list[int]
    lost: list[int]
    net: list[int]


class GrowthOut(BaseModel):
    days: list[date]
    by: str
    series: list[GrowthSeries]
    total_new: int
    total_lost: int
    total_net: int


class StageCount(BaseModel):
    stage: str
    customers: int
    share: float


class FunnelStep(BaseModel):
    stage: str
    entered: int
    conversion_from_previous: float | None


class CohortRow(BaseModel):
    month: str
    customers: int
    repurchase_rate: float
    gmv_fen: int
    retention: list[float | None]


class PlatformRow(BaseModel):
    platform: str
    orders: int
    buyers: int
    gmv_fen: int


class IdentityPlatformRow(BaseModel):
    kind: str
    customers: int


class PlatformsOut(BaseModel):
    sales: list[PlatformRow]
    identities: list[IdentityPlatformRow]


class Factors(BaseModel):
    users: int
    active: int
    buyers: int
    gmv_fen: int
    activity: float
    conversion: float
    value_fen: float


class Contribution(BaseModel):
    factor: str
    contribution_fen: float


class FormulaOut(BaseModel):
    current: Factors
    previous: Factors
    change_fen: int
    contributions: list[Contribution]


def _repo(session: Session, principal: Principal) -> tuple[DashboardRepository, ZoneInfo]:
    zone = ZoneInfo(workspace_service.get_workspace(session, principal.workspace_id).timezone)
    scope = AnalyticsScope(principal.workspace_id, principal.scoped_to_staff, principal.staff_id)
    return DashboardRepository(session, scope), zone


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def period(start: date | None, end: date | None, zone: ZoneInfo, days: int = 30) -> list[date]:
    today = utcnow().astimezone(zone).date()
    end = end or today
    start = start or end - timedelta(days=days - 1)
    if start > end:
        raise ValidationFailed("from", "must not be after to")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationFailed("to", f"a period is at most {MAX_DAYS} days")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def growth(
    session: Session, principal: Principal, start: date | None, end: date | None, by: str
) -> GrowthOut:
    if by not in GROUPINGS:
        raise ValidationFailed("by", f"must be one of: {', '.join(GROUPINGS)}")
    repo, zone = _repo(session, principal)
    days = period(start, end, zone)
    bounds = [_midnight(d, zone) for d in days] + [_midnight(days[-1] + timedelta(days=1), zone)]
    new: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    lost: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for day, group, n in repo.new_by_day(bounds, by):
        new[group][day] += n
    for day, group, n in repo.lost_by_day(bounds, by):
        lost[group][day] += n
    groups = sorted(set(new) | set(lost), key=lambda g: (-sum(new[g]), g)) or [""]
    series = [
        GrowthSeries(
            group=g,
            new=new[g],
            lost=lost[g],
            net=[a - b for a, b in zip(new[g], lost[g], strict=True)],
        )
        for g in groups
    ]
    total_new = sum(sum(s.new) for s in series)
    total_lost = sum(sum(s.lost) for s in series)
    return GrowthOut(
        days=days,
        by=by,
        series=series,
        total_new=total_new,
        total_lost=total_lost,
        total_net=total_new - total_lost,
    )


def lifecycle(session: Session, principal: Principal) -> list[StageCount]:
    repo, _ = _repo(session, principal)
    counts = sorted(repo.stages(), key=lambda row: -row[1])
    total = sum(n for _, n in counts)
    return [
        StageCount(stage=s, customers=n, share=round(n / total, 4) if total else 0.0)
        for s, n in counts
    ]


def funnel(
    session: Session,
    principal: Principal,
    stages: list[str],
    start: date | None,
    end: date | None,
) -> list[FunnelStep]:
    if len(stages) < 2:
        raise ValidationFailed("stages", "name at least two stages, in funnel order")
    repo, zone = _repo(session, principal)
    days = period(start, end, zone)
    entered = dict(
        repo.stage_entries(_midnight(days[0], zone), _midnight(days[-1] + timedelta(days=1), zone))
    )
    steps: list[FunnelStep] = []
    for index, stage in enumerate(stages):
        count = entered.get(stage, 0)
        previous = steps[index - 1].entered if index else None
        rate = round(count / previous, 4) if previous else None
        steps.append(FunnelStep(stage=stage, entered=count, conversion_from_previous=rate))
    return steps


def cohorts(session: Session, principal: Principal, months: int) -> list[CohortRow]:
    if not 1 <= months <= 36:
        raise ValidationFailed("months", "must be between 1 and 36")
    repo, zone = _repo(session, principal)
    today = utcnow().astimezone(zone).date()
    firsts = []
    year, month = today.year, today.month
    for _ in range(months):
        firsts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    firsts.reverse()
    following = date(today.year + (today.month == 12), today.month % 12 + 1, 1)
    bounds = [_midnight(d, zone) for d in [*firsts, following]]
    active: dict[tuple[int, int], int] = {(f, m): n for f, m, n in repo.cohort_orders(bounds)}
    rows = []
    for index, size, repeat, gmv in sorted(repo.cohorts(bounds)):
        retention: list[float | None] = [
            round(active.get((index, index + k), 0) / size, 4) if index + k < months else None
            for k in range(months)
        ]
        rows.append(
            CohortRow(
                month=firsts[index].strftime("%Y-%m"),
                customers=size,
                repurchase_rate=round(repeat / size, 4) if size else 0.0,
                gmv_fen=gmv,
                retention=retention,
            )
        )
    return rows


def platforms(
    session: Session, principal: Principal, start: date | None, end: date | None
) -> PlatformsOut:
    repo, zone = _repo(session, principal)
    days = period(start, end, zone)
    sales = repo.sales(_midnight(days[0], zone), _midnight(days[-1] + timedelta(days=1), zone))
    return PlatformsOut(
        sales=[
            PlatformRow(platform=p, orders=o, buyers=b, gmv_fen=g)
            for p, o, b, g in sorted(sales, key=lambda row: -row[3])
        ],
        identities=[
            IdentityPlatformRow(kind=k, customers=n)
            for k, n in sorted(repo.identity_platforms(), key=lambda row: -row[1])
        ],
    )


def _factors(repo: DashboardRepository, zone: ZoneInfo, days: list[date]) -> Factors:
    start, end = _midnight(days[0], zone), _midnight(days[-1] + timedelta(days=1), zone)
    users = repo.users_at(end)
    active = repo.active_between(start, end)
    sales = repo.sales(start, end)
    buyers = sum(b for _, _, b, _ in sales)
    gmv = sum(g for _, _, _, g in sales)
    return Factors(
        users=users,
        active=active,
        buyers=buyers,
        gmv_fen=gmv,
        activity=active / users if users else 0.0,
        conversion=buyers / active if active else 0.0,
        value_fen=gmv / buyers if buyers else 0.0,
    )


def formula(
    session: Session,
    principal: Principal,
    start: date | None,
    end: date | None,
    compare_start: date | None,
    compare_end: date | None,
) -> FormulaOut:
    repo, zone = _repo(session, principal)
    days = period(start, end, zone)
    if compare_start is None or compare_end is None:
        length = len(days)
        compare_end = days[0] - timedelta(days=1)
        compare_start = compare_end - timedelta(days=length - 1)
    before = period(compare_start, compare_end, zone)
    current, previous = _factors(repo, zone, days), _factors(repo, zone, before)
    change = current.gmv_fen - previous.gmv_fen
    pairs = {
        "users": (current.users, previous.users),
        "activity": (current.activity, previous.activity),
        "conversion": (current.conversion, previous.conversion),
        "value": (current.value_fen, previous.value_fen),
    }
    contributions = []
    total_log = (
        math.log(current.gmv_fen / previous.gmv_fen)
        if current.gmv_fen and previous.gmv_fen
        else 0.0
    )
    for name, (now_value, then_value) in pairs.items():
        if total_log and now_value and then_value:
            share = math.log(now_value / then_value) / total_log
            contributions.append(
                Contribution(factor=name, contribution_fen=round(change * share, 2))
            )
        else:
            contributions.append(Contribution(factor=name, contribution_fen=0.0))
    return FormulaOut(
        current=current, previous=previous, change_fen=change, contributions=contributions
    )
