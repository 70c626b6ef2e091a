from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from siyu.analytics import service
from siyu.models import Customer, CustomerTag, FollowRelation, Order, Staff, Tag, TagGroup
from siyu.tags import service as tags_service
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 10:00 in Shanghai on 23 November: "today" began at 16:00 UTC on the 22nd.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
TODAY = date(2026, 11, 23)


def local(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Seeded:
    staff_a: int
    staff_b: int
    customers: dict[str, int]


def _customer(db: Session, workspace_id: int, created_at: datetime, **values: Any) -> Customer:
    customer = Customer(
        workspace_id=workspace_id, custom_fields={}, created_at=created_at, **values
    )
    db.add(customer)
    db.flush()
    return customer


def _relation(
    db: Session, workspace_id: int, customer: Customer, staff: Staff, status: str, changed: datetime
) -> None:
    db.add(
        FollowRelation(
            workspace_id=workspace_id,
            customer_id=customer.id,
            staff_id=staff.id,
            added_at=local(1, 1),
            status=status,
            created_at=local(1, 1),
            updated_at=changed,
        )
    )


def _order(
    db: Session,
    workspace_id: int,
    number: str,
    platform: str,
    status: str,
    ordered_at: datetime,
    paid_fen: int,
    customer: Customer | None,
) -> None:
    db.add(
        Order(
            workspace_id=workspace_id,
            platform=platform,
            platform_order_id=number,
            status=status,
            ordered_at=ordered_at,
            paid_fen=paid_fen,
            total_fen=paid_fen,
            customer_id=customer.id if customer else None,
        )
    )


def seed(db: Session, workspace_id: int) -> Seeded:
    c = {
        "today": _customer(db, workspace_id, local(11, 23, 0, 30)),
        "yesterday": _customer(db, workspace_id, local(11, 22, 23, 30)),
        "five_days": _customer(db, workspace_id, local(11, 18)),
        "twenty_days": _customer(db, workspace_id, local(11, 3)),
        "old": _customer(db, workspace_id, local(10, 1)),
        "lost_today": _customer(db, workspace_id, local(9, 1)),
    }
    _customer(db, workspace_id, local(11, 23, 1), merged_into_id=c["today"].id)
    a, b = Staff(workspace_id=workspace_id, name="A"), Staff(workspace_id=workspace_id, name="B")
    db.add_all([a, b])
    db.flush()
    _relation(db, workspace_id, c["today"], a, "active", local(11, 23, 1))
    _relation(db, workspace_id, c["yesterday"], a, "deleted_by_customer", local(11, 22, 23, 45))
    _relation(db, workspace_id, c["five_days"], a, "deleted_by_staff", local(11, 23, 8))
    _relation(db, workspace_id, c["five_days"], b, "active", local(11, 18))
    _relation(db, workspace_id, c["twenty_days"], b, "deleted_by_customer", local(11, 10))
    _relation(db, workspace_id, c["old"], a, "active", local(10, 1))
    _relation(db, workspace_id, c["lost_today"], b, "deleted_by_customer", local(11, 23, 8))

    _order(db, workspace_id, "o1", "taobao", "paid", local(11, 23, 9), 10000, c["today"])
    _order(
        db, workspace_id, "o2", "taobao", "completed", local(11, 22, 23, 30), 5000, c["five_days"]
    )
    _order(db, workspace_id, "o3", "jd", "refunded", local(11, 10), 3000, c["old"])
    _order(db, workspace_id, "o4", "jd", "cancelled", local(11, 23, 9), 7000, c["today"])
    _order(db, workspace_id, "o5", "jd", "pending", local(11, 23, 9), 900, c["today"])
    _order(db, workspace_id, "o6", "taobao", "paid", local(10, 24, 23, 59), 800, c["old"])
    _order(db, workspace_id, "o7", "douyin", "paid", local(11, 23, 9), 2000, None)

    group = TagGroup(workspace_id=workspace_id, name="兴趣")
    db.add(group)
    db.flush()
    tags = [
        Tag(workspace_id=workspace_id, group_id=group.id, name=n) for n in ("护肤", "彩妆", "香水")
    ]
    db.add_all(tags)
    db.flush()
    for tag, names in ((tags[0], ("today", "five_days", "old")), (tags[1], ("yesterday",))):
        for name in names:
            db.add(
                CustomerTag(
                    workspace_id=workspace_id,
                    customer_id=c[name].id,
                    tag_id=tag.id,
                    source="manual",
                )
            )
    db.flush()
    tags_service.recount_tags(db, workspace_id)  # rows written past the tags service
    return Seeded(a.id, b.id, {name: customer.id for name, customer in c.items()})


@pytest.fixture
def seeded(db: Session, workspace: WorkspaceFixture, make_workspace: MakeWorkspace) -> Seeded:
    other = make_workspace()
    result = seed(db, workspace.id)
    seed(db, other.id)
    db.commit()
    return result


def _trend(overview: Any) -> dict[date, tuple[int, int, int]]:
    return {
        d.day: (d.new_customers, d.orders, d.gmv_fen)
        for d in overview.trend
        if (d.new_customers, d.orders, d.gmv_fen) != (0, 0, 0)
    }


def test_overview_counts_the_workspace_in_its_timezone(
    db: Session, workspace: WorkspaceFixture, seeded: Seeded
) -> None:
    overview = service.overview(db, Principal.system(workspace.id), now=NOW)
    assert overview.timezone == "Asia/Shanghai"
    assert overview.customers_total == 6
    assert overview.new_customers.model_dump() == {"today": 1, "last_7_days": 3, "last_30_days": 4}
    assert overview.lost_customers.model_dump() == {
        "today": 1,
        "last_7_days": 2,
        "last_30_days": 3,
    }
    assert (overview.orders_30d, overview.gmv_30d_fen) == (4, 20000)
    assert [(p.platform, p.orders, p.gmv_fen) for p in overview.sales_by_platform] == [
        ("taobao", 2, 15000),
        ("jd", 1, 3000),
        ("douyin", 1, 2000),
    ]
    assert [t.tag_name for t in overview.top_tags] == ["护肤", "彩妆"]
    assert [(t.group_name, t.customers) for t in overview.top_tags] == [("兴趣", 3), ("兴趣", 1)]


def test_trend_has_thirty_local_days_zero_filled(
    db: Session, workspace: WorkspaceFixture, seeded: Seeded
) -> None:
    overview = service.overview(db, Principal.system(workspace.id), now=NOW)
    days = [d.day for d in overview.trend]
    assert days == [TODAY - timedelta(days=29 - i) for i in range(30)]
    assert _trend(overview) == {
        date(2026, 11, 23): (1, 2, 12000),
        date(2026, 11, 22): (1, 1, 5000),
        date(2026, 11, 18): (1, 0, 0),
        date(2026, 11, 10): (0, 1, 3000),
        date(2026, 11, 3): (1, 0, 0),
    }


def test_staff_member_sees_only_the_customers_they_follow(
    db: Session, workspace: WorkspaceFixture, seeded: Seeded
) -> None:
    principal = Principal(workspace_id=workspace.id, role=Role.STAFF, staff_id=seeded.staff_a)
    overview = service.overview(db, principal, now=NOW)
    assert overview.customers_total == 2
    assert overview.new_customers.model_dump() == {"today": 1, "last_7_days": 1, "last_30_days": 1}
    # A stopped following "yesterday" yesterday and "five_days" today (B still follows it).
    assert overview.lost_customers.model_dump() == {
        "today": 1,
        "last_7_days": 2,
        "last_30_days": 2,
    }
    assert (overview.orders_30d, overview.gmv_30d_fen) == (2, 13000)
    assert [(t.tag_name, t.customers) for t in overview.top_tags] == [("护肤", 2)]


def test_staff_user_without_a_staff_member_sees_nothing(
    db: Session, workspace: WorkspaceFixture, seeded: Seeded
) -> None:
    principal = Principal(workspace_id=workspace.id, role=Role.STAFF)
    overview = service.overview(db, principal, now=NOW)
    assert overview.customers_total == 0
    assert overview.orders_30d == 0
    assert overview.lost_customers.last_30_days == 0
    assert overview.top_tags == []


def test_day_boundaries_follow_the_workspace_timezone(
    db: Session, workspace: WorkspaceFixture, seeded: Seeded
) -> None:
    # 23:59 UTC on the 22nd is already 07:59 on the 23rd in Shanghai.
    overview = service.overview(db, Principal.system(workspace.id), now=NOW)
    assert overview.trend[-1].day == TODAY
    early = service.overview(
        db, Principal.system(workspace.id), now=datetime(2026, 11, 22, 15, 59, tzinfo=UTC)
    )
    assert early.trend[-1].day == date(2026, 11, 22)
    assert early.new_customers.today == 1  # "yesterday" (23:30 local on the 22nd)


def test_overview_endpoint_answers_for_a_viewer(
    api: TestClient, db: Session, make_workspace: MakeWorkspace
) -> None:
    viewer = make_workspace(role=Role.VIEWER)
    response = api.get("/api/v1/analytics/overview", headers=viewer.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customers_total"] == 0
    assert len(body["trend"]) == 30
    assert body["timezone"] == "Asia/Shanghai"
