"""stats: cached public statistics snapshots; an office may name members' attendance

Revision ID: 0021_stats
Revises: 0019_activation
Create Date: 2026-12-02 19:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_stats"
down_revision: str | None = "0019_activation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stats_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checkpoint_seq", sa.Integer(), nullable=False),
        sa.Column("checkpoint_hash", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_snapshots")),
    )
    op.create_index("ix_stats_snapshots_scope_id", "stats_snapshots", ["scope", "id"])
    with op.batch_alter_table("labour_offices") as batch:
        batch.add_column(
            sa.Column("stats_name_members", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("labour_offices") as batch:
        batch.drop_column("stats_name_members")
    op.drop_index("ix_stats_snapshots_scope_id", table_name="stats_snapshots")
    op.drop_table("stats_snapshots")
