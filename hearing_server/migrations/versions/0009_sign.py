"""rulings: the secretary's record of why a voting member's signature is missing

Revision ID: 0009_sign
Revises: 0008_clock
Create Date: 2026-12-02 15:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_sign"
down_revision: str | None = "0008_clock"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ruling_missing_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ruling_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ruling_id"],
            ["rulings.id"],
            name=op.f("fk_ruling_missing_signatures_ruling_id_rulings"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["users.id"], name=op.f("fk_ruling_missing_signatures_member_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_ruling_missing_signatures_recorded_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ruling_missing_signatures")),
        sa.UniqueConstraint(
            "ruling_id",
            "member_id",
            name=op.f("uq_ruling_missing_signatures_ruling_id_member_id"),
        ),
    )
    with op.batch_alter_table("ruling_missing_signatures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ruling_missing_signatures_ruling_id"), ["ruling_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ruling_missing_signatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ruling_missing_signatures_ruling_id"))
    op.drop_table("ruling_missing_signatures")
