"""Room actions are declared once and looked up in the app's own registry; the room asks
the runtime's hook (not the voting part's tables) which cases still have a vote open."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.cases.models import Case, CaseStatus
from hearing_server.config import Settings
from hearing_server.errors import Forbidden
from hearing_server.rooms import events as ev
from hearing_server.rooms.actions import ROOM_ACTIONS, set_phase
from hearing_server.rooms.events import OpenVoteCases, RoomContext
from hearing_server.rooms.phases import do_set_phase
from hearing_server.rooms.registry import RoomActions
from tests.factories import make_case, make_hearing, user_named
from tests.rooms.conftest import Room, RoomClient

ROOM_EVENTS = {
    ev.SYNC,
    ev.PHASE_SET,
    ev.ADMIT,
    ev.CASE_SET,
    ev.PRESENTER_SET,
    ev.VIEW_SET,
    ev.HIGHLIGHT_ADD,
    ev.NOTE_ADD,
    ev.READING_LOG,
    ev.HAND_RAISE,
    ev.HAND_LOWER,
    ev.FLOOR_GIVE,
    ev.FLOOR_TAKE,
    ev.CHAT_SEND,
}


def test_every_room_event_is_one_declaration() -> None:
    names = [action.name for action in ROOM_ACTIONS]
    assert sorted(names) == sorted(ROOM_EVENTS)
    assert [a.name for a in ROOM_ACTIONS if not a.write] == [ev.SYNC]


def test_a_name_is_taken_once() -> None:
    actions = RoomActions()
    actions.add(*ROOM_ACTIONS)
    with pytest.raises(ValueError, match=r"phase\.set"):
        actions.add(set_phase)
    assert actions.get(ev.PHASE_SET) is set_phase
    assert actions.get("no.such") is None


async def test_each_app_has_its_own_registry(settings: Settings) -> None:
    from hearing_server.app import create_app

    one, two = create_app(settings), create_app(settings)
    try:
        for app in (one, two):
            names = {action.name for action in app.runtime.rooms.actions}
            assert names >= ROOM_EVENTS and "vote.cast" in names
        assert one.runtime.rooms.actions is not two.runtime.rooms.actions
    finally:
        await one.runtime.db.dispose()
        await two.runtime.db.dispose()


async def test_the_permission_is_checked_before_anything_is_read(settings: Settings) -> None:
    member = User(id=10**6, username="m", full_name="m", role="member", locale="en")
    ctx = RoomContext(
        sid="-", user=member, hearing_id=1, role="member", locale="en", settings=settings
    )
    no_session = cast(AsyncSession, None)  # any read would fail with AttributeError
    with pytest.raises(Forbidden) as refused:
        await set_phase.perform(no_session, ctx, set_phase.parse({"phase": "hearing"}))
    assert refused.value.code == "not_moderator"


def asks_for(answer: set[int], asked: list[int]) -> OpenVoteCases:
    async def open_vote_cases(session: AsyncSession, hearing_id: int) -> set[int]:
        asked.append(hearing_id)
        return answer

    return open_vote_cases


@pytest.mark.parametrize("voting_part", [True, False])
async def test_closing_the_room_keeps_only_the_cases_with_a_vote_open(
    db: Any, settings: Settings, voting_part: bool
) -> None:
    async with db.transaction() as session:
        voting, done = await make_case(session), await make_case(session)
        hearing = await make_hearing(session, cases=[voting, done])
        ids = (hearing.id, voting.id, done.id)
    hearing_id, voting_id, done_id = ids
    asked: list[int] = []
    async with db.transaction() as session:
        secretary = await user_named(session, "secretary")
        ctx = RoomContext(
            sid="-",
            user=secretary,
            hearing_id=hearing_id,
            role="secretary",
            locale="en",
            settings=settings,
        )
        if voting_part:
            ctx.open_vote_cases = asks_for({voting_id}, asked)
        await do_set_phase(session, ctx, "hearing")
    async with db.transaction() as session:
        await do_set_phase(session, ctx, "closed")
    async with db.transaction(write=False) as session:
        status = dict(
            (await session.execute(select(Case.id, Case.status).where(Case.id.in_(ids[1:])))).all()
        )
    assert status[done_id] == CaseStatus.ACCEPTED
    if voting_part:
        assert asked == [hearing_id]
        assert status[voting_id] == CaseStatus.IN_HEARING
    else:
        assert status[voting_id] == CaseStatus.ACCEPTED


async def test_a_socket_asks_the_hook_its_app_was_given(
    join: Callable[..., Any], room: Room, signed: Any, db: Any
) -> None:
    asked: list[int] = []
    signed.live.app.runtime.rooms.open_vote_cases = asks_for({room.case_id}, asked)
    secretary: RoomClient = await join("secretary")
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]
    assert (await secretary.call("phase.set", {"phase": "closed"}))["ok"]
    assert asked == [room.hearing_id]
    async with db.transaction(write=False) as session:
        case = await session.get(Case, room.case_id)
    assert case is not None and case.status == CaseStatus.IN_HEARING
