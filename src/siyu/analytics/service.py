"""The home dashboard's figures, in the workspace's timezone and the caller's data scope."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu.analytics.repository import AnalyticsRepository, AnalyticsScope
from siyu.analytics.schemas import Overview, PlatformSales, TopTag, TrendDay, WindowCounts
from siyu.kit.time import utcnow
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

TREND_DAYS = 30
WEEK_DAYS = 7
TOP_TAGS = 10


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def day_bounds(now: datetime, zone: ZoneInfo, days: int) -> tuple[list[date], list[datetime]]:
    """The last `days` local calendar days up to today, and their days + 1 midnights."""
    today = now.astimezone(zone).date()
    dates = [today - timedelta(days=days - 1 - i) for i in range(days)]
    bounds = [_midnight(d, zone) for d in dates] + [_midnight(today + timedelta(days=1), zone)]
    return dates, bounds


def _windows(per_day: list[int]) -> WindowCounts:
    return WindowCounts(
        today=per_day[-1], last_7_days=sum(per_day[-WEEK_DAYS:]), last_30_days=sum(per_day)
    )


def overview(session: Session, principal: Principal, *, now: datetime | None = None) -> Overview:
    now = now or utcnow()
    timezone = workspace_service.get_workspace(session, principal.workspace_id).timezone
    zone = ZoneInfo(timezone)
    dates, bounds = day_bounds(now, zone, TREND_DAYS)
    repo = AnalyticsRepository(
        session,
        AnalyticsScope(principal.workspace_id, principal.scoped_to_staff, principal.staff_id),
    )

    created = repo.new_customers_by_day(bounds)
    new_per_day = [created.get(i, 0) for i in range(TREND_DAYS)]
    orders_per_day, gmv_per_day = [0] * TREND_DAYS, [0] * TREND_DAYS
    platforms: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in repo.sales_by_day(bounds):
        orders_per_day[row.day] += row.orders
        gmv_per_day[row.day] += row.gmv_fen
        platforms[row.platform][0] += row.orders
        platforms[row.platform][1] += row.gmv_fen
    lost_today, lost_week, lost_month = repo.lost_since(
        [bounds[-2], bounds[-1 - WEEK_DAYS], bounds[0]], bounds[-1]
    )
    return Overview(
        timezone=timezone,
        as_of=now,
        customers_total=repo.customers_total(),
        new_customers=_windows(new_per_day),
        lost_customers=WindowCounts(
            today=lost_today, last_7_days=lost_week, last_30_days=lost_month
        ),
        orders_30d=sum(orders_per_day),
        gmv_30d_fen=sum(gmv_per_day),
        sales_by_platform=[
            PlatformSales(platform=platform, orders=orders, gmv_fen=gmv)
            for platform, (orders, gmv) in sorted(
                platforms.items(), key=lambda item: (-item[1][1], item[0])
            )
        ],
        trend=[
            TrendDay(day=d, new_customers=n, orders=o, gmv_fen=g)
            for d, n, o, g in zip(dates, new_per_day, orders_per_day, gmv_per_day, strict=True)
        ],
        top_tags=[
            TopTag(tag_id=tag_id, tag_name=name, group_name=group, customers=n)
            for tag_id, name, group, n in repo.top_tags(TOP_TAGS)
        ],
    )
