"""Response models of the analytics domain."""

from datetime import date, datetime

from pydantic import BaseModel, Field


class WindowCounts(BaseModel):
    """Counts over windows that end now and start at a local midnight of the workspace."""

    today: int = Field(description="since today's midnight")
    last_7_days: int = Field(description="since midnight 6 days ago: today and the 6 days before")
    last_30_days: int = Field(description="since midnight 29 days ago: today and the 29 before")


class PlatformSales(BaseModel):
    platform: str
    orders: int
    gmv_fen: int


class TrendDay(BaseModel):
    day: date = Field(description="a calendar day in the workspace's timezone")
    new_customers: int
    orders: int
    gmv_fen: int


class TopTag(BaseModel):
    tag_id: int
    tag_name: str
    group_name: str
    customers: int


class Overview(BaseModel):
    """The home dashboard, within the caller's data scope (a staff member: their customers).

    - Days are calendar days in the workspace's timezone (`timezone`).
    - `new_customers`: live customers created in the window.
    - `lost_customers`: customers who had follow relations and now have none active, the
      last of those relations having changed (deleted by the customer or the staff member,
      transferred away) in the window. For a staff member only their own relations count:
      a customer they lost, even if a colleague still follows them.
    - Orders: placed (`ordered_at`) in the window and paid (paid, shipped, completed or
      refunded; pending and cancelled ones do not count). GMV is their paid amount in fen,
      refunds not subtracted.
    - `trend`: the last 30 days, oldest first, every day present (zero when nothing happened).
    - `top_tags`: the 10 tags on the most customers.
    """

    timezone: str
    as_of: datetime
    customers_total: int
    new_customers: WindowCounts
    lost_customers: WindowCounts
    orders_30d: int
    gmv_30d_fen: int
    sales_by_platform: list[PlatformSales]
    trend: list[TrendDay]
    top_tags: list[TopTag]
