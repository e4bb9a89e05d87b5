"""Server instances (#15 item 4): each serving process beats; the attendance a dead one
held is closed at start-up and by the sweep, so quorum counts only people present."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from hearing_server.app import create_app
from hearing_server.config import Settings
from hearing_server.instances import DEAD_AFTER, ServerInstance, do_register, wallclock
from hearing_server.rooms.access import get_participant, require_hearing
from hearing_server.rooms.models import Attendance, RoomEvent
from hearing_server.rooms.presence import do_close_dead_instances, do_join, get_quorum
from tests.factories import make_case, make_hearing, user_named

PANEL = ("member.gov1", "member.wrk1", "member.emp1")


async def new_hearing(db: Any) -> int:
    async with db.transaction() as session:
        case = await make_case(session)
        hearing = await make_hearing(session, cases=[case])
        return hearing.id


async def join(db: Any, hearing_id: int, instance_id: str, *usernames: str) -> None:
    """Sockets of ``usernames`` joining the room through server ``instance_id``."""
    async with db.transaction() as session:
        hearing = await require_hearing(session, hearing_id, lock=True)
        for name in usernames:
            user = await user_named(session, name)
            participant = await get_participant(session, user, hearing)
            assert participant is not None
            await do_join(
                session, hearing, participant, f"{instance_id}:{name}", instance_id=instance_id
            )


async def quorum(db: Any, hearing_id: int) -> Any:
    async with db.transaction(write=False) as session:
        hearing = await require_hearing(session, hearing_id)
        return await get_quorum(session, hearing)


async def register(db: Any, instance_id: str, *, beat_age: timedelta = timedelta(0)) -> None:
    async with db.transaction() as session:
        await do_register(session, instance_id)
        await session.execute(
            update(ServerInstance)
            .where(ServerInstance.id == instance_id)
            .values(heartbeat_at=wallclock() - beat_age)
        )


async def test_a_dead_instances_members_stop_counting_for_quorum(db: Any) -> None:
    hearing_id = await new_hearing(db)
    await register(db, "dead-one")
    await register(db, "alive-one")
    await join(db, hearing_id, "dead-one", "member.gov1", "member.wrk1")
    await join(db, hearing_id, "alive-one", "member.emp1")
    before = await quorum(db, hearing_id)
    assert before.met and before.present == 3

    # The first instance stops beating (killed); the second keeps on.
    async with db.transaction() as session:
        await session.execute(
            update(ServerInstance)
            .where(ServerInstance.id == "dead-one")
            .values(heartbeat_at=wallclock() - DEAD_AFTER - timedelta(seconds=1))
        )
    async with db.transaction() as session:
        assert await do_close_dead_instances(session) == ["dead-one"]

    after = await quorum(db, hearing_id)
    assert after.present == 1 and not after.met
    async with db.transaction(write=False) as session:
        rows = list(
            await session.scalars(
                select(Attendance)
                .where(Attendance.hearing_id == hearing_id)
                .order_by(Attendance.id)
            )
        )
        instances = set(await session.scalars(select(ServerInstance.id)))
        leaves = list(
            await session.scalars(
                select(RoomEvent).where(
                    RoomEvent.hearing_id == hearing_id,
                    RoomEvent.type == "presence",
                    RoomEvent.op == "leave",
                )
            )
        )
    closed = {row.instance_id: row.left_at is not None for row in rows}
    assert closed == {"dead-one": True, "alive-one": False}
    assert "dead-one" not in instances and "alive-one" in instances
    # The room hears each departure, with the quorum that is left.
    assert len(leaves) == 2 and leaves[-1].payload["quorum"]["present"] == 1
    async with db.transaction() as session:  # a second sweep finds nothing more
        assert await do_close_dead_instances(session) == []


async def test_a_starting_server_closes_the_attendance_of_dead_instances(
    db: Any, settings: Settings
) -> None:
    hearing_id = await new_hearing(db)
    await register(db, "killed", beat_age=timedelta(hours=1))
    await join(db, hearing_id, "killed", *PANEL)
    assert (await quorum(db, hearing_id)).met

    # Beats every 10 minutes: dead after 30, so the one that beat an hour ago is dead.
    app = create_app(dataclasses.replace(settings, instance_heartbeat_seconds=600))
    quart = app.quart_app
    await quart.startup()  # before_serving: register, sweep, start beating
    try:
        assert (await quorum(db, hearing_id)).present == 0
        async with db.transaction(write=False) as session:
            ids = set(await session.scalars(select(ServerInstance.id)))
        assert ids == {app.runtime.instance_id}
    finally:
        await quart.shutdown()
    async with db.transaction(write=False) as session:  # a clean stop forgets itself
        assert list(await session.scalars(select(ServerInstance.id))) == []
