"""scheduling: the office's calendar — a public holiday's old date made a working day, the
new date of a moved holiday, and the working hours the administrator sets

Revision ID: 0015_calendar
Revises: 0013_phone_codes
Create Date: 2026-12-02 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_calendar"
down_revision: str | None = "0013_phone_codes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("holidays") as batch:
        batch.add_column(
            sa.Column("working", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("moved_from", sa.Date(), nullable=True))
    op.create_table(
        "working_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Time(), nullable=False),
        sa.Column("end", sa.Time(), nullable=False),
        sa.Column("days", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("working_hours")
    with op.batch_alter_table("holidays") as batch:
        batch.drop_column("moved_from")
        batch.drop_column("working")
