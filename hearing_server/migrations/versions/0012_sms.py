"""notifications: delivery status of outbox messages (queued, sent, delivered, failed)

Revision ID: 0012_sms
Revises: 0011_checkpoint
Create Date: 2026-12-02 15:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_sms"
down_revision: str | None = "0011_checkpoint"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="queued")
        )
        batch.add_column(sa.Column("provider_message_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("status_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_outbox_messages_status"), ["status"], unique=False)
    op.execute("UPDATE outbox_messages SET status = 'sent' WHERE sent_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_index(batch.f("ix_outbox_messages_status"))
        batch.drop_column("status_at")
        batch.drop_column("provider_message_id")
        batch.drop_column("status")
