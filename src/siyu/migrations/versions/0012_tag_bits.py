"""tag bits: which customers carry each tag, as bits per block of 8,192 customer ids

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from siyu.db.bulk import packed_ids
from siyu.kit.idbits import IdBits

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bits = op.create_table(
        "tag_bits",
        sa.Column("tag_id", sa.BigInteger(), nullable=False),
        sa.Column("block", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("bits", sa.LargeBinary(), nullable=False),
        sa.Column(
            "workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tag.id"], name=op.f("fk_tag_bits_tag_id_tag"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_tag_bits_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tag_id", "block", name=op.f("pk_tag_bits")),
    )
    connection = op.get_bind()
    packed = packed_ids(connection.dialect.name, sa.column("customer_id"))
    tags = connection.execute(sa.text("SELECT id, workspace_id FROM tag")).all()
    for tag_id, workspace_id in tags:
        carriers = connection.scalar(
            sa.select(packed)
            .select_from(sa.table("customer_tag"))
            .where(sa.column("workspace_id") == workspace_id, sa.column("tag_id") == tag_id)
        )
        found = IdBits.parse(carriers)
        rows = [
            {"workspace_id": workspace_id, "tag_id": tag_id, "block": block, "bits": data}
            for block, data in found.blocks().items()
        ]
        if rows:
            connection.execute(sa.insert(bits), rows)


def downgrade() -> None:
    op.drop_table("tag_bits")
