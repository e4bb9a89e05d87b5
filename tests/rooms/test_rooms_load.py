"""Many rooms at once: every page turn reaches every other socket of its room, while the
sockets of all the rooms connect and turn pages at the same time (issue #15: a bench lost
deliveries and dropped presenters at 16–30 rooms; connects gave up with "database is
locked" on SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from hearing_server.config import Settings
from hearing_server.rooms.models import Attendance
from hearing_server.runtime import ROOM_WRITERS_POSTGRES, ROOM_WRITERS_SQLITE
from tests.conftest import EVENTUALLY_SECONDS, eventually
from tests.rooms.conftest import NS, RoomClient, Signed, make_room

ROOMS = 8
# The panel and the secretary; a person may have two sockets (two tabs).
FOLLOWERS = ("member.gov1", "member.wrk1", "member.emp1", "member.gov1", "member.wrk1")
TURNS = 8  # per presenter, all sent at once (the socket's burst allows 20)


async def test_concurrent_page_turns_across_rooms_all_reach_every_follower(
    db: Any, settings: Settings, signed: Signed, clients: Callable[[str], RoomClient]
) -> None:
    rooms = [await make_room(db, settings) for _ in range(ROOMS)]
    cookies = {name: await signed.cookie(name) for name in ("secretary", *FOLLOWERS)}

    async def enter(name: str, hearing_id: int) -> RoomClient:
        client = clients(f"{name}@{hearing_id}")
        await client.connect(
            signed.live.url, hearing_id, cookie=cookies[name], wait_timeout=EVENTUALLY_SECONDS
        )
        return client

    # Every socket of every room connects at once (each connect writes the attendance).
    joined = await asyncio.gather(
        *(enter(name, room.hearing_id) for room in rooms for name in ("secretary", *FOLLOWERS))
    )
    per_room = len(FOLLOWERS) + 1
    presenters = joined[::per_room]
    followers = [joined[i * per_room + 1 : (i + 1) * per_room] for i in range(ROOMS)]

    async def turn(presenter: RoomClient, document_id: int, page: int) -> Any:
        data = {"document_id": document_id, "page": page}
        return await presenter.sio.call("view.set", data, namespace=NS, timeout=EVENTUALLY_SECONDS)

    answers = await asyncio.gather(
        *(
            turn(presenter, room.public_doc, page % 4 + 1)
            for presenter, room in zip(presenters, rooms, strict=True)
            for page in range(TURNS)
        )
    )
    refused = [answer for answer in answers if not answer.get("ok")]
    assert refused == []
    seqs = [
        {answer["seq"] for answer in answers[i * TURNS : (i + 1) * TURNS]} for i in range(ROOMS)
    ]
    assert all(len(room_seqs) == TURNS for room_seqs in seqs)  # each turn its own number

    def pages_seen(client: RoomClient) -> set[int]:
        return {event["seq"] for event in client.events if event["type"] == "view"}

    for room_seqs, room_followers in zip(seqs, followers, strict=True):
        for follower in room_followers:
            await follower.wait_for(lambda _e, f=follower, s=room_seqs: s <= pages_seen(f))
            assert pages_seen(follower) == room_seqs  # and no other room's pages
    assert all(client.connected for client in joined)


async def test_a_burst_of_leaves_is_all_recorded_and_leaves_connections_for_others(
    db: Any, settings: Settings, signed: Signed, clients: Callable[[str], RoomClient]
) -> None:
    """40 sockets close at once: every leave is recorded (nobody stays "present"), and the
    room's writers never hold more than their share of the connection pool, so the
    heartbeat, HTTP and the next joins still get one (the old code let every waiting leave
    take one; 360 at once exhausted the pool and the leaves failed)."""
    rooms = [await make_room(db, settings) for _ in range(4)]
    cookies = {name: await signed.cookie(name) for name in ("secretary", *FOLLOWERS)}
    joined = []
    for room in rooms:
        for name in ("secretary", *FOLLOWERS, *FOLLOWERS[:4]):
            client = clients(f"{name}@{room.hearing_id}")
            await client.connect(
                signed.live.url,
                room.hearing_id,
                cookie=cookies[name],
                wait_timeout=EVENTUALLY_SECONDS,
            )
            joined.append(client)
    hearing_ids = [room.hearing_id for room in rooms]

    async def still_present() -> int:
        async with db.transaction(write=False) as session:
            count = await session.scalar(
                select(func.count())
                .select_from(Attendance)
                .where(Attendance.hearing_id.in_(hearing_ids), Attendance.left_at.is_(None))
            )
        return int(count or 0)

    assert await still_present() == len(joined)
    pool = signed.live.app.runtime.db.engine.pool
    most = 0
    closing = asyncio.gather(*(client.close() for client in joined))

    async def nobody_left() -> bool:
        nonlocal most
        most = max(most, pool.checkedout())
        return closing.done() and await still_present() == 0

    await eventually(nobody_left)
    limit = ROOM_WRITERS_SQLITE if signed.live.app.runtime.db.is_sqlite else ROOM_WRITERS_POSTGRES
    # The room's writers, and besides: the heartbeat, the WAL checkpoint, the re-check of
    # the sockets' login sessions.
    assert most <= limit + 3
