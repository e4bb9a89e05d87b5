"""The SQLite side of hearing_server.db (SQLAlchemy's stock aiosqlite dialect): atomic,
isolated and durable transactions, write transactions that take the write lock first (no
lost update, no "database is locked"), WAL checkpoints kept off the commit path, and
after-commit callbacks that fail alone."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from hearing_server.db import WAL_AUTOCHECKPOINT_PAGES, Database, after_commit

SCHEMA = "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, k TEXT UNIQUE)"


@pytest.fixture
async def db(tmp_path: Path) -> Any:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'heyat.db'}")
    async with database.transaction() as session:
        await session.execute(text(SCHEMA))
    yield database
    await database.dispose()


async def test_a_transaction_is_all_or_nothing(db: Database) -> None:
    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t (v, k) VALUES (1, 'a')"))
            await session.execute(text("INSERT INTO t (v, k) VALUES (2, 'b')"))
            raise Undo
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t (v, k) VALUES (3, 'c')"))
        await session.execute(text("INSERT INTO t (v, k) VALUES (4, 'd')"))
    async with db.transaction(write=False) as session:
        found = (await session.execute(text("SELECT k FROM t ORDER BY k"))).scalars().all()
    assert found == ["c", "d"]


async def test_a_reader_sees_only_committed_rows_and_keeps_its_snapshot(db: Database) -> None:
    """Isolation: an uncommitted write is invisible to another connection, and a read
    transaction keeps the snapshot it began with while a writer commits."""
    writer = db.session()
    reader = db.session(write=False)
    try:
        await writer.execute(text("INSERT INTO t (v, k) VALUES (1, 'early')"))  # not committed
        assert (await reader.execute(text("SELECT count(*) FROM t"))).scalar() == 0
        await writer.commit()
        # The reader's transaction began before the commit: still its old snapshot.
        assert (await reader.execute(text("SELECT count(*) FROM t"))).scalar() == 0
        await reader.rollback()
        assert (await reader.execute(text("SELECT count(*) FROM t"))).scalar() == 1
    finally:
        await writer.close()
        await reader.close()


async def test_committed_rows_survive_closing_and_reopening_the_database(
    db: Database, tmp_path: Path
) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t (v, k) VALUES (42, 'kept')"))
    await db.dispose()  # every connection closed; the WAL not checkpointed by us
    again = Database(f"sqlite+aiosqlite:///{tmp_path / 'heyat.db'}")
    try:
        async with again.transaction(write=False) as session:
            found = (await session.execute(text("SELECT v FROM t WHERE k = 'kept'"))).scalar()
        assert found == 42
    finally:
        await again.dispose()


async def test_a_failing_after_commit_callback_does_not_stop_the_others(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    async def broken() -> None:
        ran.append("broken")
        raise RuntimeError("socket gone")

    async def fine() -> None:
        ran.append("fine")

    async with db.transaction() as session:  # no exception comes out of the boundary
        await session.execute(text("INSERT INTO t (v, k) VALUES (1, 'a')"))
        after_commit(session, broken)
        after_commit(session, fine)
    assert ran == ["broken", "fine"]
    assert "after-commit callback failed" in caplog.text
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


async def test_every_connection_syncs_the_wal_at_commit_unless_configured_otherwise(
    db: Database, tmp_path: Path
) -> None:
    """Acknowledged means durable: synchronous=FULL (2) on every pooled connection by
    default, so a COMMIT returns only once the WAL is on disk; NORMAL (1) only when an
    installation asks for it, and nothing else is accepted."""
    from hearing_server.config import Settings

    readers = [db.session(write=False) for _ in range(3)]  # three connections at once
    try:
        levels = [(await s.execute(text("PRAGMA synchronous"))).scalar() for s in readers]
    finally:
        for session in readers:
            await session.close()
    assert levels == [2, 2, 2]
    normal = Database(f"sqlite+aiosqlite:///{tmp_path / 'heyat.db'}", synchronous="normal")
    try:
        async with normal.transaction(write=False) as session:
            assert (await session.execute(text("PRAGMA synchronous"))).scalar() == 1
    finally:
        await normal.dispose()
    with pytest.raises(ValueError, match="synchronous"):
        Database(f"sqlite+aiosqlite:///{tmp_path / 'heyat.db'}", synchronous="OFF")
    with pytest.raises(ValueError, match="HEYAT_SQLITE_SYNCHRONOUS"):
        Settings.from_env({"HEYAT_SQLITE_SYNCHRONOUS": "off"})
    assert Settings.from_env({}).sqlite_synchronous == "FULL"
