"""Real `heyat serve` processes: kill -9 in the middle of a hearing and start again; two
processes sharing rooms through Redis."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hearing_server.config import Settings
from hearing_server.rooms.models import Attendance, RoomEvent
from tests.conftest import OtpSource, Person, require_or_skip
from tests.rooms.conftest import Room, RoomClient, login_cookie
from tests.serve import ServeProcess


@pytest.fixture
async def servers(settings: Settings, tmp_path: Path) -> AsyncIterator[Callable[..., ServeProcess]]:
    made: list[ServeProcess] = []

    def make(port: int | None = None, **env: str) -> ServeProcess:
        server = ServeProcess(settings, tmp_path / f"server-{len(made)}.log", port=port, **env)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


async def connect(
    clients: Callable[[str], RoomClient], server: ServeProcess, room: Room, name: str, cookie: str
) -> RoomClient:
    client = clients(name)
    await client.connect(server.url, room.hearing_id, cookie=cookie)
    return client


async def test_kill_9_mid_hearing_loses_nothing_and_each_client_gets_what_it_missed(
    servers: Callable[..., ServeProcess],
    room: Room,
    db: Any,
    people: dict[str, Person],
    otp: OtpSource,
    clients: Callable[[str], RoomClient],
) -> None:
    first = servers()
    await first.start()
    cookies = {
        name: await login_cookie(first.url, people[name], otp)
        for name in ("secretary", "member.gov1", "member.wrk1")
    }
    secretary = await connect(clients, first, room, "secretary", cookies["secretary"])
    chair = await connect(clients, first, room, "chair", cookies["member.gov1"])
    member = await connect(clients, first, room, "member", cookies["member.wrk1"])
    for client in (secretary, chair, member):
        client.snapshot = (await client.call("sync", {}))["snapshot"]
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]
    rect = {"x": 0.2, "y": 0.3, "w": 0.4, "h": 0.1}
    mark = await chair.call(
        "highlight.add", {"document_id": room.public_doc, "page": 3, "rect": rect}
    )
    said = await member.call("chat.send", {"body": "قبل از قطع برق"})
    assert mark["ok"] and said["ok"]
    await chair.wait_for(lambda e: e["type"] == "chat" and e["payload"]["id"] == said["id"])
    await member.wait_for(lambda e: e["type"] == "chat" and e["payload"]["id"] == said["id"])
    member_last = max(member.seqs())
    await member.close()  # the member's connection drops first
    await chair.wait_for(lambda e: e["type"] == "presence" and e["op"] == "leave")
    turned = await secretary.call("view.set", {"document_id": room.public_doc, "page": 3})
    late = await chair.call("chat.send", {"body": "در نبود عضو کارگری"})
    assert turned["ok"] and late["ok"]
    await chair.wait_for(lambda e: e["type"] == "chat" and e["payload"]["id"] == late["id"])
    await secretary.wait_for(lambda e: e["type"] == "chat" and e["payload"]["id"] == late["id"])
    last_seen = {"secretary": max(secretary.seqs()), "chair": max(chair.seqs())}

    first.kill9()
    await asyncio.wait_for(chair.disconnected.wait(), 15)
    await asyncio.wait_for(secretary.disconnected.wait(), 15)

    second = servers(port=first.port)  # same address: the browsers come back to it
    await second.start()
    again = {
        "secretary": await connect(clients, second, room, "secretary-2", cookies["secretary"]),
        "chair": await connect(clients, second, room, "chair-2", cookies["member.gov1"]),
        "member": await connect(clients, second, room, "member-2", cookies["member.wrk1"]),
    }
    answers = {
        "secretary": await again["secretary"].call("sync", {"last_seq": last_seen["secretary"]}),
        "chair": await again["chair"].call("sync", {"last_seq": last_seen["chair"]}),
        "member": await again["member"].call("sync", {"last_seq": member_last}),
    }
    async with db.transaction(write=False) as session:
        log = list(
            await session.scalars(
                select(RoomEvent)
                .where(RoomEvent.hearing_id == room.hearing_id)
                .order_by(RoomEvent.seq)
            )
        )
    assert [e.seq for e in log] == list(range(1, len(log) + 1))  # numbered without gaps
    before = {"secretary": secretary, "chair": chair, "member": member}
    starts = {
        "secretary": last_seen["secretary"],
        "chair": last_seen["chair"],
        "member": member_last,
    }
    for name, answer in answers.items():
        expected = [e.seq for e in log if e.seq > starts[name] and e.audience in ("all", "board")]
        got = [e["seq"] for e in answer["events"]]
        assert got == expected, name  # exactly what it missed, nothing twice
        # Nothing it had already seen comes again.
        assert not set(got) & set(before[name].seqs())
    member_missed = answers["member"]["events"]
    assert {"view", "chat"} <= {e["type"] for e in member_missed}
    assert "در نبود عضو کارگری" in [e["payload"].get("body") for e in member_missed]

    state = (await again["member"].call("sync", {}))["snapshot"]
    assert state["phase"] == "hearing"
    assert state["view"] == {"document_id": room.public_doc, "page": 3, "zoom": 100}
    assert [h["id"] for h in state["highlights"]] == [mark["id"]]
    assert [c["body"] for c in state["chat"]] == ["قبل از قطع برق", "در نبود عضو کارگری"]
    present = {p["user_id"] for p in state["people"] if p["present"]}
    assert present == {people[n].id for n in ("secretary", "member.gov1", "member.wrk1")}
    async with db.transaction(write=False) as session:
        rows = list(
            await session.scalars(
                select(Attendance)
                .where(Attendance.hearing_id == room.hearing_id)
                .order_by(Attendance.id)
            )
        )
    by_user: dict[int, list[Attendance]] = {}
    for row in rows:
        by_user.setdefault(row.user_id, []).append(row)
    for name in ("secretary", "member.gov1", "member.wrk1"):
        periods = by_user[people[name].id]
        assert len(periods) == 2, name  # before and after the crash
        assert periods[0].left_at is not None and periods[1].left_at is None


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


async def test_two_processes_share_a_room_through_redis(
    servers: Callable[..., ServeProcess],
    room: Room,
    people: dict[str, Person],
    otp: OtpSource,
    clients: Callable[[str], RoomClient],
) -> None:
    require_or_skip(_redis_reachable(), "Redis is not reachable", env="HEYAT_REQUIRE_REDIS")
    channel = f"heyat-test-{uuid.uuid4().hex}"  # this test's own message queue
    redis_url = "redis://127.0.0.1:6379/14"
    one = servers(HEYAT_REDIS_URL=redis_url, HEYAT_REDIS_CHANNEL=channel)
    two = servers(HEYAT_REDIS_URL=redis_url, HEYAT_REDIS_CHANNEL=channel)
    await one.start()
    await two.start()
    secretary = await connect(
        clients, one, room, "secretary", await login_cookie(one.url, people["secretary"], otp)
    )
    member = await connect(
        clients, two, room, "member", await login_cookie(two.url, people["member.emp1"], otp)
    )
    worker = await connect(
        clients, two, room, "worker", await login_cookie(two.url, people["worker"], otp)
    )
    # Presence from process two reaches process one.
    await secretary.wait_for(
        lambda e: e["type"] == "presence" and e["payload"]["user_id"] == people["worker"].id
    )
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]
    await member.wait_for(lambda e: e["type"] == "phase" and e["payload"]["phase"] == "hearing")
    # Admission on process one puts the worker's socket on process two into the room.
    assert (await secretary.call("admit", {"user_id": people["worker"].id}))["ok"]
    await worker.wait_for(lambda e: e["type"] == "admitted")
    turned = await secretary.call("view.set", {"document_id": room.public_doc, "page": 3})
    for client in (member, worker):
        got = await client.wait_for(lambda e: e["type"] == "view" and e["payload"]["page"] == 3)
        assert got["seq"] == turned["seq"]
    said = await member.call("chat.send", {"body": "از سرور دوم"})
    got = await secretary.wait_for(
        lambda e: e["type"] == "chat" and e["payload"]["id"] == said["id"]
    )
    assert got["payload"]["body"] == "از سرور دوم"
    # Deliberation on process one removes the party connected to process two.
    assert (await secretary.call("phase.set", {"phase": "deliberation"}))["ok"]
    await asyncio.wait_for(worker.disconnected.wait(), 15)
    assert worker.removed == [{"reason": "deliberation"}]
    assert member.connected
