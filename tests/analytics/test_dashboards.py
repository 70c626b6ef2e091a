"""Growth, lifecycle, funnel, cohort, platform and growth-formula dashboards on known data."""

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.db.session import unit_of_work
from siyu.models import Customer, Event, FollowLoss, FollowRelation, Order, Staff
from tests.conftest import WorkspaceFixture

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _today() -> datetime:
    now = datetime.now(SHANGHAI)
    return now.replace(hour=12, minute=0, second=0, microsecond=0)


def _seed(engine: Engine, workspace_id: int) -> dict[str, int]:
    today = _today()
    with unit_of_work(engine) as session:
        staff = Staff(workspace_id=workspace_id, name="小陈")
        session.add(staff)
        session.flush()
        people = {}
        for key, source, days_ago, stage in (
            ("a", "天猫", 0, "active"),
            ("b", "门店", 0, "new"),
            ("c", "天猫", 1, "loyal"),
            ("d", "天猫", 40, "loyal"),
        ):
            customer = Customer(
                workspace_id=workspace_id,
                name=key,
                source=source,
                lifecycle_stage=stage,
                created_at=(today - timedelta(days=days_ago)).astimezone(UTC),
            )
            session.add(customer)
            session.flush()
            people[key] = customer.id
        relation = FollowRelation(
            workspace_id=workspace_id,
            customer_id=people["d"],
            staff_id=staff.id,
            added_at=(today - timedelta(days=40)).astimezone(UTC),
            status="deleted_by_customer",
        )
        session.add(relation)
        session.flush()
        session.add(
            FollowLoss(
                workspace_id=workspace_id,
                follow_relation_id=relation.id,
                customer_id=people["d"],
                staff_id=staff.id,
                deleted_by="customer",
                detected_by="callback",
                occurred_at=today.astimezone(UTC),
            )
        )
        for n, (key, platform, paid, days_ago) in enumerate(
            (("a", "tmall", 10000, 0), ("c", "jd", 30000, 1), ("d", "tmall", 5000, 40))
        ):
            session.add(
                Order(
                    workspace_id=workspace_id,
                    customer_id=people[key],
                    platform=platform,
                    platform_order_id=str(n),
                    status="completed",
                    paid_fen=paid,
                    ordered_at=(today - timedelta(days=days_ago)).astimezone(UTC),
                )
            )
        session.add(
            Event(
                workspace_id=workspace_id,
                event_key="e1",
                customer_id=people["b"],
                event_type="page_view",
                occurred_at=today.astimezone(UTC),
            )
        )
    return people


def test_growth_counts_new_lost_and_net_per_local_day_and_by_channel(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    _seed(engine, workspace.id)
    day = _today().date()

    found = api.get(
        "/api/v1/analytics/growth",
        params={
            "from": (day - timedelta(days=1)).isoformat(),
            "to": day.isoformat(),
            "by": "channel",
        },
    ).json()

    assert found["days"] == [(day - timedelta(days=1)).isoformat(), day.isoformat()]
    series = {s["group"]: s for s in found["series"]}
    assert series["天猫"]["new"] == [1, 1]
    assert series["天猫"]["lost"] == [0, 1]
    assert series["门店"]["net"] == [0, 1]
    assert (found["total_new"], found["total_lost"], found["total_net"]) == (3, 1, 2)
    exported = api.get("/api/v1/analytics/growth", params={"format": "csv"})
    assert exported.content.decode("utf-8-sig").startswith("日期,分组,新增,流失,净增")


def test_lifecycle_and_funnel_follow_recorded_stage_changes(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    people = _seed(engine, workspace.id)
    stages = {s["stage"]: s["customers"] for s in api.get("/api/v1/analytics/lifecycle").json()}
    assert stages == {"loyal": 2, "active": 1, "new": 1}

    for key, stage in (("a", "loyal"), ("b", "active"), ("b", "loyal")):
        assert (
            api.patch(
                f"/api/v1/customers/{people[key]}", json={"lifecycle_stage": stage}
            ).status_code
            == 200
        )

    steps = api.get("/api/v1/analytics/funnel", params={"stages": "active,loyal"}).json()
    assert [(s["stage"], s["entered"]) for s in steps] == [("active", 1), ("loyal", 2)]
    assert steps[1]["conversion_from_previous"] == 2.0


def test_cohorts_platforms_and_the_growth_formula(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    _seed(engine, workspace.id)
    with unit_of_work(engine) as session:
        for customer in session.query(Customer).filter(Customer.workspace_id == workspace.id):
            orders = session.query(Order).filter(Order.customer_id == customer.id).all()
            if orders:
                customer.first_order_at = min(o.ordered_at for o in orders)
                customer.order_count = len(orders)
                customer.total_paid_fen = sum(o.paid_fen for o in orders)

    cohorts = api.get("/api/v1/analytics/cohorts", params={"months": 3}).json()
    assert sum(c["customers"] for c in cohorts) == 3
    assert all(c["retention"][0] == 1.0 for c in cohorts)

    platforms = api.get("/api/v1/analytics/platforms").json()
    sales = {p["platform"]: (p["orders"], p["gmv_fen"]) for p in platforms["sales"]}
    assert sales == {"jd": (1, 30000), "tmall": (1, 10000)}

    formula = api.get("/api/v1/analytics/growth-formula").json()
    current, previous = formula["current"], formula["previous"]
    assert current["gmv_fen"] == 40000
    product = current["users"] * current["activity"] * current["conversion"] * current["value_fen"]
    assert math.isclose(product, current["gmv_fen"])
    assert previous["gmv_fen"] == 5000
    total = sum(c["contribution_fen"] for c in formula["contributions"])
    assert math.isclose(total, formula["change_fen"], abs_tol=0.05)
