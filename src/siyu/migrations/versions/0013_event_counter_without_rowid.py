"""event counters on SQLite: a WITHOUT ROWID table, stored in the order of its key

A windowed condition ("viewed category X 3 times in 30 days") reads one range of the key
(workspace, type, dimension, day, customer); in a rowid table each entry of that range
then looked its count up in the table, one random read per row (350,000 at size M).
Stored by the key, the range holds the counts itself, and a counter takes one b-tree
fewer to write. PostgreSQL keeps tables as heaps either way: nothing changes there.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 23:00:00
"""

import re
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "workspace_id, event_type, dimension, day, customer_id"


def upgrade() -> None:
    _rebuild(rowid=False)


def downgrade() -> None:
    _rebuild(rowid=True)


def _rebuild(*, rowid: bool) -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    ddl: str = connection.scalar(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'event_counter'")
    )
    # a renamed table's stored statement quotes its name
    ddl = re.sub(r'^CREATE TABLE "?event_counter"?', "CREATE TABLE event_counter_rebuilt", ddl)
    ddl = ddl.strip().removesuffix("WITHOUT ROWID").strip()
    op.execute(ddl if rowid else f"{ddl} WITHOUT ROWID")
    op.execute(
        f"INSERT INTO event_counter_rebuilt ({_COLUMNS}, count)"  # noqa: S608 - constant names
        f" SELECT {_COLUMNS}, count FROM event_counter ORDER BY {_COLUMNS}"
    )
    op.execute("DROP TABLE event_counter")
    op.execute("ALTER TABLE event_counter_rebuilt RENAME TO event_counter")
    op.create_index(
        "ix_event_counter_customer",
        "event_counter",
        ["workspace_id", "customer_id", "event_type", "dimension", "day"],
    )
