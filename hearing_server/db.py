"""Database engine, sessions and the one-transaction-per-boundary rule.

Services receive an ``AsyncSession`` and only ever ``flush()``; the boundary (an
HTTP request, a socket event, a CLI command) opens the transaction with
:meth:`Database.transaction`, commits it, and only then runs the callbacks that
services registered with :func:`after_commit` (socket emits, wake-ups).

SQLite is tuned as STACK.md says: WAL, a busy timeout, foreign keys, and
``BEGIN IMMEDIATE`` for write transactions, so that two writers queue instead
of failing with "database is locked" when a read turns into a write. The driver is
SQLAlchemy's stock ``sqlite+aiosqlite`` dialect; the tuning goes through its documented
``connect`` and ``begin`` events (SQLAlchemy's recipe for taking BEGIN out of the
driver's hands). The room's writes take turns one at a time in the event loop
(``runtime.ROOM_WRITERS_SQLITE``), and its page turns are group-committed
(``hearing_server.group_commit``), so that they do not sleep in SQLite's busy handler. A
served app checkpoints the WAL in the background (:func:`run_checkpoints`), so
that no commit pays for copying pages into the database file.

Acknowledged means durable: ``synchronous=FULL`` (the default, ``Settings.sqlite_synchronous``)
makes every COMMIT fsync the WAL before it returns, so a ballot or approval the server has
acknowledged survives a power loss, not only a killed process. ``NORMAL`` in WAL mode
syncs only at checkpoints: a kill -9 still loses nothing (the WAL is in the operating
system's cache), but a power cut may take the last commits with it. bench/r1_durability.py
measures what FULL costs a ballot's acknowledgement beside NORMAL.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, Table, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

# A commit checkpoints the WAL itself only past this many pages (64 MB): the safety net
# for processes without the background checkpointer (the CLI). Served apps checkpoint
# every CHECKPOINT_SECONDS, off the commit path.
WAL_AUTOCHECKPOINT_PAGES = 16384
CHECKPOINT_SECONDS = 1.0
# PRAGMA synchronous values an installation may choose (Settings.sqlite_synchronous).
SYNCHRONOUS_LEVELS = ("FULL", "EXTRA", "NORMAL")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """A model's Core table, for statements built once with bind parameters."""
    return Base.metadata.tables[model.__tablename__]


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_values(enum_cls: type[enum.Enum]) -> list[str]:
    return [str(member.value) for member in enum_cls]


def dialect_insert(session: AsyncSession) -> Any:
    """The INSERT construct of the session's database (PostgreSQL or SQLite), whose
    ``on_conflict_do_nothing`` / ``on_conflict_do_update`` make an insert that cannot
    race with another one of the same key (no get-then-add)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` once the boundary's transaction has committed; never if it rolls back."""
    session.info.setdefault("after_commit", []).append(callback)


class Database:
    def __init__(self, url: str, *, echo: bool = False, synchronous: str = "FULL") -> None:
        self.url = url
        self.synchronous = check_synchronous(synchronous)
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
            if _is_file_database(url):  # an in-memory database has one connection
                kwargs["pool_use_lifo"] = True  # the last used: warm page cache and thread
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _tune_sqlite(self.engine, self.synchronous)
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer = async_sessionmaker(
            self.engine.execution_options(heyat_write=True), expire_on_commit=False
        )

    def session(self, *, write: bool = True) -> AsyncSession:
        """A new session; the caller owns commit/rollback/close."""
        return (self._writer if write else self._reader)()

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """One transaction: commit on success, roll back on error, then run after-commit work."""
        session = self.session(write=write)
        try:
            yield session
            await commit(session)
        finally:
            await session.close()

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def checkpoint(self) -> None:
        """Copy the WAL's committed pages into the database file (SQLite; PASSIVE: never
        waits for readers or the writer, and the writer never waits for it)."""
        if not self.is_sqlite:
            return
        async with self.engine.connect() as connection:
            # Outside any transaction (no BEGIN: the connection has executed nothing yet),
            # through aiosqlite's public API on the pool's connection.
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")


def check_synchronous(level: str) -> str:
    """``level`` as SQLite's PRAGMA takes it (upper case), if it is one we allow."""
    value = level.strip().upper()
    if value not in SYNCHRONOUS_LEVELS:
        raise ValueError(f"synchronous={level!r}: expected one of {', '.join(SYNCHRONOUS_LEVELS)}")
    return value


def _is_file_database(url: str) -> bool:
    database = make_url(url).database or ""
    return database not in ("", ":memory:") and "mode=memory" not in url


async def run_checkpoints(db: Database, interval: float = CHECKPOINT_SECONDS) -> None:
    """Forever (a served app's background task): checkpoint the WAL every ``interval``."""
    while True:
        await asyncio.sleep(interval)
        try:
            await db.checkpoint()
        except asyncio.CancelledError:
            raise
        except Exception:  # a busy or missing database: try again next time
            log.exception("WAL checkpoint failed")


async def commit(session: AsyncSession) -> None:
    """Commit, then run the callbacks registered with :func:`after_commit`."""
    await run_after_commit(await commit_holding(session))


async def commit_holding(session: AsyncSession) -> list[AfterCommit]:
    """Commit; the callbacks registered with :func:`after_commit`, for the caller to run
    (:func:`run_after_commit`) once it has let go of what it holds: a callback may need it
    (the room's writers' turn: a party's socket disconnected after the phase moved to
    deliberation records its leave, and waited for the turn its own cause held)."""
    try:
        await session.commit()
    except BaseException:
        session.info.pop("after_commit", None)
        await session.rollback()
        raise
    return list(session.info.pop("after_commit", []))


async def run_after_commit(callbacks: list[AfterCommit]) -> None:
    """Each callback in turn, each on its own: the transaction has committed, so one that
    fails (a socket gone, Redis away) is logged and the others still run; the boundary
    still answers success for what it committed."""
    for callback in callbacks:
        try:
            await callback()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("an after-commit callback failed: %r", callback)


async def rollback(session: AsyncSession) -> None:
    session.info.pop("after_commit", None)
    await session.rollback()


def tune_sqlite_connection(dbapi_connection: Any, synchronous: str) -> None:
    """The PRAGMAs of every connection to the SQLite file (DB-API: the pool's driver
    connections and ``group_commit``'s own)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: a COMMIT returns only once the WAL is on disk (acknowledged = durable).
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.close()


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite database URL; None for another database or one in memory."""
    if not url.startswith("sqlite") or not _is_file_database(url):
        return None
    return make_url(url).database


def _tune_sqlite(engine: AsyncEngine, synchronous: str) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions out of the driver's hands so that BEGIN is ours.
        dbapi_connection.isolation_level = None
        tune_sqlite_connection(dbapi_connection, synchronous)

    @event.listens_for(sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("heyat_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
