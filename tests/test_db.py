"""The SQLite side of hearing_server.db: one trip to the driver's thread per statement,
write transactions that take the write lock first (no lost update, no "database is
locked"), and WAL checkpoints kept off the commit path."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from hearing_server.db import WAL_AUTOCHECKPOINT_PAGES, Database

SCHEMA = "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, k TEXT UNIQUE)"


@pytest.fixture
async def db(tmp_path: Path) -> Any:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'heyat.db'}")
    async with database.transaction() as session:
        await session.execute(text(SCHEMA))
    yield database
    await database.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every hand-over of work to an aiosqlite connection's thread, by function name."""
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


async def test_a_statement_with_rows_is_one_trip_to_the_driver_thread(
    db: Database, trips: list[str]
) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t (v, k) VALUES (1, 'a'), (2, 'b')"))
        trips.clear()
        rows = (await session.execute(text("SELECT id, v FROM t ORDER BY id"))).all()
        assert len(trips) == 1  # SQLAlchemy's stock adapter: cursor, execute, fetch, close
    assert [tuple(r) for r in rows] == [(1, 1), (2, 2)]


async def test_a_one_statement_write_is_two_trips_and_an_empty_transaction_none(
    db: Database, trips: list[str]
) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t (v, k) VALUES (1, 'a')"))  # + BEGIN IMMEDIATE
    assert len(trips) == 2  # the statement with its BEGIN, then the COMMIT
    trips.clear()
    async with db.transaction() as session:
        await session.connection()  # begun, but nothing sent
    assert trips == []
    async with db.transaction(write=False) as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 1


async def test_direct_driver_calls_run_inside_the_sessions_transaction(db: Database) -> None:
    """The rooms part sends hot statements straight to the driver; they must be inside the
    session's transaction (its BEGIN travels with them), so a rollback undoes them."""

    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        async with db.transaction() as session:
            connection = await session.connection()
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.execute_fetchall("INSERT INTO t (v, k) VALUES (?, ?)", (1, "direct"))
            raise Undo
    async with db.transaction(write=False) as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 0


async def test_rowcount_lastrowid_returning_and_executemany_come_back_right(
    db: Database,
) -> None:
    async with db.transaction() as session:
        inserted = await session.execute(text("INSERT INTO t (v, k) VALUES (5, 'x')"))
        assert inserted.lastrowid == 1
        await session.execute(
            text("INSERT INTO t (v, k) VALUES (:v, :k)"),
            [{"v": 6, "k": "y"}, {"v": 7, "k": "z"}],
        )
        updated = await session.execute(text("UPDATE t SET v = v + 1 WHERE v >= 6"))
        assert updated.rowcount == 2
        returned = await session.execute(
            text("UPDATE t SET v = v * 10 WHERE k IN ('x', 'y') RETURNING k, v")
        )
        assert sorted(tuple(r) for r in returned) == [("x", 50), ("y", 70)]
        assert (await session.execute(text("SELECT v FROM t WHERE k = 'nobody'"))).first() is None


async def test_a_constraint_error_is_sqlalchemys_integrity_error_and_nothing_stays(
    db: Database,
) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t (v, k) VALUES (1, 'dup')"))
            await session.execute(text("INSERT INTO t (v, k) VALUES (2, 'dup')"))
    async with db.transaction(write=False) as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 0


async def test_concurrent_read_then_write_transactions_all_succeed_and_none_is_lost(
    db: Database,
) -> None:
    """Twenty writers at once, each reading then writing (the pattern that fails with
    "database is locked" under deferred transactions, or loses updates without a lock):
    all succeed and the counter counts twenty."""
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t (id, v) VALUES (1, 0)"))

    async def writer() -> None:
        async with db.transaction() as session:
            value = (await session.execute(text("SELECT v FROM t WHERE id = 1"))).scalar_one()
            await asyncio.sleep(0.001)  # other coroutines run while this one holds the lock
            await session.execute(text("UPDATE t SET v = :v WHERE id = 1"), {"v": value + 1})

    await asyncio.gather(*(writer() for _ in range(20)))
    async with db.transaction(write=False) as session:
        assert (await session.execute(text("SELECT v FROM t WHERE id = 1"))).scalar() == 20


def rows_in_the_database_file(path: Path) -> int:
    """Rows of ``t`` in the database file itself, the WAL not read (``immutable``)."""
    peek = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(peek.execute("SELECT count(*) FROM t").fetchone()[0])
    finally:
        peek.close()


async def test_commits_leave_the_wal_to_the_background_checkpoint(
    db: Database, tmp_path: Path
) -> None:
    async with db.transaction() as session:
        pages = (await session.execute(text("PRAGMA wal_autocheckpoint"))).scalar()
    assert pages == WAL_AUTOCHECKPOINT_PAGES
    await db.checkpoint()  # the table itself into the file
    for n in range(30):
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": n})
    assert rows_in_the_database_file(tmp_path / "heyat.db") == 0  # no commit copied its pages
    await db.checkpoint()
    assert rows_in_the_database_file(tmp_path / "heyat.db") == 30


async def test_an_in_memory_database_works_too() -> None:
    """One connection for the whole in-memory database (no pool of strangers to it)."""
    memory = Database("sqlite+aiosqlite://")
    try:
        async with memory.transaction() as session:
            await session.execute(text(SCHEMA))
            await session.execute(text("INSERT INTO t (v) VALUES (7)"))
        async with memory.transaction(write=False) as session:
            assert (await session.execute(text("SELECT v FROM t"))).scalar() == 7
    finally:
        await memory.dispose()
