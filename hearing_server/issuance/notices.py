"""Notification (ابلاغ) per party and each party's own objection clock.

A party is notified once per ruling: by its first download (or its representative's), or
by a notification the secretary records for it — the date, the method and an evidence file
(the signed receipt, the post slip) — when it was served outside the system, typically a
party without an account. The party's window runs from the Tehran date of its own
notification (:func:`hearing_server.law.deadlines.objection_window`, with Fridays, the
public calendar and the office's holiday table). A party never notified has no clock.

``Ruling.objection_deadline`` holds the instant the *last* party's window closes, and only
once every party is notified: the finality sweep looks for it, and re-checks it against the
calendar of the moment before making a ruling final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from persiantools.jdatetime import JalaliDate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.audit.services import do_record
from hearing_server.cases.access import access_case
from hearing_server.cases.files import (
    PreparedFile,
    StoredBytes,
    discard_unrecorded,
    do_record_file,
    prepare_upload_async,
    store_file_bytes,
)
from hearing_server.cases.models import CaseParty
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import Database
from hearing_server.errors import Conflict, Invalid, NotFound
from hearing_server.i18n import LazyText
from hearing_server.issuance.models import (
    Notification,
    NotificationMethod,
    Objection,
    Ruling,
    RulingState,
)
from hearing_server.issuance.queries import lock_ruling, require_staff
from hearing_server.law.deadlines import ObjectionWindow, finality_instant, objection_window
from hearing_server.scheduling.worktime import days_off, parse_jalali
from rulings.persian import TEHRAN

# How far past the nominal last day the office's holiday table is read (a window never
# moves that far: Nowruz and its neighbours are the longest run of days off).
_SLACK_DAYS = 60


@dataclass
class PartyClock:
    """One party of a ruling's case: its notification, window and objection, if any."""

    party: CaseParty
    notification: Notification | None
    window: ObjectionWindow | None
    objection: Objection | None


def jalali_text(day: date) -> str:
    """``1405/10/05``: a Jalali date with Latin digits, as the API gives dates."""
    return str(JalaliDate(day).strftime("%Y/%m/%d"))  # type: ignore[no-untyped-call]  # persiantools is untyped


def clock_json(c: PartyClock) -> dict[str, Any]:
    """One party's clock as the API answers it (for the secretary's list)."""
    note, window = c.notification, c.window
    return {
        "party_id": c.party.id,
        "role": c.party.role.value,
        "name": c.party.full_name,
        "has_account": c.party.user_id is not None,
        "notified": note is not None,
        "notified_at": note.notified_at.isoformat() if note else None,
        "notified_on": jalali_text(notified_on(note)) if note else None,
        "method": note.method.value if note else None,
        "evidence": note.evidence_sha256 is not None if note else False,
        "last_day": jalali_text(window.last_day) if window else None,
        "closes_at": window.closes_at.isoformat() if window else None,
        "objected_at": c.objection.at.isoformat() if c.objection else None,
    }


def objection_days(ruling: Ruling) -> int | None:
    days = ruling.content.get("objection_days")
    return None if days is None else int(days)


def notified_on(note: Notification) -> date:
    return note.notified_at.astimezone(TEHRAN).date()


async def window_of(
    session: AsyncSession, ruling: Ruling, note: Notification | None
) -> ObjectionWindow | None:
    """The party's window by today's calendar; None without notification or window."""
    days = objection_days(ruling)
    if days is None or note is None:
        return None
    start = notified_on(note)
    lookup = await days_off(session, start, start + timedelta(days=days + _SLACK_DAYS))
    return objection_window(start, days, lookup)


async def party_clocks(session: AsyncSession, ruling: Ruling) -> list[PartyClock]:
    """Every party of the ruling's case with its clock, in the case's order."""
    parties = list(
        await session.scalars(
            select(CaseParty).where(CaseParty.case_id == ruling.case_id).order_by(CaseParty.id)
        )
    )
    notes = {
        n.party_id: n
        for n in await session.scalars(
            select(Notification).where(Notification.ruling_id == ruling.id)
        )
    }
    objections = {
        o.party_id: o
        for o in await session.scalars(select(Objection).where(Objection.ruling_id == ruling.id))
    }
    return [
        PartyClock(
            p,
            notes.get(p.id),
            await window_of(session, ruling, notes.get(p.id)),
            objections.get(p.id),
        )
        for p in parties
    ]


async def do_refresh_deadline(session: AsyncSession, ruling: Ruling) -> datetime | None:
    """Set ``ruling.objection_deadline`` to the instant the last party's window closes
    (None while a party is not notified); stores each notification's ``closes_at``."""
    clocks = await party_clocks(session, ruling)
    for c in clocks:
        if c.notification is not None and c.window is not None:
            c.notification.closes_at = c.window.closes_at
    ruling.objection_deadline = finality_instant(c.window for c in clocks)
    await session.flush()
    return ruling.objection_deadline


