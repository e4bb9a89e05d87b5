"""accounts: the second factor a sign-in waits for; codes sent by e-mail too

Revision ID: 0018_login_factor
Revises: 0020_public_rulings
Create Date: 2026-12-02 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_login_factor"
down_revision: str | None = "0020_public_rulings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_sessions") as batch:
        batch.add_column(
            sa.Column(
                "second_factor",
                sa.Enum("totp", "sms", name="secondfactor", native_enum=False, length=8),
                nullable=True,
            )
        )
    # A code's address: a mobile number, or an e-mail address for codes sent by e-mail.
    with op.batch_alter_table("phone_codes") as batch:
        batch.alter_column(
            "mobile",
            existing_type=sa.String(length=11),
            type_=sa.String(length=254),
            existing_nullable=False,
        )


def downgrade() -> None:
    op.execute("DELETE FROM phone_codes WHERE length(mobile) > 11")
    with op.batch_alter_table("phone_codes") as batch:
        batch.alter_column(
            "mobile",
            existing_type=sa.String(length=254),
            type_=sa.String(length=11),
            existing_nullable=False,
        )
    with op.batch_alter_table("login_sessions") as batch:
        batch.drop_column("second_factor")
