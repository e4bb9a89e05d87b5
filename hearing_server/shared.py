"""State every server process of an installation reads and writes alike (no module
globals: a process answering a page may not be the one doing the work).

Kept in Redis when the installation has one, otherwise in the ``shared_state`` table.
Each write is its own short transaction, committed at once, so other processes see it
while the writer's own request is still running. On SQLite that request may hold the
database's one write lock for a long while (a ruling's issue renders and signs inside its
transaction), and a second writer in the same process would wait for it: there the table
lives in a small database file beside the main one (``<file>-shared``), which every
process on the machine opens alike.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from redis.exceptions import RedisError
from sqlalchemy import JSON, String, delete, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import CreateIndex, CreateTable

from hearing_server.db import Base, Database, UTCDateTime, dialect_insert, table_of

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 2.0  # seconds a Redis call may take before the database stands in


class SharedValue(Base):
    """One value of :class:`SharedState` (when there is no Redis)."""

    __tablename__ = "shared_state"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class SharedState(Protocol):
    async def put(self, key: str, value: dict[str, Any], *, ttl: timedelta) -> None:
        """Set ``key`` for every process, for ``ttl`` (committed when this returns)."""

    async def get(self, key: str) -> dict[str, Any] | None:
        """The value of ``key`` if set and not expired."""

    async def close(self) -> None: ...


def _now() -> datetime:
    # Wall-clock time: expiry is bookkeeping, not the domain's clock (tests move that one).
    return datetime.now(UTC)


class DatabaseState:
    def __init__(self, db: Database, *, owned: bool = False) -> None:
        self.db = db
        self._owned = owned  # a side file opened for this, closed with it
        self._ready = not owned

    async def _ensure_table(self) -> None:
        if self._ready:
            return
        table = table_of(SharedValue)
        async with self.db.engine.begin() as connection:  # two processes may race here
            await connection.execute(CreateTable(table, if_not_exists=True))
            for index in table.indexes:
                await connection.execute(CreateIndex(index, if_not_exists=True))
        self._ready = True

    async def put(self, key: str, value: dict[str, Any], *, ttl: timedelta) -> None:
        await self._ensure_table()
        now = _now()
        row = {"key": key, "value": value, "expires_at": now + ttl}
        async with self.db.transaction() as session:
            statement = dialect_insert(session)(SharedValue).values(**row)
            statement = statement.on_conflict_do_update(
                index_elements=[SharedValue.key],
                set_={
                    "value": statement.excluded.value,
                    "expires_at": statement.excluded.expires_at,
                },
            )
            await session.execute(statement)
            await session.execute(delete(SharedValue).where(SharedValue.expires_at < now))

    async def get(self, key: str) -> dict[str, Any] | None:
        await self._ensure_table()
        async with self.db.transaction(write=False) as session:
            found = await session.scalar(
                select(SharedValue.value).where(
                    SharedValue.key == key, SharedValue.expires_at >= _now()
                )
            )
        return dict(found) if found is not None else None

    async def close(self) -> None:
        if self._owned:
            await self.db.dispose()


class RedisState:
    """Keys under ``<namespace>:shared:`` (the installation's Socket.IO channel, which all
    its processes share).

    While Redis does not answer (down, or slower than ``REDIS_TIMEOUT``), values go to and
    come from ``fallback`` (the database), so nothing that keeps state here fails with
    Redis; a key Redis does not have is looked for there too, so what was written during
    an outage is still read after it."""

    def __init__(self, url: str, namespace: str, fallback: SharedState) -> None:
        from redis import asyncio as aioredis

        self.redis: Any = aioredis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self.prefix = f"{namespace}:shared:"
        self.fallback = fallback

    async def put(self, key: str, value: dict[str, Any], *, ttl: timedelta) -> None:
        try:
            await self.redis.set(self.prefix + key, json.dumps(value), ex=ttl)
        except (RedisError, OSError) as exc:  # OSError: refused, timed out
            log.warning("Redis unreachable (%s): shared state %r kept in the database", exc, key)
            await self.fallback.put(key, value, ttl=ttl)

    async def get(self, key: str) -> dict[str, Any] | None:
        try:
            raw = await self.redis.get(self.prefix + key)
        except (RedisError, OSError) as exc:  # OSError: refused, timed out
            log.warning("Redis unreachable (%s): shared state %r read from the database", exc, key)
            raw = None
        if raw is None:
            return await self.fallback.get(key)
        return dict(json.loads(raw))

    async def close(self) -> None:
        try:
            await self.redis.aclose()
        finally:
            await self.fallback.close()


def side_file_url(database_url: str) -> str:
    """The SQLite side file of ``database_url`` (in memory for an in-memory database)."""
    url = make_url(database_url)
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in database_url:
        return "sqlite+aiosqlite://"
    return url.set(database=f"{database}-shared").render_as_string(hide_password=False)


def shared_state(
    db: Database, redis_url: str | None, namespace: str = "heyat-socketio"
) -> SharedState:
    """The installation's shared state: Redis if configured (keys under ``namespace``; the
    database while Redis is away), else the database."""
    fallback = (
        DatabaseState(Database(side_file_url(db.url)), owned=True)
        if db.is_sqlite
        else DatabaseState(db)
    )
    if redis_url:
        return RedisState(redis_url, namespace, fallback)
    return fallback
