"""Order and recovery: numbered events, exactly-what-you-missed on reconnect, snapshots."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from hearing_server.rooms import log
from hearing_server.rooms.models import RoomEvent
from hearing_server.scheduling.models import Hearing
from tests.conftest import Person
from tests.rooms.conftest import Room, RoomClient, Signed


async def visible_seqs(db: Any, hearing_id: int, after: int, audiences: set[str]) -> list[int]:
    async with db.transaction(write=False) as session:
        rows = await session.execute(
            select(RoomEvent.seq, RoomEvent.audience)
            .where(RoomEvent.hearing_id == hearing_id, RoomEvent.seq > after)
            .order_by(RoomEvent.seq)
        )
    return [seq for seq, audience in rows if audience in audiences]


async def test_concurrent_appends_get_distinct_gapless_numbers(db: Any, room: Room) -> None:
    async def append(n: int) -> int:
        async with db.transaction() as session:
            hearing = await session.get(Hearing, room.hearing_id)
            assert hearing is not None
            event = await log.do_append_event(session, hearing, "test", "n", {"n": n})
            return event.seq

    seqs = await asyncio.gather(*(append(n) for n in range(20)))
    assert sorted(seqs) == list(range(1, 21))
    async with db.transaction(write=False) as session:
        hearing = await session.get(Hearing, room.hearing_id)
        assert hearing is not None and hearing.room_seq == 20


async def test_rolled_back_append_leaves_no_number_used(db: Any, room: Room) -> None:
    session = db.session()
    hearing = await session.get(Hearing, room.hearing_id)
    await log.do_append_event(session, hearing, "test", "lost", {})
    await session.rollback()
    await session.close()
    async with db.transaction() as session:
        hearing = await session.get(Hearing, room.hearing_id)
        assert (await log.do_append_event(session, hearing, "test", "kept", {})).seq == 1


async def test_reconnecting_client_gets_exactly_what_it_missed(
    join: Callable[..., Any],
    room: Room,
    db: Any,
    people: dict[str, Person],
    signed: Signed,
    clients: Callable[[str], RoomClient],
) -> None:
    chair = await join("member.gov1")
    member = await join("member.wrk1")
    worker = await join("worker")
    await chair.call("phase.set", {"phase": "hearing"})
    await chair.call("admit", {"user_id": people["worker"].id})
    await worker.wait_for(lambda e: e["type"] == "admitted")
    marker = await chair.call("chat.send", {"body": "پیش از قطع"})
    for client in (member, worker):
        await client.wait_for(
            lambda e, m=marker: e["type"] == "chat" and e["payload"]["id"] == m["id"]
        )
    member_last = max(member.seqs())
    worker_last = max(worker.seqs())
    await member.close()
    await worker.close()
    # The server records each leave when it handles the disconnect; the replay below is
    # exact only once both are on the record.
    for gone in ("member.wrk1", "worker"):
        await chair.wait_for(
            lambda e, uid=people[gone].id: (
                e["type"] == "presence" and e["op"] == "leave" and e["payload"]["user_id"] == uid
            )
        )
    # While they are away: public and board-only happenings.
    await chair.call("view.set", {"document_id": room.public_doc, "page": 3})
    await chair.call("view.set", {"document_id": room.board_doc, "page": 2})
    await chair.call("chat.send", {"body": "در غیاب شما"})
    rect = {"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.1}
    await chair.call("highlight.add", {"document_id": room.public_doc, "page": 3, "rect": rect})

    back = clients("member-back")
    await back.connect(signed.live.url, room.hearing_id, cookie=await signed.cookie("member.wrk1"))
    missed = await back.call("sync", {"last_seq": member_last})
    board_view = visible_seqs(
        db, room.hearing_id, member_last, {"all", "board", f"user:{people['member.wrk1'].id}"}
    )
    assert [e["seq"] for e in missed["events"]] == await board_view
    kinds = [(e["type"], e["op"]) for e in missed["events"]]
    assert ("view", "set") in kinds and ("highlight", "add") in kinds and ("chat", "add") in kinds
    assert missed["events"][-1]["type"] == "presence"  # its own return is the newest event
    assert missed["seq"] == missed["events"][-1]["seq"]

    worker_back = clients("worker-back")
    await worker_back.connect(
        signed.live.url, room.hearing_id, cookie=await signed.cookie("worker")
    )
    got = await worker_back.call("sync", {"last_seq": worker_last})
    party_view = await visible_seqs(
        db, room.hearing_id, worker_last, {"all", f"user:{people['worker'].id}"}
    )
    assert [e["seq"] for e in got["events"]] == party_view
    assert all(e["payload"].get("document_id") != room.board_doc for e in got["events"])
    assert "در غیاب شما" in [e["payload"].get("body") for e in got["events"]]
    # Nothing missed: nothing sent.
    again = await back.call("sync", {"last_seq": missed["seq"]})
    assert again == {"seq": missed["seq"] + 1, "events": [got["events"][-1]]}  # worker's return


async def test_too_far_behind_or_ahead_gets_a_snapshot(
    join: Callable[..., Any], room: Room, db: Any
) -> None:
    chair = await join("member.gov1")
    await chair.call("view.set", {"document_id": room.public_doc, "page": 4, "zoom": 150})
    ahead = await chair.call("sync", {"last_seq": 10_000})  # e.g. the database was restored
    assert ahead["snapshot"]["view"] == {"document_id": room.public_doc, "page": 4, "zoom": 150}
    async with db.transaction() as session:
        hearing = await session.get(Hearing, room.hearing_id)
        for _ in range(log.MAX_REPLAY + 1):
            await log.do_append_event(session, hearing, "test", "filler", {})
    behind = await chair.call("sync", {"last_seq": 1})
    assert "snapshot" in behind and "events" not in behind
    assert behind["seq"] == behind["snapshot"]["seq"]
