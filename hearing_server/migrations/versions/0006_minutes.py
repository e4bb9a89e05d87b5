"""minutes: what a party may read of the room (issue #12)

``statements.phase`` and ``statements.with_floor`` say whether a message was said in the
hearing of the parties and with the floor (the minutes hold only those, and statements);
``highlights.audience`` keeps the board's highlights made in deliberation from parties
called back to the hearing.

Revision ID: 0006_minutes
Revises: 0005
Create Date: 2026-12-02 15:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_minutes"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phase", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("with_floor", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("highlights", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("audience", sa.String(length=16), server_default="all", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("highlights", schema=None) as batch_op:
        batch_op.drop_column("audience")
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.drop_column("with_floor")
        batch_op.drop_column("phase")
