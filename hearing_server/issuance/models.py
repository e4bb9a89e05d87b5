"""Issued rulings and minutes, approvals, notification (ابلاغ) and objections (DESIGN.md §7).

The PDF library is ``rulings/``; this package keeps the records about them.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hearing_server.clock import utcnow
from hearing_server.db import Base, UTCDateTime, enum_values


class RulingState(StrEnum):
    DRAFT = "draft"  # composed, waiting for approvals
    ISSUED = "issued"  # signed and issued
    FINAL = "final"
    APPEALED = "appealed"
    SUPERSEDED = "superseded"


class Ruling(Base):
    __tablename__ = "rulings"
    __table_args__ = (UniqueConstraint("case_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    verification_code: Mapped[str] = mapped_column(String(32), unique=True)
    state: Mapped[RulingState] = mapped_column(
        Enum(RulingState, native_enum=False, length=16, values_callable=enum_values),
        default=RulingState.DRAFT,
    )
    content: Mapped[dict[str, Any]] = mapped_column(JSON)  # the composed snapshot, re-renderable
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    objection_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Approval(Base):
    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("ruling_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ruling_id: Mapped[int] = mapped_column(ForeignKey("rulings.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved: Mapped[bool] = mapped_column(default=True)  # False: refused to sign, recorded
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationMethod(StrEnum):
    DOWNLOAD = "download"  # the party's (or representative's) first download
    IN_PERSON = "in_person"  # handed over at the office, signed for
    POST = "post"  # registered post, with the receipt
    ELECTRONIC = "electronic"  # the judiciary's electronic notice system (ثنا)


class MissingSignature(Base):
    """Why a member who voted did not sign a ruling's text, as the secretary recorded it.

    A ruling issues only when every member who voted has signed it or has one of these.
    """

    __tablename__ = "ruling_missing_signatures"
    __table_args__ = (UniqueConstraint("ruling_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ruling_id: Mapped[int] = mapped_column(ForeignKey("rulings.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """A party's notification (ابلاغ) of the issued ruling, which starts that party's own
    objection clock: the party's first download, or a notification the secretary records
    (date, method, evidence file) for a party served outside the system."""

    __tablename__ = "ruling_notifications"
    __table_args__ = (UniqueConstraint("ruling_id", "party_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ruling_id: Mapped[int] = mapped_column(ForeignKey("rulings.id"))
    party_id: Mapped[int] = mapped_column(ForeignKey("case_parties.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # who downloaded
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    method: Mapped[NotificationMethod] = mapped_column(
        Enum(NotificationMethod, native_enum=False, length=16, values_callable=enum_values),
        default=NotificationMethod.DOWNLOAD,
    )
    evidence_sha256: Mapped[str | None] = mapped_column(ForeignKey("stored_files.sha256"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The end of this party's window when it was computed (the calendar may change later;
    # the services recompute it where it matters).
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Objection(Base):
    """One party's objection; every party's objection to a ruling joins one appeal case."""

    __tablename__ = "objections"
    __table_args__ = (UniqueConstraint("ruling_id", "party_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ruling_id: Mapped[int] = mapped_column(ForeignKey("rulings.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("case_parties.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    appeal_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))


class Minutes(Base):
    """صورتجلسه of one session, signed like a ruling."""

    __tablename__ = "minutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), unique=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    verification_code: Mapped[str] = mapped_column(String(32), unique=True)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PublicRuling(Base):
    """The anonymised public copy of a final ruling (rulings/redact.py), signed as a
    derivative of the original: its own verification ``code``, the original's in the PDF.

    Only a ruling that became final is published; search reads these rows, never the
    rulings. ``claim_kinds`` is ``|unpaid_wages|severance|`` (a claim kind filters with
    LIKE ``%|kind|%`` on every database); ``search_text`` is the redacted text folded as
    :func:`hearing_server.issuance.public.search_fold` folds a query.
    """

    __tablename__ = "public_rulings"
    __table_args__ = (
        Index("ix_public_rulings_ruled_on", "ruled_on", "id"),
        Index("ix_public_rulings_board_ruled_on", "board_id", "ruled_on"),
        Index("ix_public_rulings_office_ruled_on", "office_id", "ruled_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ruling_id: Mapped[int] = mapped_column(ForeignKey("rulings.id"), unique=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    pdf_sha256: Mapped[str] = mapped_column(ForeignKey("stored_files.sha256"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    office_id: Mapped[int] = mapped_column(ForeignKey("labour_offices.id"))
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"))
    claim_kinds: Mapped[str] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))  # accepted | partly_accepted | rejected
    ruled_on: Mapped[date] = mapped_column(Date)  # the day of issue in Tehran
    jalali_date: Mapped[str] = mapped_column(String(10))  # 1405/09/11, sorts as dates do
    title: Mapped[str] = mapped_column(String(300))  # the claims' titles, for result lists
    content: Mapped[dict[str, Any]] = mapped_column(JSON)  # the redacted snapshot
    search_text: Mapped[str] = mapped_column(Text)
