"""The page turn's one-statement path (``do_set_view``) against its step-by-step slow path:
the same event, the same hearing state, and every refusal still refused with its own
reason and nothing written."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, update

from hearing_server.accounts.models import User
from hearing_server.cases.models import Document
from hearing_server.clock import utcnow
from hearing_server.errors import DomainError
from hearing_server.rooms import review
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.models import RoomEvent
from hearing_server.scheduling.models import Hearing, PanelSeat, RoomPhase
from tests.rooms.conftest import Room


async def context(db: Any, settings: Any, room: Room, who: str) -> RoomContext:
    """A socket's context as the namespace builds it, for a board person of the room."""
    async with db.transaction(write=False) as session:
        if who in ("chair", "member"):
            seat = await session.scalar(
                select(PanelSeat).where(
                    PanelSeat.hearing_id == room.hearing_id,
                    PanelSeat.is_chair.is_(who == "chair"),
                )
            )
            assert seat is not None
            user = await session.get(User, seat.member_id)
        else:
            user = await session.scalar(select(User).where(User.username == "secretary"))
        assert user is not None
    return RoomContext(
        sid="test-sid",
        user=user,
        hearing_id=room.hearing_id,
        role=who,
        locale="en",
        settings=settings,
    )


async def turn(db: Any, ctx: RoomContext, document_id: int, page: int, zoom: int = 100) -> Any:
    async with db.transaction() as session:
        return await review.do_set_view(session, ctx, document_id, page, zoom)


async def refused(db: Any, ctx: RoomContext, document_id: int, page: int) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await turn(db, ctx, document_id, page)
    return caught.value


async def state(db: Any, hearing_id: int) -> tuple[Any, ...]:
    async with db.transaction(write=False) as session:
        hearing = await session.get(Hearing, hearing_id)
        assert hearing is not None
        count = await session.scalar(
            select(func.count()).select_from(RoomEvent).where(RoomEvent.hearing_id == hearing_id)
        )
        return (
            hearing.room_seq,
            hearing.view_document_id,
            hearing.view_page,
            hearing.view_zoom,
            hearing.current_case_id,
            count,
        )


async def logged(db: Any, hearing_id: int, seq: int) -> RoomEvent:
    async with db.transaction(write=False) as session:
        row = await session.scalar(
            select(RoomEvent).where(RoomEvent.hearing_id == hearing_id, RoomEvent.seq == seq)
        )
        assert row is not None
        return row


async def test_a_turn_is_logged_numbered_and_becomes_the_rooms_view(
    db: Any, settings: Any, room: Room
) -> None:
    chair = await context(db, settings, room, "chair")
    event = await turn(db, chair, room.public_doc, 3, 125)
    assert event.seq == 1
    assert await state(db, room.hearing_id) == (1, room.public_doc, 3, 125, room.case_id, 1)
    row = await logged(db, room.hearing_id, 1)
    assert (row.type, row.op, row.audience, row.actor_id) == ("view", "set", "all", chair.user.id)
    assert row.payload == {
        "document_id": room.public_doc,
        "case_id": room.case_id,
        "page": 3,
        "zoom": 125,
    }
    # A board-only document goes to the board only; the numbers go on without a gap.
    secret = await turn(db, chair, room.board_doc, 2)
    assert secret.seq == 2 and (await logged(db, room.hearing_id, 2)).audience == "board"


async def test_concurrent_turns_get_distinct_gapless_numbers(
    db: Any, settings: Any, room: Room
) -> None:
    chair = await context(db, settings, room, "chair")
    events = await asyncio.gather(*(turn(db, chair, room.public_doc, n % 4 + 1) for n in range(12)))
    assert sorted(e.seq for e in events) == list(range(1, 13))
    assert (await state(db, room.hearing_id))[0] == 12


async def test_refusals_say_why_and_write_nothing(db: Any, settings: Any, room: Room) -> None:
    chair = await context(db, settings, room, "chair")
    member = await context(db, settings, room, "member")
    await turn(db, chair, room.public_doc, 1)
    before = await state(db, room.hearing_id)
    assert (await refused(db, member, room.public_doc, 2)).code == "not_presenter"
    assert (await refused(db, chair, room.public_doc, 5)).code == "bad_page"
    assert (await refused(db, chair, room.other_case_doc, 1)).code == "not_found"
    assert (await refused(db, chair, 999_999, 1)).code == "not_found"
    assert await state(db, room.hearing_id) == before
    # Handed the presentation, the member may turn; a moderator (the secretary) always may.
    async with db.transaction() as session:
        await session.execute(
            update(Hearing).where(Hearing.id == room.hearing_id).values(presenter_id=member.user.id)
        )
    assert (await turn(db, member, room.public_doc, 2)).seq == 2
    secretary = await context(db, settings, room, "secretary")
    assert (await turn(db, secretary, room.public_doc, 4)).seq == 3
    # Closed: nobody turns pages any more.
    async with db.transaction() as session:
        await session.execute(
            update(Hearing).where(Hearing.id == room.hearing_id).values(phase=RoomPhase.CLOSED)
        )
    assert (await refused(db, chair, room.public_doc, 1)).code == "room_closed"
    assert (await state(db, room.hearing_id))[0] == 3


