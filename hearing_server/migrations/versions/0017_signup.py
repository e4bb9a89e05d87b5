"""accounts: sign-up of workers and employers — a company's national ID, its representative,
and what kind of party an account is

Revision ID: 0017_signup
Revises: 0015_calendar
Create Date: 2026-12-02 19:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_signup"
down_revision: str | None = "0015_calendar"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("legal_id", sa.String(length=11), nullable=True))
        batch_op.add_column(sa.Column("representative_name", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column(
                "party_kind",
                sa.Enum(
                    "worker",
                    "employer",
                    "company",
                    name="party_kind",
                    native_enum=False,
                    length=16,
                ),
                nullable=True,
            )
        )
        batch_op.create_unique_constraint(op.f("uq_users_legal_id"), ["legal_id"])


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_users_legal_id"), type_="unique")
        batch_op.drop_column("party_kind")
        batch_op.drop_column("representative_name")
        batch_op.drop_column("legal_id")
