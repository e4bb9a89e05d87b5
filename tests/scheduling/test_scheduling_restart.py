"""Reminders across real `heyat serve` restarts: with the server's clock set through
HEYAT_CLOCK_OFFSET_SECONDS, the server is stopped (SIGTERM, then kill -9) between
scheduling and the reminder's due time and started again, also as two processes at
once: each reminder message goes out exactly once."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hearing_server.accounts.models import User
from hearing_server.config import Settings
from hearing_server.law.rules import BoardType
from hearing_server.notifications.models import OutboxMessage
from hearing_server.scheduling.models import Reminder
from hearing_server.scheduling.planning import (
    AgendaEntry,
    HearingPlan,
    PanelChoice,
    do_schedule_hearing,
)
from hearing_server.scheduling.worktime import tehran_to_utc
from tests.factories import user_named
from tests.scheduling.conftest import board_id, new_case, panel_of
from tests.serve import ServeProcess

TICK = "0.3"  # HEYAT_REMINDER_TICK_SECONDS: a few ticks take about a second
FEW_TICKS = 1.5
WAIT = 30.0  # bound of every poll loop
# Both hearings are some days after the scheduling fixture's clock (Sunday 1404/12/10
# 09:30 Tehran), at 11:00 Tehran, past the public closure of 1404/12/10-16 (2026-03-01..07)
# that Iran's official calendar (the holidays package) lists. The control hearing a day
# earlier has both of its reminders due before the main hearing's 24-hour one: seeing them
# sent proves that a server which sent nothing for the main hearing really ticked with its
# clock.
CONTROL_DAY = date(2026, 3, 9)  # 1404/12/18, a Monday
MAIN_DAY = date(2026, 3, 10)  # 1404/12/19, a Tuesday
AT = time(11, 0)


@dataclass(frozen=True)
class Noted:
    """A hearing's Reminder rows as scheduling wrote them: id → (kind, user, due)."""

    hearing_id: int
    rows: dict[int, tuple[str, int, datetime]]

    def due(self, kind: str) -> datetime:
        (moment,) = {due for k, _user, due in self.rows.values() if k == kind}
        return moment

    def ids(self, kind: str) -> set[int]:
        return {rid for rid, (k, _user, _due) in self.rows.items() if k == kind}


def server_at(settings: Settings, log: Path, moment: datetime) -> ServeProcess:
    """A `heyat serve` process (started at once) whose clock reads ``moment`` when it starts."""
    offset = (moment - datetime.now(UTC)).total_seconds()
    server = ServeProcess(
        settings,
        log,
        HEYAT_CLOCK_OFFSET_SECONDS=f"{offset:.3f}",
        HEYAT_TESTING="1",  # the offset applies only in test mode
        HEYAT_REMINDER_TICK_SECONDS=TICK,
    )
    server.spawn()
    return server


async def _schedule(db: Any, settings: Settings, day: date) -> Noted:
    """Schedule a hearing of the diagnosis board through the service; note its reminders."""
    case_id = await new_case(db)
    panel = await panel_of(db, BoardType.DIAGNOSIS)
    plan = HearingPlan(
        board_id=await board_id(db, BoardType.DIAGNOSIS),
        day=day,
        start=AT,
        duration_minutes=60,
        agenda=[AgendaEntry(case_id)],
        panel=[PanelChoice(p["seat_id"], p["member_id"]) for p in panel],
    )
    async with db.transaction() as session:
        secretary = await user_named(session, "secretary")
        hearing = await do_schedule_hearing(session, actor=secretary, settings=settings, plan=plan)
        hearing_id = hearing.id
    async with db.transaction(write=False) as session:
        rows = await session.execute(
            select(Reminder.id, Reminder.kind, Reminder.user_id, Reminder.due_at).where(
                Reminder.hearing_id == hearing_id
            )
        )
        noted = Noted(hearing_id, {r.id: (r.kind, r.user_id, r.due_at) for r in rows})
    starts = tehran_to_utc(day, AT)
    assert sorted(kind for kind, _u, _d in noted.rows.values()) == ["1h"] * 5 + ["24h"] * 5
    assert noted.due("24h") == starts - timedelta(hours=24)
    assert noted.due("1h") == starts - timedelta(hours=1)
    return noted


async def _channels(db: Any, user_ids: set[int]) -> dict[int, set[str]]:
    """The channels a reminder to each user goes out on: email and/or SMS."""
    async with db.transaction(write=False) as session:
        users = await session.scalars(select(User).where(User.id.in_(user_ids)))
        found = {
            u.id: ({"email"} if u.email else set()) | ({"sms"} if u.mobile else set())
            for u in users
        }
    assert all(found.get(uid) for uid in user_ids), found  # nobody is unreachable
    return found


async def _sent(db: Any) -> Counter[tuple[int, int, str]]:
    """How many reminder messages the outbox holds per (reminder, recipient, channel)."""
    async with db.transaction(write=False) as session:
        rows = await session.execute(
            select(
                OutboxMessage.dedupe_key, OutboxMessage.recipient_user_id, OutboxMessage.channel
            ).where(OutboxMessage.dedupe_key.like("reminder:%"))
        )
        return Counter((int(str(key).split(":")[1]), int(user), str(ch)) for key, user, ch in rows)


