"""Every socket of a room connecting at once, as after a restart (bench/reconnect_storm.py
measures it at 600 sockets)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from hearing_server.config import Settings
from hearing_server.runtime import ROOM_WRITERS_SQLITE
from tests.conftest import EVENTUALLY_SECONDS, LiveServer, eventually
from tests.rooms.conftest import NS, Room, RoomClient, Signed

STORM = 24  # more sockets than the SQLite pool's connections (5 + 10)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL has no such lock
async def test_a_connect_storm_waits_for_the_write_lock_without_starving_readers(
    settings: Settings,
    live_server: LiveServer,
    signed: Signed,
    room: Room,
    join: Callable[..., Any],
    clients: Callable[[str], RoomClient],
) -> None:
    """While SQLite's one write lock is held (here by another connection; in life by any
    long write), a storm of joins queues inside the process instead of taking every pooled
    connection to wait for the lock: a member already in the room still gets answers, and
    once the lock is free every socket is in and the room heard every join. (Before, the
    joins held the whole pool and the member's sync waited for the lock too; past the
    pool's 30 s the connects failed and their sockets were never answered.)"""
    chair = await join("member.gov1")
    start = chair.snapshot["seq"]
    cookie = await signed.cookie("member.wrk1")
    pool = live_server.app.runtime.db.engine.pool
    path = str(make_url(settings.database_url).database)
    # Its own thread: waiting for the lock on this loop would stop the server's writers
    # (served on this loop) from ever committing.
    blocker = sqlite3.connect(path, timeout=EVENTUALLY_SECONDS, check_same_thread=False)
    blocker.isolation_level = None
    await asyncio.to_thread(blocker.execute, "BEGIN IMMEDIATE")
    storm = [clients(f"storm-{n}") for n in range(STORM)]
    try:
        connecting = [
            asyncio.ensure_future(c.connect(live_server.url, room.hearing_id, cookie=cookie))
            for c in storm
        ]

        async def joins_wait_for_the_lock() -> bool:
            return bool(pool.checkedout() >= ROOM_WRITERS_SQLITE)

        await eventually(joins_wait_for_the_lock)
        # Waits as long as it must on a busy machine; before, it waited for the pool and
        # failed with ``internal`` at the pool's 30 s.
        answer = await chair.sio.call(
            "sync", {"last_seq": start}, namespace=NS, timeout=EVENTUALLY_SECONDS
        )
        assert answer == {"seq": start, "events": []}  # answered; nobody has joined yet
    finally:
        await asyncio.to_thread(blocker.execute, "ROLLBACK")
        blocker.close()
    await asyncio.gather(*connecting)
    assert all(c.connected for c in storm)
    for c in storm:
        joins = (await c.call("sync", {"last_seq": start}))["events"]
        assert len(joins) == STORM and {e["type"] for e in joins} == {"presence"}
    heard = await chair.wait_for(lambda e: e["seq"] == start + STORM)
    assert heard["type"] == "presence"
    live = sorted(s for s in chair.seqs() if s > start)
    assert live == list(range(start + 1, start + STORM + 1))  # every join, once
