"""event counters: the per-customer index reaches dimension and day

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 13:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "ix_event_counter_workspace_id_customer_id_event_type"


def upgrade() -> None:
    op.create_index(
        "ix_event_counter_customer",
        "event_counter",
        ["workspace_id", "customer_id", "event_type", "dimension", "day"],
    )
    op.drop_index(_OLD, table_name="event_counter")


def downgrade() -> None:
    op.create_index(_OLD, "event_counter", ["workspace_id", "customer_id", "event_type"])
    op.drop_index("ix_event_counter_customer", table_name="event_counter")
