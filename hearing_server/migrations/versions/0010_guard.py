"""guard: one document per content of a case; the sign-in device of a login session

``uq_documents_case_content``: a case holds the same content (sha256) once among its
documents that are not withdrawn. Copies already uploaded more than once are withdrawn
here, all but the first, with a reason, so the index can be built and nothing is deleted.

``login_sessions.device_hash``: the keyed hash of the browser's device cookie, so a
device that completed a sign-in to an account is known to it (the owner's way past an
account-wide lock).

Revision ID: 0010_guard
Revises: 0009_sign
Create Date: 2026-12-02 15:10:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0010_guard"
down_revision: str | Sequence[str] | None = "0009_sign"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DUPLICATE_REASON = (
    "Withdrawn when duplicate uploads were merged: the same content is filed earlier."
)


def upgrade() -> None:
    documents = sa.table(
        "documents",
        sa.column("id", sa.Integer),
        sa.column("case_id", sa.Integer),
        sa.column("sha256", sa.String),
        sa.column("withdrawn_at", sa.DateTime(timezone=True)),
        sa.column("withdrawn_reason", sa.Text),
    )
    first = (
        sa.select(sa.func.min(documents.c.id))
        .where(documents.c.withdrawn_at.is_(None))
        .group_by(documents.c.case_id, documents.c.sha256)
    )
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # SQLite keeps UTC without a zone (db.UTCDateTime)
    op.execute(
        documents.update()
        .where(documents.c.withdrawn_at.is_(None), documents.c.id.not_in(first))
        .values(withdrawn_at=now, withdrawn_reason=DUPLICATE_REASON)
    )
    op.create_index(
        "uq_documents_case_content",
        "documents",
        ["case_id", "sha256"],
        unique=True,
        sqlite_where=sa.text("withdrawn_at IS NULL"),
        postgresql_where=sa.text("withdrawn_at IS NULL"),
    )
    with op.batch_alter_table("login_sessions") as batch:
        batch.add_column(sa.Column("device_hash", sa.String(length=64), nullable=True))
        batch.create_index("ix_login_sessions_user_device", ["user_id", "device_hash"])


def downgrade() -> None:
    with op.batch_alter_table("login_sessions") as batch:
        batch.drop_index("ix_login_sessions_user_device")
        batch.drop_column("device_hash")
    op.drop_index("uq_documents_case_content", table_name="documents")