async def _reminder_rows(db: Any, hearing_ids: list[int]) -> dict[int, tuple[str, int, datetime]]:
    async with db.transaction(write=False) as session:
        rows = await session.execute(
            select(Reminder.id, Reminder.kind, Reminder.user_id, Reminder.due_at).where(
                Reminder.hearing_id.in_(hearing_ids)
            )
        )
        return {r.id: (r.kind, r.user_id, r.due_at) for r in rows}


async def _sent_at(db: Any, ids: set[int]) -> dict[int, datetime | None]:
    async with db.transaction(write=False) as session:
        rows = await session.execute(
            select(Reminder.id, Reminder.sent_at).where(Reminder.id.in_(ids))
        )
        return {int(rid): sent for rid, sent in rows}


async def test_reminder_goes_out_exactly_once_across_real_server_restarts(
    db: Any, settings: Settings, tmp_path: Path
) -> None:
    control = await _schedule(db, settings, CONTROL_DAY)
    main = await _schedule(db, settings, MAIN_DAY)
    noted = {**control.rows, **main.rows}
    reach = await _channels(db, {user for _k, user, _d in noted.values()})

    def expected(ids: set[int]) -> Counter[tuple[int, int, str]]:
        return Counter(
            (rid, noted[rid][1], channel) for rid in ids for channel in reach[noted[rid][1]]
        )

    control_all = control.ids("24h") | control.ids("1h")
    main_24h, main_1h = main.ids("24h"), main.ids("1h")
    assert control.due("1h") < main.due("24h") - timedelta(minutes=10)

    before_24h = main.due("24h") - timedelta(minutes=10)
    after_24h = main.due("24h") + timedelta(minutes=1)  # 23 hours before the 1-hour one
    after_1h = main.due("1h") + timedelta(minutes=1)  # 59 minutes before the hearing starts
    started: list[ServeProcess] = []

    def spawn(moment: datetime) -> ServeProcess:
        server = server_at(settings, tmp_path / f"server-{len(started)}.log", moment)
        started.append(server)
        return server

    async def until(what: str, done: Callable[[], Awaitable[bool]], *alive: ServeProcess) -> None:
        for _ in range(int(WAIT / 0.2)):
            for server in alive:
                server.check_alive()
            if await done():
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"within {WAIT} s: {what}; outbox: {dict(await _sent(db))}")

    async def outbox_has(ids: set[int]) -> bool:
        return set(expected(ids)) <= set(await _sent(db))

    try:
        assert await _sent(db) == Counter()

        # 1. A server whose clock is 10 minutes before the 24-hour mark sends the control
        #    hearing's reminders (so it ticks) and nothing of the main hearing; SIGTERM.
        first = spawn(before_24h)
        await first.healthy()
        await until(
            "the control hearing's reminders are queued", lambda: outbox_has(control_all), first
        )
        await asyncio.sleep(FEW_TICKS)
        first.signal(signal.SIGTERM)
        assert await _sent(db) == expected(control_all)

        # 2. Started again before the mark and killed with -9 after a few ticks: still
        #    nothing for the main hearing, the control's reminders not repeated.
        second = spawn(before_24h)
        await second.healthy()
        await asyncio.sleep(FEW_TICKS)
        second.signal(signal.SIGKILL)
        assert await _sent(db) == expected(control_all)
        assert set((await _sent_at(db, main_24h | main_1h)).values()) == {None}

        # 3. Started after the 24-hour mark: the 24-hour reminders go out. A second process
        #    with the same clock runs beside it; after a few ticks of both, one is killed
        #    with -9 and started again.
        a = spawn(after_24h)
        await a.healthy()
        await until("the 24-hour reminders are queued", lambda: outbox_has(main_24h), a)
        b = spawn(after_24h)
        await b.healthy()
        await asyncio.sleep(FEW_TICKS)
        a.signal(signal.SIGKILL)
        a_again = spawn(after_24h)
        await a_again.healthy()
        await asyncio.sleep(FEW_TICKS)
        b.check_alive()
        assert await _sent(db) == expected(control_all | main_24h)
        sent_at = await _sent_at(db, main_24h | main_1h)
        assert all(sent_at[rid] is not None for rid in main_24h)
        assert all(sent_at[rid] is None for rid in main_1h)  # not due yet
        a_again.signal(signal.SIGTERM)
        b.signal(signal.SIGKILL)

        # 4. Past the 1-hour mark, again two processes at once: one 1-hour message each,
        #    the 24-hour ones still exactly once.
        c, d = spawn(after_1h), spawn(after_1h)
        await c.healthy()
        await d.healthy()
        await until("the 1-hour reminders are queued", lambda: outbox_has(main_1h), c, d)
        await asyncio.sleep(FEW_TICKS)
        c.check_alive()
        d.check_alive()
        assert await _sent(db) == expected(control_all | main_24h | main_1h)
        assert None not in (await _sent_at(db, main_24h | main_1h)).values()
        # No restart wrote new Reminder rows or moved a due time.
        assert await _reminder_rows(db, [control.hearing_id, main.hearing_id]) == noted
    finally:
        for server in started:
            server.stop()
