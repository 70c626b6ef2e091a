"""Alembic environment: one migration tree for SQLite and PostgreSQL."""

from alembic import context
from sqlalchemy import Connection

import siyu.models  # noqa: F401 - registers every table on the metadata
from siyu.db.base import Base
from siyu.db.engine import build_engine


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


config = context.config
connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = build_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as new_connection:
        _run(new_connection)
    engine.dispose()
