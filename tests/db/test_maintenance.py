import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, insert, select, text

from siyu.config import get_settings
from siyu.db.maintenance import analyze_stale
from siyu.db.session import unit_of_work
from siyu.models import Customer, Job, Schedule
from siyu.worker.queue import enqueue
from siyu.worker.schedules import ANALYZE_STALE_JOB, ensure_installation_schedules
from tests.conftest import WorkspaceFixture


def _stale_after_writes(engine: Engine) -> list[str]:
    """PostgreSQL publishes a backend's row counts up to a second after its commit."""
    deadline = time.monotonic() + 15
    while True:
        with unit_of_work(engine) as session:
            analyzed = analyze_stale(session)
        if "customer" in analyzed or time.monotonic() > deadline:
            return analyzed
        time.sleep(0.2)


@pytest.mark.postgres_only
def test_a_freshly_filled_table_is_analyzed_once_so_plans_see_its_rows(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    with unit_of_work(engine) as session:
        session.execute(
            insert(Customer),
            [
                {"workspace_id": workspace.id, "name": f"会员{n}", "custom_fields": {}}
                for n in range(2_000)
            ],
        )

    assert "customer" in _stale_after_writes(engine)

    with engine.connect() as connection:
        estimate = connection.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = 'customer'")
        )
    assert estimate is not None
    assert estimate >= 2_000
    with unit_of_work(engine) as session:
        assert "customer" not in analyze_stale(session)


@pytest.mark.postgres_only
def test_every_installation_analyzes_stale_tables_every_ten_minutes(
    engine: Engine, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    with unit_of_work(engine) as session:
        ensure_installation_schedules(session, get_settings())
        schedule = session.scalars(select(Schedule).where(Schedule.key == ANALYZE_STALE_JOB)).one()
        assert schedule.cron == "*/10 * * * *"
        session.execute(
            insert(Customer),
            [
                {"workspace_id": workspace.id, "name": f"会员{n}", "custom_fields": {}}
                for n in range(500)
            ],
        )
    time.sleep(1.5)  # PostgreSQL publishes a backend's row counts up to a second after commit
    with unit_of_work(engine) as session:
        enqueue(session, ANALYZE_STALE_JOB, workspace_id=None)
    run_jobs()

    with unit_of_work(engine) as session:
        job = session.scalars(select(Job).where(Job.name == ANALYZE_STALE_JOB)).first()
        assert job is not None
        assert job.status == "succeeded"
        assert job.result is not None
        assert "customer" in job.result["analyzed"]


def test_sqlite_needs_no_analyze(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the SQLite pass")
    with unit_of_work(engine) as session:
        assert analyze_stale(session) == []
