"""Order features and RFM classes on a hand-computed workspace, through the API and jobs."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from siyu.analytics import features, rfm
from siyu.db.session import unit_of_work
from siyu.models import Customer, CustomerFeature, Order
from tests.conftest import WorkspaceFixture, impatient_writer

RunJobs = Callable[[], int]


@pytest.fixture
def buyers(engine: Engine, workspace: WorkspaceFixture) -> dict[str, int]:
    now = datetime.now(UTC)
    # (orders as (days ago, paid fen)) per customer; averages: recency 126.75 days,
    # 2 orders, 2,100 fen.
    plans = {
        "a": [(2, 1000), (5, 1000), (9, 1000)],
        "b": [(200, 100)],
        "c": [(5, 5000)],
        "d": [(300, 100), (310, 100), (320, 100)],
    }
    ids: dict[str, int] = {}
    with unit_of_work(engine) as session:
        for key, orders in plans.items():
            customer = Customer(
                workspace_id=workspace.id,
                name=key,
                order_count=len(orders),
                total_paid_fen=sum(p for _, p in orders),
                last_order_at=now - timedelta(days=min(d for d, _ in orders)),
            )
            session.add(customer)
            session.flush()
            ids[key] = customer.id
            for n, (days, paid) in enumerate(orders):
                session.add(
                    Order(
                        workspace_id=workspace.id,
                        customer_id=customer.id,
                        platform="tmall",
                        platform_order_id=f"{key}{n}",
                        status="completed",
                        paid_fen=paid,
                        total_fen=paid,
                        ordered_at=now - timedelta(days=days),
                    )
                )
        session.add(Customer(workspace_id=workspace.id, name="没下过单"))
    return ids


def _recompute(api: TestClient, run_jobs: RunJobs) -> None:
    assert api.post("/api/v1/analytics/rfm/recompute").status_code == 202
    run_jobs()


def test_features_count_orders_and_money_in_calendar_windows(
    api: TestClient, engine: Engine, buyers: dict[str, int], run_jobs: RunJobs
) -> None:
    _recompute(api, run_jobs)

    with Session(engine) as session:
        rows = {r.customer_id: r for r in session.scalars(select(CustomerFeature))}
    a, d = rows[buyers["a"]], rows[buyers["d"]]
    assert (a.orders_30d, a.paid_30d_fen, a.orders_365d) == (3, 3000, 3)
    assert (d.orders_30d, d.orders_90d, d.orders_365d, d.paid_365d_fen) == (0, 0, 3, 300)
    assert len(rows) == 5  # the customer without orders has a row of zeros


def test_rfm_classes_by_averages_match_the_hand_computed_ones(
    api: TestClient, buyers: dict[str, int], run_jobs: RunJobs
) -> None:
    saved = api.put(
        "/api/v1/analytics/rfm/settings", json={"window_days": 365, "method": "averages"}
    )
    assert saved.status_code == 200
    run_jobs()

    found = api.get("/api/v1/analytics/rfm").json()

    counts = {c["rfm_class"]: c["customers"] for c in found["classes"]}
    assert counts == {
        "important_value": 1,
        "important_develop": 1,
        "important_keep": 0,
        "important_retain": 0,
        "general_value": 0,
        "general_develop": 0,
        "general_keep": 1,
        "general_retain": 1,
    }
    assert found["scored_customers"] == 4
    assert found["thresholds"]["average_frequency"] == 2
    value = next(c for c in found["classes"] if c["rfm_class"] == "important_value")
    assert (value["label"], value["gmv_fen"]) == ("重要价值客户", 3000)
    assert sum(sum(row) for row in found["grid"]) == 4

    segment = api.post(
        "/api/v1/segments",
        json={
            "name": "重要发展",
            "rule": {"type": "rfm", "op": "class_in", "classes": ["important_develop"]},
        },
    ).json()
    run_jobs()
    members = api.get(f"/api/v1/segments/{segment['id']}/sample").json()
    assert [m["id"] for m in members] == [buyers["c"]]


def test_rfm_table_exports_as_csv_and_bad_settings_name_the_field(
    api: TestClient, buyers: dict[str, int], run_jobs: RunJobs
) -> None:
    _recompute(api, run_jobs)

    exported = api.get("/api/v1/analytics/rfm", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("分类,class,客户数")
    assert len(lines) == 9

    refused = api.put("/api/v1/analytics/rfm/settings", json={"window_days": 45})
    assert refused.status_code == 422
    body: Any = refused.json()
    assert "window_days" in str(body["error"])


def test_the_daily_refresh_scores_range_by_range_without_locking_out_writers_while_it_reads(
    api: TestClient,
    engine: Engine,
    buyers: dict[str, int],
    run_jobs: RunJobs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written_meanwhile: list[int] = []
    cuts = rfm._cuts

    def cuts_while_another_writes(values: list[float]) -> list[float]:
        if not written_meanwhile:  # once the customers' measures have been read
            with impatient_writer(engine) as other:
                updated = other.execute(update(Customer).values(remark="回访"))
            written_meanwhile.append(updated.rowcount)
        return cuts(values)

    one_by_one = features.id_ranges
    monkeypatch.setattr(rfm, "_cuts", cuts_while_another_writes)
    monkeypatch.setattr(features, "id_ranges", lambda s, w: one_by_one(s, w, size=1))
    _recompute(api, run_jobs)

    assert written_meanwhile == [5]
    with Session(engine) as session:
        classes = {r.customer_id: r.rfm_class for r in session.scalars(select(CustomerFeature))}
    assert classes[buyers["a"]] == "important_value"
    assert classes[buyers["d"]] == "general_keep"
    assert sum(c is not None for c in classes.values()) == 4
