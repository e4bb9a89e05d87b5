"""The outbox: messages to people, written in the transaction of the event they report,
delivered afterwards by a background loop with retries (never lost, never sent twice)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hearing_server.clock import utcnow
from hearing_server.db import Base, UTCDateTime


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_due", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # email, sms
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    address: Mapped[str] = mapped_column(String(254))  # email address or mobile number
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # [{"filename", "content_type", "content"}] — small attachments such as an .ics invitation.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Which sender delivered it ("dev", "smtp", an SMS provider's name).
    provider: Mapped[str | None] = mapped_column(String(16))
    # queued → sent → delivered, or failed (``last_error`` says why; staff may re-send).
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The labour office whose work it reports (its staff see it on /messages); None for
    # messages of no office (accounts), which only the national admin sees.
    office_id: Mapped[int | None] = mapped_column(ForeignKey("labour_offices.id"), index=True)
