"""The embedded database's group commit (``hearing_server.group_commit``): jobs that wait
together commit together, a failing job is rolled back alone, a caller hears of its job
only once it is committed, and a guard refuses a job without keeping anything of it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from hearing_server.db import tune_sqlite_connection
from hearing_server.group_commit import GroupCommit
from tests.conftest import eventually


@pytest.fixture
async def committer(tmp_path: Path) -> GroupCommit:
    path = tmp_path / "g.db"
    with sqlite3.connect(path) as setup:
        tune_sqlite_connection(setup, "FULL")
        setup.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    made = GroupCommit(str(path), synchronous="FULL", writers=asyncio.Semaphore(1))
    yield made  # type: ignore[misc]
    await made.close()


def rows(committer: GroupCommit) -> list[tuple[int, str]]:
    """What another connection reads: only what was committed."""
    with sqlite3.connect(committer.path) as other:
        return list(other.execute("SELECT k, v FROM t ORDER BY k"))


async def waiting_are(committer: GroupCommit, count: int) -> bool:
    return committer.waiting == count


def insert(k: int, v: str | None) -> object:
    def job(connection: sqlite3.Connection) -> int:
        connection.execute("INSERT INTO t VALUES (?, ?)", (k, v))
        return k

    return job


async def test_jobs_waiting_together_commit_in_one_transaction(committer: GroupCommit) -> None:
    # The writer's turn is taken, so all twenty wait and go in together once it is free.
    async with committer.writers:
        waiting = [asyncio.ensure_future(committer.run(insert(k, f"v{k}"))) for k in range(20)]
        await eventually(lambda: waiting_are(committer, 20))
        assert not any(task.done() for task in waiting)
        assert rows(committer) == []
    assert sorted(await asyncio.gather(*waiting)) == list(range(20))
    assert committer.batches == 1
    assert [k for k, _ in rows(committer)] == list(range(20))


async def test_a_failing_job_is_rolled_back_alone_and_its_caller_gets_the_error(
    committer: GroupCommit,
) -> None:
    def half_then_fail(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO t VALUES (100, 'half')")
        connection.execute("INSERT INTO t VALUES (101, NULL)")  # NOT NULL: fails

    async with committer.writers:
        before = asyncio.ensure_future(committer.run(insert(1, "a")))
        failing = asyncio.ensure_future(committer.run(half_then_fail))
        after = asyncio.ensure_future(committer.run(insert(2, "b")))
        await eventually(lambda: waiting_are(committer, 3))
    assert await before == 1 and await after == 2
    with pytest.raises(sqlite3.IntegrityError):
        await failing
    assert committer.batches == 1
    assert rows(committer) == [(1, "a"), (2, "b")]  # nothing of the failed job, not even 100


async def test_a_guard_that_refuses_keeps_nothing_of_the_job(committer: GroupCommit) -> None:
    class Refused(Exception):
        pass

    def guard_allows(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO t VALUES (50, 'guard')")

    def guard_refuses(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO t VALUES (60, 'guard')")
        raise Refused

    assert await committer.guarded(guard_allows).run(insert(51, "job")) == 51
    with pytest.raises(Refused):
        await committer.guarded(guard_refuses).run(insert(61, "job"))
    assert rows(committer) == [(50, "guard"), (51, "job")]


async def test_a_caller_hears_only_after_a_durable_commit(committer: GroupCommit) -> None:
    assert await committer.run(insert(7, "x")) == 7
    # Another connection reads it at the moment the caller hears: committed, not pending.
    assert rows(committer) == [(7, "x")]

    def synchronous(connection: sqlite3.Connection) -> int:
        return int(connection.execute("PRAGMA synchronous").fetchone()[0])

    # FULL (2): the COMMIT returned only once the WAL was on disk.
    assert await committer.run(synchronous) == 2
