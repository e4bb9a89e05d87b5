"""The text index of the public rulings search (issue #16 item 4: fast enough to be public).

The search matches every folded word of a query *inside* the folded redacted text
(``search_text LIKE %word%``): a scan of every row without an index. Each database gets
a trigram index, which answers substring matches of three characters or more:

* SQLite: an FTS5 table with the ``trigram`` tokenizer over ``public_rulings.search_text``
  (external content, no second copy of the text), kept in step by triggers on insert,
  update and delete, so a copy is indexed in the same transaction that publishes it.
  :func:`hearing_server.issuance.public.public_query` narrows the rows with ``MATCH``
  and keeps the ``LIKE`` for the exact meaning; words shorter than three characters only
  use the ``LIKE``.
* PostgreSQL: a GIN index with ``gin_trgm_ops`` on ``search_text``, which the planner
  uses for the same ``LIKE`` by itself. ``pg_trgm`` needs ``CREATE EXTENSION``; where
  the role may not create it, the index is left out and the search still answers
  (slower), with a warning in the log.

The migration ``0023_search`` holds the same statements (migrations never import the
app); ``Base.metadata.create_all`` (the bench, tools) runs them through the DDL events
below. Neither object is a model: :func:`not_modelled` tells Alembic's comparison so.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from hearing_server.issuance.models import PublicRuling

log = logging.getLogger(__name__)

FTS_TABLE = "public_rulings_fts"
TRGM_INDEX = "ix_public_rulings_search_trgm"
MIN_TRIGRAM = 3  # a trigram index cannot answer a shorter word

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
POSTGRES_EXTENSION = "CREATE EXTENSION IF NOT EXISTS pg_trgm"
POSTGRES_INDEX = (
    f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON public_rulings "
    "USING gin (search_text gin_trgm_ops)"
)
POSTGRES_DROP = f"DROP INDEX IF EXISTS {TRGM_INDEX}"


def not_modelled(name: str | None, type_: str, _parent: Any = None) -> bool:
    """Alembic's ``include_name``: False for the index's own tables and index."""
    return not (name or "").startswith((FTS_TABLE, TRGM_INDEX))


def fts_match(words: list[str]) -> str | None:
    """The FTS5 query for the words the trigram index can answer (each quoted: a phrase,
    so no word is read as an operator), or None when there is none."""
    usable = [w for w in words if len(w) >= MIN_TRIGRAM]
    if not usable:
        return None
    return " AND ".join('"' + w.replace('"', '""') + '"' for w in usable)


def _create(target: Any, connection: Any, **_kw: Any) -> None:
    if connection.dialect.name == "sqlite":
        for statement in SQLITE_CREATE:
            connection.exec_driver_sql(statement)
    elif connection.dialect.name == "postgresql":
        try:
            with connection.begin_nested():
                connection.exec_driver_sql(POSTGRES_EXTENSION)
                connection.exec_driver_sql(POSTGRES_INDEX)
        except DBAPIError:
            log.warning("pg_trgm is not available: the public search runs without its index")


def _drop(target: Any, connection: Any, **_kw: Any) -> None:
    if connection.dialect.name == "sqlite":
        for statement in SQLITE_DROP:
            connection.exec_driver_sql(statement)


event.listen(PublicRuling.__table__, "after_create", _create)
event.listen(PublicRuling.__table__, "before_drop", _drop)
