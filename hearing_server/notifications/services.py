"""Putting messages in the outbox. Delivery (senders, the background loop) lives beside it.

``do_enqueue`` writes in the caller's transaction, so a message exists exactly when
the change it reports was committed. ``dedupe_key`` makes enqueueing idempotent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.accounts.tenancy import office_clause
from hearing_server.audit.services import do_record
from hearing_server.clock import utcnow
from hearing_server.db import dialect_insert
from hearing_server.errors import Conflict, NotFound
from hearing_server.notifications.models import OutboxMessage

SMS_LIMIT = 335  # five concatenated Persian (UCS-2) SMS segments of 67 characters


async def do_enqueue(
    session: AsyncSession,
    *,
    channel: str,
    address: str,
    subject: str,
    body: str,
    recipient: User | None = None,
    attachments: list[dict[str, Any]] | None = None,
    dedupe_key: str | None = None,
    office_id: int | None = None,
) -> OutboxMessage | None:
    """Queue one message; returns None when ``dedupe_key`` was already queued."""
    if channel not in ("email", "sms"):
        raise ValueError(f"unknown channel {channel!r}")
    if channel == "sms" and len(body) > SMS_LIMIT:
        raise ValueError(f"SMS body of {len(body)} characters exceeds {SMS_LIMIT}")
    values = {
        "channel": channel,
        "address": address,
        "subject": subject[:200],
        "body": body,
        "recipient_user_id": recipient.id if recipient else None,
        "attachments": attachments or [],
        "dedupe_key": dedupe_key,
        "office_id": office_id,
    }
    if dedupe_key is None:
        message = OutboxMessage(**values)
        session.add(message)
        await session.flush()
        return message
    # One statement: of two enqueues of one key at once, exactly one inserts.
    insert = dialect_insert(session)(OutboxMessage).values(**values)
    inserted: OutboxMessage | None = await session.scalar(
        insert.on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key]).returning(
            OutboxMessage
        )
    )
    return inserted


async def do_notify_user(
    session: AsyncSession,
    user: User,
    *,
    subject: str,
    body: str,
    sms: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
    dedupe_key: str | None = None,
    office_id: int | None = None,
) -> list[OutboxMessage]:
    """Email (when the user has an address) and SMS (when they have a mobile) to one person."""
    queued: list[OutboxMessage] = []
    if user.email:
        message = await do_enqueue(
            session,
            channel="email",
            address=user.email,
            subject=subject,
            body=body,
            recipient=user,
            attachments=attachments,
            dedupe_key=f"{dedupe_key}:email" if dedupe_key else None,
            office_id=office_id,
        )
        if message:
            queued.append(message)
    if user.mobile:
        message = await do_enqueue(
            session,
            channel="sms",
            address=user.mobile,
            subject=subject,
            body=sms or subject,
            recipient=user,
            dedupe_key=f"{dedupe_key}:sms" if dedupe_key else None,
            office_id=office_id,
        )
        if message:
            queued.append(message)
    return queued


STATES = ("queued", "sent", "delivered", "failed")


async def list_messages(
    session: AsyncSession, *, viewer: User, state: str | None = None, limit: int = 200
) -> list[OutboxMessage]:
    """The newest messages of ``viewer``'s office (the national admin: all), of one
    delivery state when given (staff's view of delivery)."""
    query = (
        select(OutboxMessage)
        .where(office_clause(viewer, OutboxMessage.office_id))
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if state in STATES:
        query = query.where(OutboxMessage.status == state)
    return list(await session.scalars(query))


async def do_resend(session: AsyncSession, *, actor: User, message_id: int) -> OutboxMessage:
    """Queue a failed (or lost) message again, now; recorded in the audit chain."""
    message = await session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.id == message_id, office_clause(actor, OutboxMessage.office_id)
        )
    )
    if message is None:
        raise NotFound("No such message.")
    if message.status not in ("failed", "sent"):
        raise Conflict("This message is still waiting to be sent.")
    previous = message.status
    message.status = "queued"
    message.status_at = utcnow()
    message.sent_at = None
    message.attempts = 0
    message.claimed_until = None
    message.next_attempt_at = utcnow()
    message.provider_message_id = None
    await do_record(
        session,
        actor_id=actor.id,
        action="outbox.resend",
        subject_type="outbox_message",
        subject_id=message.id,
        payload={"previous": previous, "reason": message.last_error},
    )
    return message
