"""The outbox delivery loop: claim due messages atomically, send, record, retry.

Claiming is a conditional UPDATE (``sent_at IS NULL`` and no live lease), committed
before anything is sent, so two processes never take the same message. A sent
message is marked in its own transaction; a failure releases the lease, records
``last_error`` and sets the next attempt with exponential backoff (30 s, 1 min,
2 min … at most an hour) — the message is never dropped. If a process dies between
sending and marking, the lease (5 minutes, longer than any send may take) expires
and the message is sent again: at-least-once is the guarantee SMTP allows, and the
Message-ID stays the same so receivers can recognise the repeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from quart import Quart
from sqlalchemy import or_, select, update

from hearing_server.clock import utcnow
from hearing_server.db import Database
from hearing_server.notifications.models import OutboxMessage
from hearing_server.notifications.senders import Sender, SmsSender, build_senders
from hearing_server.notifications.sms import SmsError, SmsProvider
from hearing_server.runtime import Runtime

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
POLL_SECONDS = 2.0
MAX_ATTEMPTS = 8  # a message the provider keeps refusing for a while is marked failed
REPORT_EVERY = timedelta(minutes=1)
REPORT_WINDOW = timedelta(days=3)


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failed tries (1 → 30 s, 2 → 60 s …)."""
    delay: timedelta = BASE_DELAY * (2 ** max(0, min(attempts - 1, 16)))
    return min(delay, MAX_DELAY)


async def claim_due(db: Database, *, limit: int = 20) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages for this process (commits the claim)."""
    async with db.transaction() as session:
        now = utcnow()
        free = or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)
        ids = list(
            await session.scalars(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.status == "queued",
                    OutboxMessage.sent_at.is_(None),
                    OutboxMessage.next_attempt_at <= now,
                    free,
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
            )
        )
        claimed: list[int] = []
        for message_id in ids:
            result = await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message_id,
                    OutboxMessage.status == "queued",
                    OutboxMessage.sent_at.is_(None),
                    free,
                )
                .values(claimed_until=now + LEASE, attempts=OutboxMessage.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if int(getattr(result, "rowcount", 0) or 0) == 1:
                claimed.append(message_id)
        if not claimed:
            return []
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.id.in_(claimed))
            .order_by(OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
        return list(rows)


async def _finish(db: Database, message_id: int, **values: Any) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None))
            .values(claimed_until=None, **values)
            .execution_options(synchronize_session=False)
        )


async def deliver_one(db: Database, senders: Mapping[str, Sender], message: OutboxMessage) -> bool:
    sender = senders.get(message.channel)
    try:
        if sender is None:
            raise LookupError(f"no sender for channel {message.channel!r}")
        provider_id = await sender.send(message)
    except SmsError as exc:
        log.warning("outbox message %s not delivered: %s", message.id, exc.reason)
        if exc.retry and message.attempts < MAX_ATTEMPTS:
            await _finish(
                db,
                message.id,
                last_error=exc.reason[:1000],
                next_attempt_at=utcnow() + backoff(message.attempts),
            )
        else:  # the provider will not take it (or never did): staff see why and may re-send
            reason = (
                exc.reason
                if not exc.retry
                else f"gave up after {message.attempts} attempts: {exc.reason}"
            )
            await _finish(
                db, message.id, status="failed", status_at=utcnow(), last_error=reason[:1000]
            )
        return False
    except Exception as exc:  # any other failure of a sender: keep the message and try later
        log.warning("outbox message %s not delivered: %s", message.id, exc)
        await _finish(
            db,
            message.id,
            last_error=f"{type(exc).__name__}: {exc}"[:1000],
            next_attempt_at=utcnow() + backoff(message.attempts),
        )
        return False
    now = utcnow()
    await _finish(
        db,
        message.id,
        sent_at=now,
        status="sent",
        status_at=now,
        provider=sender.name,
        provider_message_id=provider_id,
        last_error=None,
    )
    return True


async def refresh_reports(db: Database, provider: SmsProvider, *, limit: int = 100) -> int:
    """Ask the SMS provider what became of messages it took in the last days (delivered,
    or failed with its reason); returns how many changed."""
    since = utcnow() - REPORT_WINDOW
    async with db.transaction(write=False) as session:
        pending = list(
            await session.scalars(
                select(OutboxMessage.provider_message_id)
                .where(
                    OutboxMessage.channel == "sms",
                    OutboxMessage.status == "sent",
                    OutboxMessage.provider == provider.name,
                    OutboxMessage.provider_message_id.is_not(None),
                    OutboxMessage.sent_at >= since,
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
        )
    if not pending:
        return 0
    reports = [r for r in await provider.statuses([p for p in pending if p]) if r.state != "sent"]
    if not reports:
        return 0
    async with db.transaction() as session:
        now = utcnow()
        for report in reports:
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.provider == provider.name,
                    OutboxMessage.provider_message_id == report.provider_id,
                    OutboxMessage.status == "sent",
                )
                .values(status=report.state, status_at=now, last_error=report.reason)
                .execution_options(synchronize_session=False)
            )
    return len(reports)


async def deliver_due(db: Database, senders: Mapping[str, Sender], *, limit: int = 20) -> int:
    """Deliver what is due now; return how many were sent."""
    sent = 0
    for message in await claim_due(db, limit=limit):
        if await deliver_one(db, senders, message):
            sent += 1
    return sent


async def run_loop(db: Database, senders: Mapping[str, Sender]) -> None:
    """Forever: deliver what is due, then wait a little; now and then read the SMS
    provider's delivery reports. Cancelled at shutdown."""
    sms = senders.get("sms")
    provider = sms.provider if isinstance(sms, SmsSender) else None
    last_reports = utcnow()
    while True:
        try:
            while await deliver_due(db, senders) > 0:
                pass
            if provider is not None and utcnow() - last_reports >= REPORT_EVERY:
                last_reports = utcnow()
                await refresh_reports(db, provider)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database was away: log, and try again next round
            log.exception("outbox delivery round failed")
        await asyncio.sleep(POLL_SECONDS)


def install(app: Quart) -> None:
    """Start the loop when the app starts serving; the app's after_serving cancels it."""

    async def start_outbox_delivery() -> None:
        rt: Runtime = app.extensions["heyat"]
        rt.background.append(asyncio.create_task(run_loop(rt.db, build_senders(rt.settings))))

    app.before_serving(start_outbox_delivery)
