"""event counters on PostgreSQL: the primary key carries the count (INCLUDE)

A windowed condition ("viewed category X 3 times in 30 days") reads one range of the key
(workspace, type, dimension, day, customer). In the heap those rows lie in the order they
were written, customer by customer, so each of the range's 350,000 entries at size M
fetched its count from a different page. With the count in the key's index the range is
answered by an index-only scan. SQLite stores the table by its key already (0013).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 01:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = "workspace_id, event_type, dimension, day, customer_id"


def upgrade() -> None:
    _replace_key(" INCLUDE (count)")


def downgrade() -> None:
    _replace_key("")


def _replace_key(include: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE event_counter DROP CONSTRAINT pk_event_counter,"
        f" ADD CONSTRAINT pk_event_counter PRIMARY KEY ({_KEY}){include}"
    )