async def test_withdrawn_or_deliberation_documents_reach_the_board_only(
    db: Any, settings: Any, room: Room
) -> None:
    chair = await context(db, settings, room, "chair")
    async with db.transaction() as session:
        await session.execute(
            update(Hearing).where(Hearing.id == room.hearing_id).values(phase=RoomPhase.HEARING)
        )
    assert (
        await logged(db, room.hearing_id, (await turn(db, chair, room.public_doc, 1)).seq)
    ).audience == "all"
    async with db.transaction() as session:
        await session.execute(
            update(Document)
            .where(Document.id == room.public_doc)
            .values(withdrawn_at=utcnow(), withdrawn_reason="اشتباه")
        )
    withdrawn = await turn(db, chair, room.public_doc, 2)
    assert (await logged(db, room.hearing_id, withdrawn.seq)).audience == "board"
    async with db.transaction() as session:
        await session.execute(
            update(Document).where(Document.id == room.public_doc).values(withdrawn_at=None)
        )
        await session.execute(
            update(Hearing)
            .where(Hearing.id == room.hearing_id)
            .values(phase=RoomPhase.DELIBERATION)
        )
    private = await turn(db, chair, room.public_doc, 3)
    assert (await logged(db, room.hearing_id, private.seq)).audience == "board"


async def test_a_loaded_hearing_is_kept_in_step(db: Any, settings: Any, room: Room) -> None:
    chair = await context(db, settings, room, "chair")
    async with db.transaction() as session:
        hearing = await session.get(Hearing, room.hearing_id)
        assert hearing is not None
        event = await review.do_set_view(session, chair, room.public_doc, 4, 150)
        assert (hearing.room_seq, hearing.view_page, hearing.view_zoom) == (event.seq, 4, 150)
        assert hearing.current_case_id == room.case_id


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the group commit is SQLite's
async def test_the_group_committed_turn_is_the_same_turn(
    asgi: Any, db: Any, settings: Any, room: Room
) -> None:
    """``do_set_view_grouped`` (the socket's path on SQLite) logs the same event and leaves
    the same room state as ``do_set_view``; what its guard does not let through it leaves
    to ``do_set_view`` (None), having written nothing."""
    group_commit = asgi.runtime.group_commit
    assert group_commit is not None
    chair = await context(db, settings, room, "chair")
    member = await context(db, settings, room, "member")
    secretary = await context(db, settings, room, "secretary")
    grouped = await review.do_set_view_grouped(group_commit, chair, room.public_doc, 3, 125)
    assert grouped is not None and grouped.seq == 1
    assert await state(db, room.hearing_id) == (1, room.public_doc, 3, 125, room.case_id, 1)
    row = await logged(db, room.hearing_id, 1)
    assert (row.type, row.op, row.audience, row.actor_id) == ("view", "set", "all", chair.user.id)
    assert (
        row.payload
        == grouped.payload
        == {
            "document_id": room.public_doc,
            "case_id": room.case_id,
            "page": 3,
            "zoom": 125,
        }
    )
    assert row.at == grouped.at
    board_only = await review.do_set_view_grouped(group_commit, chair, room.board_doc, 2, 100)
    assert board_only is not None and board_only.audience == "board"
    before = await state(db, room.hearing_id)
    for ctx, document, page in (
        (member, room.public_doc, 2),  # not the presenter
        (chair, room.public_doc, 5),  # past the last page
        (chair, room.other_case_doc, 1),  # not on the agenda
        (secretary, room.public_doc, 9),  # the moderator may turn, but not past the end
    ):
        assert await review.do_set_view_grouped(group_commit, ctx, document, page, 100) is None
    assert await state(db, room.hearing_id) == before
    # Concurrent turns on both paths share one gapless numbering.
    events = await asyncio.gather(
        *(
            review.do_set_view_grouped(group_commit, chair, room.public_doc, 1, 100)
            for _ in range(6)
        ),
        *(turn(db, chair, room.public_doc, 2) for _ in range(6)),
    )
    assert sorted(e.seq for e in events) == list(range(3, 15))
