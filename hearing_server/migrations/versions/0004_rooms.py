"""rooms: raised hands

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-29 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "raised_hands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hearing_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hearing_id"], ["hearings.id"], name=op.f("fk_raised_hands_hearing_id_hearings")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_raised_hands_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raised_hands")),
        sa.UniqueConstraint(
            "hearing_id", "user_id", name=op.f("uq_raised_hands_hearing_id_user_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("raised_hands")
