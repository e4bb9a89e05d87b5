"""media: the media servers (Janus) hearings are spread over, and the server each
hearing's video room is pinned to

Revision ID: 0025_media_servers
Revises: 0023_search
Create Date: 2026-12-03 08:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_media_servers"
down_revision: str | None = "0023_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_servers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("public_url", sa.String(length=500), nullable=False),
        sa.Column("secret_ref", sa.String(length=100), nullable=False),
        sa.Column("healthy", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_checked", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_servers")),
        sa.UniqueConstraint("name", name=op.f("uq_media_servers_name")),
    )
    op.create_table(
        "media_rooms",
        sa.Column("hearing_id", sa.Integer(), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hearing_id"], ["hearings.id"], name=op.f("fk_media_rooms_hearing_id_hearings")
        ),
        sa.ForeignKeyConstraint(
            ["server_id"], ["media_servers.id"], name=op.f("fk_media_rooms_server_id_media_servers")
        ),
        sa.PrimaryKeyConstraint("hearing_id", name=op.f("pk_media_rooms")),
    )
    with op.batch_alter_table("media_rooms") as batch:
        batch.create_index(batch.f("ix_media_rooms_server_id"), ["server_id"])


def downgrade() -> None:
    with op.batch_alter_table("media_rooms") as batch:
        batch.drop_index(batch.f("ix_media_rooms_server_id"))
    op.drop_table("media_rooms")
    op.drop_table("media_servers")