async def do_notify_party(
    session: AsyncSession,
    ruling: Ruling,
    party: CaseParty,
    *,
    at: datetime,
    method: NotificationMethod,
    user: User | None = None,
    recorded_by: User | None = None,
    evidence_sha256: str | None = None,
) -> Notification | None:
    """Record ``party``'s notification once; None when it was already notified (also by a
    concurrent first download)."""
    note = Notification(
        ruling_id=ruling.id,
        party_id=party.id,
        user_id=user.id if user else None,
        notified_at=at,
        method=method,
        evidence_sha256=evidence_sha256,
        recorded_by_id=recorded_by.id if recorded_by else None,
        recorded_at=utcnow() if recorded_by else None,
    )
    try:
        async with session.begin_nested():
            session.add(note)
            await session.flush()
    except IntegrityError:
        return None
    window = await window_of(session, ruling, note)
    await do_refresh_deadline(session, ruling)
    actor = recorded_by or user
    await do_record(
        session,
        actor_id=actor.id if actor else None,
        action="ruling.notified",
        subject_type="ruling",
        subject_id=ruling.id,
        payload={
            "party_id": party.id,
            "method": method.value,
            "notified_on": notified_on(note).isoformat(),
            "last_day": window.last_day.isoformat() if window else None,
            "evidence_sha256": evidence_sha256,
        },
    )
    return note


def _method(raw: str) -> NotificationMethod:
    try:
        method = NotificationMethod((raw or "").strip())
    except ValueError:
        method = NotificationMethod.DOWNLOAD
    if method == NotificationMethod.DOWNLOAD:
        raise Invalid(
            "Choose how the ruling was served: in person, by post or electronically.",
            field="method",
        )
    return method


async def do_record_notification(
    session: AsyncSession,
    settings: Settings,
    *,
    actor: User,
    ruling_id: int,
    party_id: int,
    date_text: str,
    method: str,
    evidence: tuple[PreparedFile, StoredBytes] | None,
) -> tuple[Notification, ObjectionWindow]:
    """The secretary records that ``party_id`` was served the ruling on a (Jalali) date,
    how, with the evidence file (PDF, JPEG or PNG, checked and stored already by
    :func:`record_notification`); the party's window runs from that date.
    """
    require_staff(actor)
    ruling = await lock_ruling(session, ruling_id)
    await access_case(session, actor, ruling.case_id)
    party = await session.get(CaseParty, party_id)
    if party is None or party.case_id != ruling.case_id:
        raise NotFound("No such party in this case.")
    served = _method(method)
    day = parse_jalali(date_text)
    if objection_days(ruling) is None or ruling.state not in (
        RulingState.ISSUED,
        RulingState.APPEALED,
    ):
        raise Conflict(
            "Cannot record a notification of ruling {number}, because it is {state}.",
            number=ruling.number,
            state=LazyText(ruling.state.value),
        )
    issued = ruling.issued_at
    if issued is not None and day < issued.astimezone(TEHRAN).date():
        raise Invalid("The ruling was not issued yet on that date.", field="date")
    if day > utcnow().astimezone(TEHRAN).date():
        raise Invalid("The date of notification cannot be in the future.", field="date")
    if not evidence:
        raise Invalid(
            "Attach the evidence of notification (the signed receipt or the post slip).",
            field="file",
        )
    existing = await session.scalar(
        select(Notification.id).where(
            Notification.ruling_id == ruling.id, Notification.party_id == party.id
        )
    )
    if existing is not None:
        raise Conflict("{name} has already been notified of this ruling.", name=party.full_name)
    prepared, stored = evidence
    digest = await do_record_file(session, settings.files_dir, stored, pages=prepared.pages)
    at = datetime.combine(day, time(0), tzinfo=TEHRAN).astimezone(UTC)
    note = await do_notify_party(
        session, ruling, party, at=at, method=served, recorded_by=actor, evidence_sha256=digest
    )
    if note is None:
        raise Conflict("{name} has already been notified of this ruling.", name=party.full_name)
    window = await window_of(session, ruling, note)
    if window is None:  # objection_days was checked above
        raise Conflict("The record is missing.")
    return note, window


async def record_notification(
    db: Database,
    settings: Settings,
    *,
    actor: User,
    ruling_id: int,
    party_id: int,
    date_text: str,
    method: str,
    evidence: bytes | None,
) -> tuple[Notification, ObjectionWindow]:
    """:func:`do_record_notification` from the boundary: the evidence is checked,
    converted, written and fsynced first, with no transaction open; one short write
    transaction records it; if that fails, a file written for it is removed again."""
    if not evidence:
        async with db.transaction() as session:
            return await do_record_notification(
                session,
                settings,
                actor=actor,
                ruling_id=ruling_id,
                party_id=party_id,
                date_text=date_text,
                method=method,
                evidence=None,
            )
    prepared = await prepare_upload_async(evidence, settings)
    stored = await store_file_bytes(settings.files_dir, prepared.pdf, digest=prepared.sha256)
    try:
        async with db.transaction() as session:
            return await do_record_notification(
                session,
                settings,
                actor=actor,
                ruling_id=ruling_id,
                party_id=party_id,
                date_text=date_text,
                method=method,
                evidence=(prepared, stored),
            )
    except BaseException:
        await discard_unrecorded(db, settings.files_dir, stored)
        raise
