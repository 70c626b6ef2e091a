"""Migrations and models describe the same schema, on SQLite and on PostgreSQL."""

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, insert, inspect, select, text
from sqlalchemy.engine import make_url

from siyu.db.base import Base
from siyu.db.engine import build_engine
from siyu.db.migrate import alembic_config, current_revision, upgrade
from siyu.db.session import unit_of_work
from siyu.models import Customer, EventCounter
from siyu.tags import service as tags_service
from siyu.workspace import service as workspace_service
from tests.conftest import TEST_DATABASE_URL


@pytest.fixture
def empty_engine(tmp_path: Path) -> Iterator[Engine]:
    if not TEST_DATABASE_URL:
        engine = build_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
        yield engine
        engine.dispose()
        return
    base = make_url(TEST_DATABASE_URL)
    name = f"siyu_migrate_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = build_engine(base.set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrations_reach_the_schema_of_the_models(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    assert set(inspect(empty_engine).get_table_names()) >= set(Base.metadata.tables)


def test_upgrade_twice_is_a_no_op(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    first = current_revision(empty_engine)
    upgrade(empty_engine)
    assert current_revision(empty_engine) == first is not None


def test_the_tag_bits_migration_fills_them_from_the_assignments(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    spread = [1, 8191, 8192, 50_000]
    with unit_of_work(empty_engine) as session:
        ws = workspace_service.create_workspace(session, slug="tea", name="茶").id
        session.execute(insert(Customer), [{"id": i, "workspace_id": ws} for i in spread])
        tags = tags_service.ensure_tags(session, ws, [("兴趣", "绿茶"), ("兴趣", "红茶")])
        green, black = tags[("兴趣", "绿茶")], tags[("兴趣", "红茶")]
        tags_service.add_tags(session, ws, spread, [green], source="import", actor="t")
        tags_service.add_tags(session, ws, spread[1:3], [black], source="import", actor="t")
    _downgrade(empty_engine, "0011")
    upgrade(empty_engine)
    with unit_of_work(empty_engine) as session:
        rows = session.execute(tags_service.bits_query(ws, [green, black]))
        carried = tags_service.carriers(rows, [green, black])
    assert carried[green].ids().tolist() == spread
    assert carried[black].ids().tolist() == spread[1:3]


def test_event_counters_keep_their_rows_when_stored_by_key(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    with unit_of_work(empty_engine) as session:
        ws = workspace_service.create_workspace(session, slug="tea", name="茶").id
        session.execute(insert(Customer), [{"id": 7, "workspace_id": ws}])
        session.execute(
            insert(EventCounter),
            [
                {"workspace_id": ws, "event_type": "product_view", "dimension": dimension}
                | {"day": date(2026, 11, 1), "customer_id": 7, "count": count}
                for dimension, count in (("", 5), ("category=绿茶", 3))
            ],
        )
    _downgrade(empty_engine, "0012")
    upgrade(empty_engine)
    with empty_engine.connect() as connection:
        rows = connection.execute(select(EventCounter.dimension, EventCounter.count)).all()
        if empty_engine.dialect.name == "sqlite":
            ddl = connection.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = 'event_counter'")
            )
            assert ddl.endswith("WITHOUT ROWID")
        else:
            key = connection.scalar(text("SELECT pg_get_indexdef('pk_event_counter'::regclass)"))
            assert key.endswith(
                "(workspace_id, event_type, dimension, day, customer_id) INCLUDE (count)"
            )
    assert sorted(rows) == [("", 5), ("category=绿茶", 3)]


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
