"""clock: each party's notification (method, evidence, who recorded it, when its window
closes; no account needed) and one objection per party of a ruling

Revision ID: 0008_clock
Revises: 0006_minutes
Create Date: 2026-12-02 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_clock"
down_revision: str | Sequence[str] | None = "0006_minutes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_METHOD = sa.Enum(
    "download",
    "in_person",
    "post",
    "electronic",
    name="notificationmethod",
    native_enum=False,
    length=16,
)


def upgrade() -> None:
    with op.batch_alter_table("ruling_notifications", schema=None) as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("method", _METHOD, nullable=False, server_default="download"))
        batch_op.add_column(sa.Column("evidence_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("recorded_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_ruling_notifications_evidence_sha256_stored_files"),
            "stored_files",
            ["evidence_sha256"],
            ["sha256"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_ruling_notifications_recorded_by_id_users"),
            "users",
            ["recorded_by_id"],
            ["id"],
        )
    with op.batch_alter_table("ruling_notifications", schema=None) as batch_op:
        batch_op.alter_column("method", server_default=None)
    with op.batch_alter_table("objections", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_objections_ruling_id_party_id"), ["ruling_id", "party_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("objections", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_objections_ruling_id_party_id"), type_="unique")
    with op.batch_alter_table("ruling_notifications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_ruling_notifications_recorded_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_ruling_notifications_evidence_sha256_stored_files"),
            type_="foreignkey",
        )
        batch_op.drop_column("closes_at")
        batch_op.drop_column("recorded_at")
        batch_op.drop_column("recorded_by_id")
        batch_op.drop_column("evidence_sha256")
        batch_op.drop_column("method")
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
