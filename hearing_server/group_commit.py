"""Group commit for the embedded database's hottest writes (the room's page turn).

On SQLite one writer holds the database at a time. A page turn through the session pool
costs four trips between the event loop and a driver thread (BEGIN IMMEDIATE, the guarded
UPDATE, the log's INSERT, COMMIT), each waiting its turn on a loop that is busy fanning
the last turn out to 2,400 sockets; with 200 rooms turning pages the writer was held
about 4 ms a turn and turns queued behind each other (bench/room_scale.py).

Here every job waiting when the writer comes free goes into one transaction, run in one
trip to a thread of its own on a connection of its own (the standard library's
``sqlite3``, tuned as the pool's connections are): BEGIN IMMEDIATE, each job inside a
SAVEPOINT (a job that raises is rolled back alone and gets its exception), one COMMIT.
Acknowledged is still durable: a job's caller hears of it only after the COMMIT has
returned (``synchronous=FULL`` by default, so the WAL is on disk).

The batch holds the same ``writers`` semaphore as the room's other write transactions, so
that they take turns in the event loop instead of sleeping in SQLite's busy handler. A job
is a plain function of the connection: it must not await and must not commit.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from hearing_server.db import tune_sqlite_connection

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]

MAX_BATCH = 256  # jobs in one transaction at most


class Guarded:
    """A group commit whose every job first runs ``guard(connection)`` in the same
    savepoint: a guard that raises refuses the job (nothing of either is kept)."""

    def __init__(self, group_commit: GroupCommit, guard: Job) -> None:
        self.group_commit = group_commit
        self.guard = guard

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        guard = self.guard

        def guarded(connection: sqlite3.Connection) -> T:
            guard(connection)
            return job(connection)

        return await self.group_commit.run(guarded)


class GroupCommit:
    """The SQLite file ``path``'s group-committed writes (one per app)."""

    def __init__(self, path: str, *, synchronous: str, writers: asyncio.Semaphore) -> None:
        self.path = path
        self.synchronous = synchronous
        self.writers = writers
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="group-commit")
        self._connection: sqlite3.Connection | None = None  # used in the executor's thread only
        self._waiting: list[tuple[Job, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # transactions committed (tests and benches read it)

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """``job(connection)`` inside the next group transaction; its result once that
        transaction has committed, or its exception (then nothing it did is kept)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._writer())
        return await future

    @property
    def waiting(self) -> int:
        """Jobs waiting for the next transaction."""
        return len(self._waiting)

    def guarded(self, guard: Job) -> Guarded:
        return Guarded(self, guard)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for _job, future in self._waiting:
            future.cancel()
        self._waiting.clear()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._disconnect)
        self._executor.shutdown(wait=True)

    # ------------------------------------------------------------ the writer task

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                async with self.writers:
                    batch = self._waiting[:MAX_BATCH]
                    del self._waiting[:MAX_BATCH]
                    jobs = [job for job, _future in batch]
                    try:
                        outcomes = await loop.run_in_executor(self._executor, self._commit, jobs)
                    except Exception as exc:  # the thread itself failed: every job hears it
                        outcomes = [(False, exc)] * len(batch)
                self.batches += 1
                for (_job, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller went away (cancelled)
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)

    # ------------------------------------------------------------ in the executor's thread

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            tune_sqlite_connection(connection, self.synchronous)
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _commit(self, jobs: list[Job]) -> list[tuple[bool, Any]]:
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        outcomes: list[tuple[bool, Any]] = []
        try:
            for job in jobs:
                connection.execute("SAVEPOINT job")
                try:
                    value = job(connection)
                except Exception as exc:
                    connection.execute("ROLLBACK TO job")
                    connection.execute("RELEASE job")
                    outcomes.append((False, exc))
                else:
                    connection.execute("RELEASE job")
                    outcomes.append((True, value))
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return outcomes
