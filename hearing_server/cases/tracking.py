"""What a case went through: its timeline of states, the public tracking page (by
tracking code and national ID, throttled) and the staff's full history from the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts import throttle
from hearing_server.accounts.models import User
from hearing_server.audit.models import AuditEvent
from hearing_server.cases import reasons
from hearing_server.cases.access import is_staff
from hearing_server.cases.models import Case, CaseParty, CaseStatus, CaseTransition
from hearing_server.cases.numbers import (
    TRACKING_LENGTH,
    format_tracking_code,
    normalize_tracking_code,
)
from hearing_server.errors import Forbidden, NotFound
from hearing_server.text import normalize_national_id


@dataclass(frozen=True)
class TimelineEntry:
    status: CaseStatus
    at: datetime
    reason: str | None  # as stored: see cases.reasons

    @property
    def reason_text(self) -> str | None:
        """The reason in the reader's language (a system reason translated)."""
        return reasons.reason_text(self.reason)


async def timeline(session: AsyncSession, case_id: int) -> list[TimelineEntry]:
    rows = await session.scalars(
        select(CaseTransition)
        .where(CaseTransition.case_id == case_id)
        .order_by(CaseTransition.at, CaseTransition.id)
    )
    return [TimelineEntry(CaseStatus(r.to_status), r.at, r.reason) for r in rows]


def tracking_url(base_url: str, code: str) -> str:
    """The public tracking page with the code filled in (the receipt prints it and its QR)."""
    return f"{base_url}/track?code={format_tracking_code(code)}"


@dataclass(frozen=True)
class Tracked:
    case_id: int  # for the boundary to add the next hearing (a scheduling fact)
    number: str
    status: CaseStatus
    timeline: list[TimelineEntry]


# The limits on guessing the national ID behind a tracking code (accounts.throttle.Guard):
# a stranger's guesses from one address slow down that address only; an address trying
# many codes is refused; a code is locked for everyone only when tried from many
# addresses, and its owner still sees the case signed in.
TRACK_GUARD = throttle.Guard(
    name="track",
    per_client=5,
    subjects_per_client=20,
    per_subject=100,
    lock_clients=5,
    window=timedelta(minutes=15),
)


async def track(session: AsyncSession, *, code: str, national_id: str, ip: str) -> Tracked:
    """The public view of a case: its status timeline, nothing else (the boundary adds the
    next hearing from scheduling).

    Wrong combinations are counted per (tracking code, address) and throttled by
    ``TRACK_GUARD``; the refusal is the same whether the code or the national ID was wrong.
    """
    normalized = normalize_tracking_code(code)[: TRACKING_LENGTH + 2]
    client = f"ip:{ip}"
    await throttle.check_guard(session, TRACK_GUARD, subject=normalized, client=client)
    try:
        nid = normalize_national_id(national_id)
    except ValueError:
        nid = ""
    case = None
    if normalized and nid:
        case = await session.scalar(
            select(Case)
            .join(CaseParty, CaseParty.case_id == Case.id)
            .where(Case.tracking_code == normalized, CaseParty.national_id == nid)
            .limit(1)
        )
    if case is None or case.number is None:
        await throttle.do_count_guard_failure(
            session, TRACK_GUARD, subject=normalized, client=client
        )
        raise NotFound(
            "No case matches this tracking code and national ID.", code="track_miss", persist=True
        )
    return Tracked(
        case_id=case.id,
        number=case.number,
        status=case.status,
        timeline=[TimelineEntry(e.status, e.at, None) for e in await timeline(session, case.id)],
    )


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    at: datetime
    action: str
    actor_name: str | None
    payload: dict[str, Any]


async def history(session: AsyncSession, *, actor: User, case_id: int) -> list[HistoryEntry]:
    """Every audit event about the case (transitions, uploads, downloads): staff only."""
    if not is_staff(actor):
        raise Forbidden("Only the board secretary sees a case's history.")
    rows = await session.execute(
        select(AuditEvent, User.full_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.subject_type == "case", AuditEvent.subject_id == str(case_id))
        .order_by(AuditEvent.seq)
    )
    return [
        HistoryEntry(event.seq, event.at, event.action, name, event.payload)
        for event, name in rows.all()
    ]
