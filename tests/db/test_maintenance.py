import time

import pytest
from sqlalchemy import Engine, insert, text

from siyu.db.maintenance import analyze_stale
from siyu.db.session import unit_of_work
from siyu.models import Customer
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


def test_sqlite_needs_no_analyze(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the SQLite pass")
    with unit_of_work(engine) as session:
        assert analyze_stale(session) == []
