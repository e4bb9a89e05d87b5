"""Reminders 24 hours and 1 hour before: persisted when scheduling, sent by a background
scheduler that survives restarts, each exactly once even with two schedulers at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from hearing_server import clock
from hearing_server.app import create_app
from hearing_server.notifications.models import OutboxMessage
from hearing_server.scheduling.models import Reminder
from hearing_server.scheduling.reminders import tick
from tests.conftest import OtpSource, Person, api_login
from tests.scheduling.conftest import new_case, plan

START = datetime(2026, 3, 15, 5, 30, tzinfo=UTC)  # 1404/12/24 09:00 Tehran


async def _reminder_messages(db: Any, hearing_id: int) -> list[tuple[str, str]]:
    """(reminder kind, outbox dedupe key) of every reminder message of the hearing."""
    async with db.transaction(write=False) as session:
        rows = await session.execute(
            select(Reminder.id, Reminder.kind).where(Reminder.hearing_id == hearing_id)
        )
        kinds = {int(rid): str(kind) for rid, kind in rows}
        keys = await session.scalars(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.like("reminder:%"))
        )
        found = []
        for key in keys:
            reminder_id = int(str(key).split(":")[1])
            if reminder_id in kinds:
                found.append((kinds[reminder_id], str(key)))
        return found


async def _schedule_in_first_lifetime(
    settings: Any, people: dict[str, Person], otp: OtpSource, *, cancel: bool = False
) -> int:
    app = create_app(settings)
    try:
        client = app.quart_app.test_client()
        headers = {"X-CSRF-Token": await api_login(client, people["secretary"], otp)}
        case_id = await new_case(app.runtime.db)
        created = await client.post(
            "/api/v1/hearings", json=await plan(app.runtime.db, cases=[case_id]), headers=headers
        )
        assert created.status_code == 201, await created.get_json()
        hearing_id = int((await created.get_json())["id"])
        if cancel:
            response = await client.post(
                f"/api/v1/hearings/{hearing_id}/cancel",
                json={"reason": "Cancelled"},
                headers=headers,
            )
            assert response.status_code == 200
        return hearing_id
    finally:
        await app.runtime.db.dispose()


async def test_a_reminder_goes_out_exactly_once_across_restarts_and_two_schedulers(
    settings: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    hearing_id = await _schedule_in_first_lifetime(settings, people, otp)
    # The server is down until a minute past the 24-hour mark.
    clock.set_frozen(START - timedelta(hours=24) + timedelta(minutes=1))
    first, second = create_app(settings), create_app(settings)
    try:
        assert await _reminder_messages(first.runtime.db, hearing_id) == []
        sent = await asyncio.gather(
            tick(first.runtime.db, settings), tick(second.runtime.db, settings)
        )
        assert sum(sent) == 5  # worker, employer and three members; one scheduler each
        assert await tick(first.runtime.db, settings) == 0
        assert await tick(second.runtime.db, settings) == 0
        messages = await _reminder_messages(first.runtime.db, hearing_id)
    finally:
        await first.runtime.db.dispose()
        await second.runtime.db.dispose()
    assert [kind for kind, _key in messages] == ["24h"] * 5
    assert len({key for _kind, key in messages}) == 5

    # Restarted again, 59 minutes before the start: the 1-hour reminders, once; the served
    # app's own background scheduler sends them.
    clock.set_frozen(START - timedelta(minutes=59))
    third = create_app(settings)
    try:
        async with third.quart_app.test_app():
            for _ in range(500):
                if len(await _reminder_messages(third.runtime.db, hearing_id)) == 10:
                    break
                await asyncio.sleep(0.02)
        assert await tick(third.runtime.db, settings) == 0
        messages = await _reminder_messages(third.runtime.db, hearing_id)
        async with third.runtime.db.transaction(write=False) as session:
            body = await session.scalar(
                select(OutboxMessage.body).where(
                    OutboxMessage.recipient_user_id == people["worker"].id,
                    OutboxMessage.dedupe_key.like("reminder:%"),
                    OutboxMessage.subject.like("%یک ساعت دیگر%"),
                )
            )
    finally:
        await third.runtime.db.dispose()
    assert sorted(kind for kind, _key in messages) == ["1h"] * 5 + ["24h"] * 5
    assert body is not None and f"/hearings/{hearing_id}/room" in body


async def test_a_cancelled_hearing_sends_no_reminders(
    settings: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    hearing_id = await _schedule_in_first_lifetime(settings, people, otp, cancel=True)
    clock.set_frozen(START - timedelta(minutes=30))
    app = create_app(settings)
    try:
        assert await tick(app.runtime.db, settings) == 0
        assert await _reminder_messages(app.runtime.db, hearing_id) == []
    finally:
        await app.runtime.db.dispose()
