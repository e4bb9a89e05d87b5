"""accounts: six-digit codes sent by SMS (sign-up, sign-in, activation, reset)

Revision ID: 0013_phone_codes
Revises: 0012_sms
Create Date: 2026-12-02 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_phone_codes"
down_revision: str | None = "0012_sms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phone_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("mobile", sa.String(length=11), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wrong_count", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_phone_codes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_codes")),
    )
    op.create_index("ix_phone_codes_purpose_mobile", "phone_codes", ["purpose", "mobile"])
    op.create_index(op.f("ix_phone_codes_user_id"), "phone_codes", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_phone_codes_user_id"), table_name="phone_codes")
    op.drop_index("ix_phone_codes_purpose_mobile", table_name="phone_codes")
    op.drop_table("phone_codes")
