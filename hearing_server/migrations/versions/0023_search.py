"""issuance: the public rulings search's trigram index (FTS5 trigram table kept by
triggers on SQLite; a pg_trgm GIN index on PostgreSQL where the extension can be made)

Revision ID: 0023_search
Revises: 0014_tenants
Create Date: 2026-12-02 20:10:00.000000

The same statements as hearing_server/issuance/search_index.py (migrations never import
the app).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from alembic import op
from sqlalchemy.exc import DBAPIError

revision: str = "0023_search"
down_revision: str | None = "0014_tenants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger(__name__)

FTS = "public_rulings_fts"
SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS public_rulings_fts USING fts5("
    "search_text, content='public_rulings', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS public_rulings_fts_ai AFTER INSERT ON public_rulings BEGIN "
    "INSERT INTO public_rulings_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS public_rulings_fts_ad AFTER DELETE ON public_rulings BEGIN "
    "INSERT INTO public_rulings_fts(public_rulings_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS public_rulings_fts_au AFTER UPDATE OF search_text "
    "ON public_rulings BEGIN "
    "INSERT INTO public_rulings_fts(public_rulings_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO public_rulings_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO public_rulings_fts(public_rulings_fts) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS public_rulings_fts_au",
    "DROP TRIGGER IF EXISTS public_rulings_fts_ad",
    "DROP TRIGGER IF EXISTS public_rulings_fts_ai",
    "DROP TABLE IF EXISTS public_rulings_fts",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_CREATE:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                bind.exec_driver_sql(
                    "CREATE INDEX IF NOT EXISTS ix_public_rulings_search_trgm "
                    "ON public_rulings USING gin (search_text gin_trgm_ops)"
                )
        except DBAPIError:
            log.warning("pg_trgm is not available: the public search runs without its index")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_DROP:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_public_rulings_search_trgm")
