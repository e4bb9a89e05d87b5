"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from hearing_server.models import Base


async def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = create_async_engine(db_url)

    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as connection:
        changes = await connection.run_sync(diff)
    await engine.dispose()
    assert changes == [], f"models and migrations differ: {changes}"
