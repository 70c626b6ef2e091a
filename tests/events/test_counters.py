"""Daily event counters: kept by ingest, and rebuilt from stored events when a type starts
counting a property — the same counts either way, in any time zone."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from siyu.db.session import unit_of_work
from siyu.models import EventCounter, Workspace
from tests.conftest import WorkspaceFixture

RunJobs = Callable[[], int]


def _counters(engine: Engine, workspace_id: int) -> set[tuple[str, str, int, int]]:
    with Session(engine) as session:
        rows = session.execute(
            select(
                EventCounter.dimension,
                EventCounter.day,
                EventCounter.customer_id,
                EventCounter.count,
            ).where(EventCounter.workspace_id == workspace_id)
        ).all()
    return {(d, str(day), c, n) for d, day, c, n in rows}


@pytest.mark.parametrize("timezone", ["Asia/Shanghai", "America/New_York"])
def test_recounting_a_type_gives_the_counts_ingest_keeps(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture, run_jobs: RunJobs, timezone: str
) -> None:
    with unit_of_work(engine) as session:
        session.execute(
            update(Workspace).where(Workspace.id == workspace.id).values(timezone=timezone)
        )
    api.put("/api/v1/event-types/product_view", json={"counted_properties": ["category"]})
    run_jobs()
    base = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai, 10:30 in New York
    events = [
        {
            "id": f"e{n}",
            "type": "product_view",
            "occurred_at": (base + timedelta(hours=n)).isoformat(),
            "customer": {"mobile": f"1380013800{n % 3}"},
            "properties": {"category": ["绿茶", "红茶", 7][n % 3]},
        }
        for n in range(12)
    ]
    assert api.post("/api/v1/events/batch", json={"events": events}).json()["accepted"] == 12
    kept = _counters(engine, workspace.id)
    # Local days: 23:30–10:30 in Shanghai spans two, 10:30–21:30 in New York one.
    assert len({day for _, day, _, _ in kept}) == (2 if timezone == "Asia/Shanghai" else 1)

    with unit_of_work(engine) as session:
        session.execute(delete(EventCounter).where(EventCounter.workspace_id == workspace.id))
    api.put("/api/v1/event-types/product_view", json={"counted_properties": ["category", "sku"]})
    run_jobs()

    assert _counters(engine, workspace.id) == kept
    assert any(dim == "category=7" for dim, *_ in kept)


def test_a_later_batch_adds_to_the_day_counts_of_an_earlier_one(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai

    def batch(first: int, count: int) -> list[dict[str, object]]:
        return [
            {
                "id": f"later-{n}",
                "type": "page_view",
                "occurred_at": (at + timedelta(minutes=n)).isoformat(),
                "customer": {"mobile": "13800138000"},
            }
            for n in range(first, first + count)
        ]

    assert api.post("/api/v1/events/batch", json={"events": batch(0, 2)}).json()["accepted"] == 2
    assert api.post("/api/v1/events/batch", json={"events": batch(2, 3)}).json()["accepted"] == 3

    [(dimension, day, _, count)] = _counters(engine, workspace.id)
    assert (dimension, day, count) == ("", "2026-11-23", 5)
