"""A killed `heyat serve` (kill -9: no goodbye, no disconnect handled): its sockets'
attendance is closed by another server's sweep once its heartbeat is old, so the panel
members it held stop counting for quorum (#15 item 4)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hearing_server.config import Settings
from hearing_server.instances import ServerInstance
from hearing_server.rooms.access import require_hearing
from hearing_server.rooms.presence import get_quorum
from tests.conftest import OtpSource, Person, eventually
from tests.rooms.conftest import Room, RoomClient, login_cookie
from tests.serve import ServeProcess

FAST_BEATS = {"HEYAT_INSTANCE_HEARTBEAT_SECONDS": "0.5"}  # dead after 1.5 s without a beat


@pytest.fixture
async def servers(settings: Settings, tmp_path: Path) -> AsyncIterator[Callable[[], ServeProcess]]:
    made: list[ServeProcess] = []

    def make() -> ServeProcess:
        server = ServeProcess(settings, tmp_path / f"server-{len(made)}.log", **FAST_BEATS)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


async def present_members(db: Any, hearing_id: int) -> int:
    async with db.transaction(write=False) as session:
        hearing = await require_hearing(session, hearing_id)
        return (await get_quorum(session, hearing)).present


async def test_a_killed_servers_members_stop_counting_for_quorum(
    servers: Callable[[], ServeProcess],
    room: Room,
    db: Any,
    people: dict[str, Person],
    otp: OtpSource,
    clients: Callable[[str], RoomClient],
) -> None:
    first = servers()
    await first.start()
    panel = ("member.gov1", "member.wrk1", "member.emp1")
    for name in panel:
        client = clients(name)
        await client.connect(
            first.url, room.hearing_id, cookie=await login_cookie(first.url, people[name], otp)
        )
    assert await present_members(db, room.hearing_id) == 3

    first.kill9()  # its sockets' rows stay open: nobody is left to close them
    assert await present_members(db, room.hearing_id) == 3
    second = servers()
    await second.start()  # sweeps at start-up and after each beat

    async def nobody_left() -> bool:
        return await present_members(db, room.hearing_id) == 0

    await eventually(nobody_left)
    async with db.transaction(write=False) as session:
        instances = list(await session.scalars(select(ServerInstance.id)))
    assert len(instances) == 1  # the killed one is forgotten; the second beats on
