"""state shared by every process: server instances with heartbeats, the attendance rows
they hold, and the shared_state table (issuance progress without Redis); one reading-log
row per person and page (the rows a race doubled are merged first)

Revision ID: 0016_instances
Revises: 0021_stats
Create Date: 2026-12-02 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_instances"
down_revision: str | None = "0021_stats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "server_instances",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_instances")),
    )
    op.create_index(op.f("ix_server_instances_heartbeat_at"), "server_instances", ["heartbeat_at"])
    op.create_table(
        "shared_state",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_shared_state")),
    )
    op.create_index(op.f("ix_shared_state_expires_at"), "shared_state", ["expires_at"])
    with op.batch_alter_table("attendances") as batch:
        batch.add_column(sa.Column("instance_id", sa.String(length=36), nullable=True))
        batch.create_index(batch.f("ix_attendances_instance_id"), ["instance_id"], unique=False)

    # Rows a race doubled: their seconds go to the oldest row, the others go.
    op.execute(
        """
        UPDATE page_views SET seconds = (
            SELECT SUM(p2.seconds) FROM page_views p2
            WHERE p2.hearing_id = page_views.hearing_id AND p2.user_id = page_views.user_id
              AND p2.document_id = page_views.document_id AND p2.page = page_views.page
        )
        WHERE hearing_id IS NOT NULL AND id = (
            SELECT MIN(p2.id) FROM page_views p2
            WHERE p2.hearing_id = page_views.hearing_id AND p2.user_id = page_views.user_id
              AND p2.document_id = page_views.document_id AND p2.page = page_views.page
        )
        """
    )
    op.execute(
        """
        DELETE FROM page_views WHERE hearing_id IS NOT NULL AND id <> (
            SELECT MIN(p2.id) FROM page_views p2
            WHERE p2.hearing_id = page_views.hearing_id AND p2.user_id = page_views.user_id
              AND p2.document_id = page_views.document_id AND p2.page = page_views.page
        )
        """
    )
    with op.batch_alter_table("page_views") as batch:
        batch.create_unique_constraint(
            batch.f("uq_page_views_hearing_id_user_id_document_id_page"),
            ["hearing_id", "user_id", "document_id", "page"],
        )


def downgrade() -> None:
    with op.batch_alter_table("page_views") as batch:
        batch.drop_constraint(
            batch.f("uq_page_views_hearing_id_user_id_document_id_page"), type_="unique"
        )
    with op.batch_alter_table("attendances") as batch:
        batch.drop_index(batch.f("ix_attendances_instance_id"))
        batch.drop_column("instance_id")
    op.drop_index(op.f("ix_shared_state_expires_at"), table_name="shared_state")
    op.drop_table("shared_state")
    op.drop_index(op.f("ix_server_instances_heartbeat_at"), table_name="server_instances")
    op.drop_table("server_instances")
