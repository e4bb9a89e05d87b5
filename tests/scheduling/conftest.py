"""Scheduling fixtures: a clock set to Sunday 1404/12/10 09:30 Tehran (06:00 UTC), the
boards' seats and holders, and a helper that builds a scheduling request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from hearing_server import clock
from hearing_server.law.rules import BoardType
from hearing_server.scheduling.models import Hearing
from tests.factories import board_of

NOW = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)  # 1404/12/10, a Sunday, 09:30 in Tehran


@pytest.fixture(autouse=True)
def scheduling_clock(frozen_clock: None) -> Iterator[datetime]:
    clock.set_frozen(NOW)
    yield NOW


async def panel_of(
    db: Any, board_type: BoardType, *, leave_out: tuple[str, ...] = ()
) -> list[dict[str, int]]:
    """The board's seats with their current holders, minus the usernames in ``leave_out``."""
    from hearing_server.accounts.models import User

    async with db.transaction(write=False) as session:
        board = await board_of(session, board_type)
        panel = []
        for seat in board.seats:
            member = await session.get(User, seat.terms[0].member_id)
            assert member is not None
            if member.username in leave_out:
                continue
            panel.append({"seat_id": seat.id, "member_id": member.id})
        return panel


async def board_id(db: Any, board_type: BoardType) -> int:
    async with db.transaction(write=False) as session:
        return (await board_of(session, board_type)).id


async def new_case(db: Any, **kwargs: Any) -> int:
    from tests.factories import make_case

    async with db.transaction() as session:
        return (await make_case(session, **kwargs)).id


async def plan(
    db: Any,
    *,
    cases: list[int],
    board_type: BoardType = BoardType.DIAGNOSIS,
    date: str = "1404/12/24",
    time: str = "09:00",
    minutes: int = 60,
    leave_out: tuple[str, ...] = (),
    panel: list[dict[str, int]] | None = None,
) -> dict[str, Any]:
    return {
        "board_id": await board_id(db, board_type),
        "date": date,
        "time": time,
        "duration_minutes": minutes,
        "agenda": [{"case_id": c} for c in cases],
        "panel": panel
        if panel is not None
        else await panel_of(db, board_type, leave_out=leave_out),
    }


async def get_hearing(db: Any, hearing_id: int) -> Hearing:
    from hearing_server.scheduling.access import require_hearing

    async with db.transaction(write=False) as session:
        return await require_hearing(session, hearing_id)
