"""aiosqlite connections whose statements cost one trip to the driver's thread.

aiosqlite runs each sqlite3 call in the connection's own thread, and SQLAlchemy's
adapter makes four such calls per statement (create a cursor, execute, fetch the rows,
close the cursor): four hand-overs between the event loop and the thread, each a queue
put, a thread wake-up and a loop wake-up. Here a statement is one call: the cursor is
created, executed, drained and closed in the thread, and what SQLAlchemy reads afterwards
(description, rowcount, lastrowid, the rows) comes back with it. A transaction's BEGIN
travels with its first statement.

It plugs in through ``create_async_engine(..., async_creator=...)``, so SQLAlchemy's own
aiosqlite dialect (types, errors, pool, events) is unchanged. It builds on
``aiosqlite.Connection``'s queue of work (``_execute``, ``_conn``), which SQLAlchemy's
adapter also reaches into; pyproject.toml pins aiosqlite's minor version for that, and
tests/test_db.py fails if the queue changes under us.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar, cast

import aiosqlite
from sqlalchemy.engine import make_url

Outcome = tuple[Any, int, int | None, list[Any]]
T = TypeVar("T")


BEGINS = frozenset({"BEGIN", "BEGIN IMMEDIATE", "BEGIN DEFERRED", "BEGIN EXCLUSIVE"})


def _run(connection: sqlite3.Connection, sql: str, parameters: Any) -> Outcome:
    """In the driver's thread: the whole statement, rows included."""
    cursor = connection.cursor()
    try:
        cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        # After the rows are drained, so that rowcount counts an UPDATE … RETURNING's rows.
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _run_many(connection: sqlite3.Connection, sql: str, seq: Iterable[Any]) -> Outcome:
    cursor = connection.cursor()
    try:
        cursor.executemany(sql, seq)
        return cursor.description, cursor.rowcount, cursor.lastrowid, []
    finally:
        cursor.close()


class OneTripCursor:
    """The part of aiosqlite's cursor that SQLAlchemy's adapter uses, one trip per statement."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> OneTripCursor:
        connection = self._connection
        if not parameters and sql.strip().upper() in BEGINS and connection.pending_begin is None:
            # Sent with the transaction's first statement: one trip fewer per transaction.
            connection.pending_begin = sql
            self.description, self.rowcount, self.lastrowid, self._rows = None, -1, None, []
            return self
        outcome = await connection.run_in_thread(_run, sql, parameters or ())
        self.description, self.rowcount, self.lastrowid, self._rows = outcome
        return self

    async def executemany(self, sql: str, seq: Iterable[Any]) -> OneTripCursor:
        outcome = await self._connection.run_in_thread(_run_many, sql, list(seq))
        self.description, self.rowcount, self.lastrowid, self._rows = outcome
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    async def close(self) -> None:
        self._rows = []


class OneTripConnection(aiosqlite.Connection):
    """A BEGIN waits to travel with the transaction's first statement (a transaction that
    sends none costs no trip at all); a COMMIT or ROLLBACK with nothing to end costs none."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending_begin: str | None = None

    def cursor(self) -> OneTripCursor:  # type: ignore[override]  # a cursor, no trip yet
        return OneTripCursor(self)

    def _nothing_to_end(self) -> bool:
        if self.pending_begin is not None:
            self.pending_begin = None
            return True
        # The pool rolls back every connection it gets back, and ours come back after
        # their COMMIT or ROLLBACK already. Reading the flag from here is safe: nothing
        # else runs on this connection at that moment.
        return self._connection is not None and not self._connection.in_transaction

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Every piece of work aiosqlite sends to the thread passes here (statements of
        SQLAlchemy's and direct ``execute_fetchall`` calls alike): a waiting BEGIN goes
        first, in the same trip."""
        begin, self.pending_begin = self.pending_begin, None
        base: Any = super()._execute
        if begin is None:
            return await base(fn, *args, **kwargs)

        def begun() -> Any:
            self._conn.execute(begin)
            return fn(*args, **kwargs)

        return await base(begun)

    async def commit(self) -> None:
        if not self._nothing_to_end():
            await super().commit()

    async def rollback(self) -> None:
        if not self._nothing_to_end():
            await super().rollback()

    async def close(self) -> None:
        self.pending_begin = None  # a transaction that sent nothing has nothing to close
        await super().close()

    async def run_in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(sqlite3_connection, *args)`` in this connection's thread: one trip."""
        run: Any = self._execute  # aiosqlite's own queue of work (untyped)
        result: T = await run(lambda: fn(self._conn, *args))
        return result


def connector(url: str, **connect_args: Any) -> Callable[[], Awaitable[OneTripConnection]]:
    """An ``async_creator`` for ``url`` (a ``sqlite+aiosqlite`` URL): the file, the URI
    and the query options are read by SQLAlchemy's own SQLite dialect, as without it."""
    parsed = make_url(url)
    args, kwargs = parsed.get_dialect()().create_connect_args(parsed)
    kwargs.update(connect_args)
    open_file: Any = sqlite3.connect

    async def connect() -> OneTripConnection:
        connection = OneTripConnection(lambda: open_file(*args, **kwargs), 64)
        connection._thread.daemon = True  # as SQLAlchemy does for its own aiosqlite connections
        opened = await connection  # starts the thread and opens the file there
        return cast(OneTripConnection, opened)

    return connect
