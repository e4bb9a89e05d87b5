"""merge: the cases (0002) and rooms (0004) branches into one head

Both parts added their first migration on top of 0001; this revision joins them so
``alembic heads`` names one revision and ``upgrade head`` is unambiguous. A database
already at both old heads moves here without running anything.

Revision ID: 0005
Revises: 0002, 0004
Create Date: 2026-12-02 11:46:29.339721
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | Sequence[str] | None = ("0002", "0004")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
