"""cases: search terms, filing-date indexes; outbox: the provider that delivered

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_search_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_search_terms_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_search_terms")),
    )
    with op.batch_alter_table("case_search_terms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_search_terms_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_case_search_terms_term", ["term", "case_id"], unique=False)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_filed_at", ["filed_at"], unique=False)
        batch_op.create_index("ix_cases_board_filed", ["board_id", "filed_at"], unique=False)
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("provider")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_board_filed")
        batch_op.drop_index("ix_cases_filed_at")
    with op.batch_alter_table("case_search_terms", schema=None) as batch_op:
        batch_op.drop_index("ix_case_search_terms_term")
        batch_op.drop_index(batch_op.f("ix_case_search_terms_case_id"))
    op.drop_table("case_search_terms")
