"""The Alembic migrations build exactly the schema the models describe, on both backends,
from one head; a database left at the two old heads moves to it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import create_async_engine

from hearing_server.cli import main
from hearing_server.issuance.search_index import not_modelled
from hearing_server.migrate import heads, upgrade_async
from hearing_server.models import Base
from tests.conftest import PG_ADMIN_URL, _pg_exec, _pg_reachable, _pg_url, require_or_skip

# Each was the head of its own branch on top of 0001 before the merge revision.
OLD_HEADS = ("0002", "0004")


async def _schema_changes(url: str) -> list[Any]:
    engine = create_async_engine(url)

    def diff(connection: Any) -> list[Any]:
        # The search's trigram index (FTS5 tables, a GIN index) is not a model.
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": not_modelled}
        )
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as connection:
        changes = await connection.run_sync(diff)
    await engine.dispose()
    return changes


async def _current_revisions(url: str) -> set[str]:
    engine = create_async_engine(url)

    def current(connection: Any) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    async with engine.connect() as connection:
        revisions = await connection.run_sync(current)
    await engine.dispose()
    return revisions


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    require_or_skip(_pg_reachable(), "PostgreSQL is not reachable", env="HEYAT_REQUIRE_POSTGRES")
    name = f"heyat_mig_{uuid.uuid4().hex[:10]}"
    await _pg_exec(PG_ADMIN_URL, f"CREATE DATABASE {name}")
    yield _pg_url(PG_ADMIN_URL, name)
    await _pg_exec(PG_ADMIN_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def test_migrated_schema_matches_the_models(db_url: str) -> None:
    changes = await _schema_changes(db_url)
    assert changes == [], f"models and migrations differ: {changes}"


def test_the_history_has_one_head() -> None:
    assert len(heads()) == 1, f"several heads, add a merge revision: {heads()}"


async def test_a_database_at_the_old_heads_upgrades_to_the_one_head(
    empty_db: str, tmp_path: Path
) -> None:
    for revision in OLD_HEADS:
        await upgrade_async(empty_db, revision)
    assert await _current_revisions(empty_db) == set(OLD_HEADS)

    env = {"HEYAT_DATABASE_URL": empty_db, "HEYAT_VAR_DIR": str(tmp_path / "var")}
    result = await asyncio.to_thread(CliRunner().invoke, main, ["db", "upgrade"], env=env)

    assert result.exit_code == 0, result.output
    assert await _current_revisions(empty_db) == set(heads())
    assert await _schema_changes(empty_db) == []
