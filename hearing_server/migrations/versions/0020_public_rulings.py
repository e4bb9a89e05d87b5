"""issuance: anonymised public copies of final rulings; offices choose whether legal
entities are named in them

Revision ID: 0020_public_rulings
Revises: 0016_instances
Create Date: 2026-12-02 19:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_public_rulings"
down_revision: str | None = "0016_instances"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("labour_offices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "publish_entity_names", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    op.create_table(
        "public_rulings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ruling_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("board_id", sa.Integer(), nullable=False),
        sa.Column("claim_kinds", sa.String(length=255), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("ruled_on", sa.Date(), nullable=False),
        sa.Column("jalali_date", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["board_id"], ["boards.id"], name=op.f("fk_public_rulings_board_id_boards")
        ),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["labour_offices.id"],
            name=op.f("fk_public_rulings_office_id_labour_offices"),
        ),
        sa.ForeignKeyConstraint(
            ["pdf_sha256"],
            ["stored_files.sha256"],
            name=op.f("fk_public_rulings_pdf_sha256_stored_files"),
        ),
        sa.ForeignKeyConstraint(
            ["ruling_id"], ["rulings.id"], name=op.f("fk_public_rulings_ruling_id_rulings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_rulings")),
        sa.UniqueConstraint("code", name=op.f("uq_public_rulings_code")),
        sa.UniqueConstraint("ruling_id", name=op.f("uq_public_rulings_ruling_id")),
    )
    op.create_index("ix_public_rulings_ruled_on", "public_rulings", ["ruled_on", "id"])
    op.create_index("ix_public_rulings_board_ruled_on", "public_rulings", ["board_id", "ruled_on"])
    op.create_index(
        "ix_public_rulings_office_ruled_on", "public_rulings", ["office_id", "ruled_on"]
    )


def downgrade() -> None:
    op.drop_index("ix_public_rulings_office_ruled_on", table_name="public_rulings")
    op.drop_index("ix_public_rulings_board_ruled_on", table_name="public_rulings")
    op.drop_index("ix_public_rulings_ruled_on", table_name="public_rulings")
    op.drop_table("public_rulings")
    with op.batch_alter_table("labour_offices", schema=None) as batch_op:
        batch_op.drop_column("publish_entity_names")
