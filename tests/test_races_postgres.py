"""PostgreSQL races (#15 item 6): twenty concurrent attempts, each in its own transaction
through the service, leave exactly one row (SQLite's write lock already runs its write
transactions one at a time; PostgreSQL's READ COMMITTED does not)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from hearing_server import clock
from hearing_server.cases.models import CaseParty
from hearing_server.config import Settings
from hearing_server.db import Database
from hearing_server.errors import Conflict
from hearing_server.law.rules import BoardType
from hearing_server.notifications.models import OutboxMessage
from hearing_server.notifications.services import do_enqueue
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.models import PageView
from hearing_server.rooms.reading import do_log_reading
from hearing_server.scheduling.models import Hearing
from hearing_server.scheduling.planning import (
    AgendaEntry,
    HearingPlan,
    PanelChoice,
    do_schedule_hearing,
)
from hearing_server.scheduling.worktime import parse_jalali
from tests.conftest import _pg_reachable, copy_of_demo, make_settings, require_or_skip
from tests.factories import board_of, make_case, user_named
from tests.rooms.conftest import make_room
from tests.scheduling.conftest import NOW

ATTEMPTS = 20


@dataclass
class Pg:
    db: Database
    settings: Settings


@pytest.fixture
async def pg(tmp_root: Path, tmp_path: Path) -> AsyncIterator[Pg]:
    require_or_skip(
        _pg_reachable(),
        "PostgreSQL is not reachable on 127.0.0.1:5432",
        env="HEYAT_REQUIRE_POSTGRES",
    )
    async with copy_of_demo("postgres", tmp_root, tmp_path) as url:
        db = Database(url)  # a pool of 10 + 20: every attempt has its own connection
        try:
            yield Pg(db, make_settings(url, tmp_path, pki_dir=tmp_root / "pki"))
        finally:
            await db.dispose()


async def all_at_once(db: Database, attempt: Callable[[Any, int], Awaitable[Any]]) -> list[Any]:
    """``attempt(session, n)`` twenty times concurrently, each in its own transaction;
    what each returned or raised."""

    async def one(n: int) -> Any:
        async with db.transaction() as session:
            return await attempt(session, n)

    return await asyncio.gather(*(one(n) for n in range(ATTEMPTS)), return_exceptions=True)


def refusals(outcomes: list[Any]) -> list[Any]:
    unexpected = [
        o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, Conflict)
    ]
    assert not unexpected, unexpected
    return [o for o in outcomes if isinstance(o, Conflict)]


async def panel(db: Database, board_type: BoardType) -> list[PanelChoice]:
    async with db.transaction(write=False) as session:
        board = await board_of(session, board_type)
        return [PanelChoice(seat.id, seat.terms[0].member_id) for seat in board.seats]


async def plan_for(db: Database, board_type: BoardType, case_id: int) -> HearingPlan:
    async with db.transaction(write=False) as session:
        board_id = (await board_of(session, board_type)).id
    return HearingPlan(
        board_id=board_id,
        day=parse_jalali("1404/12/24"),
        start=time(9, 0),
        duration_minutes=60,
        agenda=[AgendaEntry(case_id)],
        panel=await panel(db, board_type),
    )


async def scheduled_hearings(db: Database) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(Hearing)) or 0)


async def test_one_panel_member_booked_twenty_times_at_once_gets_one_hearing(pg: Pg) -> None:
    clock.set_frozen(NOW)
    db = pg.db
    cases = []
    async with db.transaction() as session:
        for _ in range(ATTEMPTS):
            cases.append((await make_case(session)).id)
        # No party is a user: only the panel can clash.
        await session.execute(
            update(CaseParty)
            .where(CaseParty.case_id.in_(cases))
            .values(user_id=None, representative_user_id=None)
        )
        secretary = await user_named(session, "secretary")
    before = await scheduled_hearings(db)
    plans = [await plan_for(db, BoardType.DIAGNOSIS, case_id) for case_id in cases]

    async def book(session: Any, n: int) -> Any:
        return await do_schedule_hearing(
            session, actor=secretary, settings=pg.settings, plan=plans[n]
        )

    outcomes = await all_at_once(db, book)
    refused = refusals(outcomes)
    assert len(refused) == ATTEMPTS - 1
    assert {r.code for r in refused} == {"double_booked"}
    assert await scheduled_hearings(db) == before + 1


async def test_one_party_booked_twenty_times_at_once_on_two_boards_gets_one_hearing(
    pg: Pg,
) -> None:
    """The two boards have different panels: only the party (the same worker in every
    case) makes the bookings clash."""
    clock.set_frozen(NOW)
    db = pg.db
    boards = [BoardType.DIAGNOSIS, BoardType.SETTLEMENT]
    plans = []
    async with db.transaction() as session:
        secretary = await user_named(session, "secretary")
        cases = [
            ((await make_case(session, board_type=boards[n % 2], respondent=None)).id, n % 2)
            for n in range(ATTEMPTS)
        ]
    for case_id, board in cases:
        plans.append(await plan_for(db, boards[board], case_id))
    members = [{c.member_id for c in await panel(db, board)} for board in boards]
    assert not members[0] & members[1]
    before = await scheduled_hearings(db)

    async def book(session: Any, n: int) -> Any:
        return await do_schedule_hearing(
            session, actor=secretary, settings=pg.settings, plan=plans[n]
        )

    refused = refusals(await all_at_once(db, book))
    assert len(refused) == ATTEMPTS - 1
    assert await scheduled_hearings(db) == before + 1


async def test_twenty_readings_of_one_page_at_once_add_up_in_one_row(pg: Pg) -> None:
    db = pg.db
    room = await make_room(db, pg.settings)
    async with db.transaction(write=False) as session:
        member = await user_named(session, "member.gov1")
    ctx = RoomContext(
        sid="s",
        user=member,
        hearing_id=room.hearing_id,
        role="chair",
        locale="fa",
        settings=pg.settings,
    )

    async def read(session: Any, _n: int) -> None:
        await do_log_reading(session, ctx, document_id=room.public_doc, page=2, seconds=3)

    outcomes = await all_at_once(db, read)
    assert refusals(outcomes) == []
    async with db.transaction(write=False) as session:
        rows = list(
            await session.scalars(
                select(PageView).where(
                    PageView.user_id == member.id, PageView.document_id == room.public_doc
                )
            )
        )
    assert [(row.page, row.seconds) for row in rows] == [(2, 3 * ATTEMPTS)]


async def test_twenty_enqueues_of_one_dedupe_key_at_once_queue_one_message(pg: Pg) -> None:
    db = pg.db

    async def enqueue(session: Any, _n: int) -> OutboxMessage | None:
        return await do_enqueue(
            session,
            channel="email",
            address="worker@example.com",
            subject="یادآوری",
            body="جلسهٔ فردا",
            dedupe_key="race:reminder",
        )

    outcomes = await all_at_once(db, enqueue)
    assert refusals(outcomes) == []
    assert sum(isinstance(o, OutboxMessage) for o in outcomes) == 1
    async with db.transaction(write=False) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.dedupe_key == "race:reminder")
        )
    assert count == 1
