"""Core statements of the room's hot path (the page turn, the log's numbering and INSERT,
a busy socket's session check), built once and sent the shortest way to the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncSession


class HotStatement:
    """A Core statement of the room's hot path, built once.

    On SQLite it goes straight to the aiosqlite driver of the session's own connection
    (aiosqlite's public ``execute_fetchall``), inside the session's transaction (begun by
    ``session.connection()``), past SQLAlchemy's execution and result layers (about 40 µs a
    statement). The SQL and the parameter order come from SQLAlchemy's compiler and the
    values pass through the columns' own bind processors, so it is the same statement
    either way. Elsewhere: SQLAlchemy Core."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        dialect = sqlite_dialect(paramstyle="qmark")
        compiled = statement.compile(dialect=dialect)
        self.sqlite_sql = str(compiled)
        names = tuple(compiled.positiontup or ())
        # (name, given by the caller?, the statement's own value, the column's processor)
        self.sqlite_params: list[tuple[str, bool, Any, Any]] = []
        for name in names:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            self.sqlite_params.append((name, bind.required, bind.value, processor))

    def sqlite_values(self, params: dict[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, required, fixed, processor in self.sqlite_params:
            value = params[name] if required else fixed
            values.append(processor(value) if processor is not None else value)
        return tuple(values)

    def sqlite_rows(self, connection: Any, params: dict[str, Any]) -> list[Any]:
        """The statement on a standard-library ``sqlite3`` connection (a group commit's
        job, in its thread)."""
        return list(connection.execute(self.sqlite_sql, self.sqlite_values(params)).fetchall())

    async def rows(self, session: AsyncSession, params: dict[str, Any]) -> list[Any]:
        connection = await session.connection()  # begins the transaction (BEGIN IMMEDIATE)
        if connection.dialect.name == "sqlite":
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            return list(await driver.execute_fetchall(self.sqlite_sql, self.sqlite_values(params)))
        result = await connection.execute(self.statement, params)
        return list(result.all()) if result.returns_rows else []

    async def first(self, session: AsyncSession, params: dict[str, Any]) -> Any:
        found = await self.rows(session, params)
        return found[0] if found else None

    async def first_then(
        self,
        session: AsyncSession,
        params: dict[str, Any],
        then: HotStatement,
        then_params: Callable[[Any], dict[str, Any]],
    ) -> tuple[Any, dict[str, Any]] | None:
        """This statement's first row, then ``then`` with ``then_params(row)``; None (and
        ``then`` not run) when there is no row (``then_params``: a pure function of the row)."""
        row = await self.first(session, params)
        if row is None:
            return None
        values = then_params(row)
        await then.rows(session, values)
        return row, values
