"""The reminder scheduler: sends the persisted 24-hour and 1-hour reminders once each.

Reminders are rows written when a hearing is scheduled, so a restart neither loses
nor repeats them. Each due reminder is claimed with a conditional
``UPDATE … SET sent_at WHERE sent_at IS NULL AND cancelled_at IS NULL`` and its
message is queued in the outbox in the same transaction (with a dedupe key), so two
schedulers ticking at once, or one ticking twice, send it exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from quart import Quart
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.boards.models import Board
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import Database
from hearing_server.i18n import gettext
from hearing_server.notifications.services import SMS_LIMIT, do_notify_user
from hearing_server.scheduling import timing
from hearing_server.scheduling.ics import room_url
from hearing_server.scheduling.models import Hearing, HearingStatus, Reminder

log = logging.getLogger(__name__)
BATCH = 100
DEFAULT_INTERVAL = 30.0


async def _due_ids(db: Database) -> list[int]:
    now = utcnow()
    async with db.transaction(write=False) as session:
        rows = await session.scalars(
            select(Reminder.id)
            .where(
                Reminder.sent_at.is_(None),
                Reminder.cancelled_at.is_(None),
                Reminder.due_at <= now,
            )
            .order_by(Reminder.due_at, Reminder.id)
            .limit(BATCH)
        )
        return list(rows)


async def _send_one(session: AsyncSession, settings: Settings, reminder_id: int) -> bool:
    """Claim and queue one reminder in the caller's transaction; False if someone else did,
    or if the hearing no longer takes place (then the reminder is cancelled)."""
    now = utcnow()
    claim = await session.execute(
        update(Reminder)
        .where(
            Reminder.id == reminder_id,
            Reminder.sent_at.is_(None),
            Reminder.cancelled_at.is_(None),
        )
        .values(sent_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claim, "rowcount", 0) != 1:
        return False
    reminder = await session.get(Reminder, reminder_id)
    hearing = await session.get(Hearing, reminder.hearing_id) if reminder else None
    user = await session.get(User, reminder.user_id) if reminder else None
    if reminder is None or hearing is None or user is None:
        return False
    if hearing.status is not HearingStatus.SCHEDULED or hearing.starts_at <= now:
        reminder.sent_at = None
        reminder.cancelled_at = now
        await session.flush()
        return False
    board = await session.get(Board, hearing.board_id)
    locale = user.locale if user.locale in ("fa", "en") else "fa"
    link = room_url(settings.base_url, hearing.id)
    if reminder.kind == "24h":
        lead = gettext("in 24 hours", locale)
    else:
        lead = gettext("in one hour", locale)
    subject = gettext(
        "Reminder: your hearing starts {lead}, on {when}", locale, lead=lead, when=hearing.starts_at
    )
    body = "\n".join(
        [
            subject,
            board.name(locale) if board else "",
            gettext("Join from home: {link}", locale, link=link),
        ]
    )
    await do_notify_user(
        session,
        user,
        subject=subject,
        body=body,
        sms=f"{subject} {link}"[:SMS_LIMIT],
        dedupe_key=f"reminder:{reminder.id}",
        office_id=board.office_id if board else None,
    )
    return True


async def tick(db: Database, settings: Settings) -> int:
    """Send every due reminder; returns how many this call sent."""
    sent = 0
    for reminder_id in await _due_ids(db):
        try:
            async with db.transaction() as session:
                if await _send_one(session, settings, reminder_id):
                    sent += 1
        except Exception:  # one bad row must not stop the others; it is retried next tick
            log.exception("reminder %s failed", reminder_id)
    return sent


async def sweep_missed(db: Database, settings: Settings) -> int:
    """Mark every unopened hearing past its slot and grace missed (its cases back to the
    queue); returns how many this call marked. Safe to run twice or in two processes."""
    async with db.transaction(write=False) as session:
        candidates = await timing.missed_candidates(session, settings)
    marked = 0
    for hearing_id in candidates:
        try:
            async with db.transaction() as session:
                if await timing.do_mark_missed(session, settings, hearing_id):
                    marked += 1
        except Exception:  # one bad row must not stop the others; it is retried next tick
            log.exception("marking hearing %s missed failed", hearing_id)
    return marked


async def run(db: Database, settings: Settings, interval: float = DEFAULT_INTERVAL) -> None:
    while True:
        try:
            await tick(db, settings)
        except Exception:  # the database may be briefly unavailable; try again later
            log.exception("reminder tick failed")
        try:
            await sweep_missed(db, settings)
        except Exception:
            log.exception("missed-hearing sweep failed")
        await asyncio.sleep(interval)


def install(app: Quart) -> None:
    """Start the scheduler when the app starts serving; the app's shutdown cancels it."""

    @app.before_serving
    async def start_reminders() -> None:
        rt: Any = app.extensions["heyat"]
        interval = rt.settings.reminder_tick_seconds or DEFAULT_INTERVAL
        rt.background.append(asyncio.create_task(run(rt.db, rt.settings, interval)))
