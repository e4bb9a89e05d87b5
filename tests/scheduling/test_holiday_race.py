"""Two admins adding the same office holiday at once: one row, the others a 409."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from sqlalchemy import func, select

from hearing_server.accounts.models import User
from hearing_server.errors import Conflict
from hearing_server.scheduling import worktime
from hearing_server.scheduling.models import Holiday
from tests.conftest import Person

DAY = date(2027, 1, 12)  # a Tuesday, no public holiday


async def test_concurrent_adds_of_one_date_leave_one_row(
    db: Any, people: dict[str, Person]
) -> None:
    async def add(n: int) -> Holiday:
        async with db.transaction() as session:
            actor = await session.get(User, people["admin"].id)
            return await worktime.do_add_holiday(
                session, actor=actor, day=DAY, name_fa=f"تعطیلی {n}", name_en=f"Closure {n}"
            )

    outcomes = await asyncio.gather(*(add(n) for n in range(20)), return_exceptions=True)
    added = [o for o in outcomes if isinstance(o, Holiday)]
    assert len(added) == 1, outcomes
    assert all(isinstance(o, Conflict) for o in outcomes if not isinstance(o, Holiday))
    async with db.transaction(write=False) as session:
        rows = await session.scalar(
            select(func.count()).select_from(Holiday).where(Holiday.day == DAY)
        )
    assert rows == 1
