"""A hearing happens at its time (issue #12, item 2).

* The room's lobby opens ``hearing_lobby_opens_minutes`` before the start (equipment
  checks); nobody enters earlier.
* Nothing of the session itself (the phases, a motion, a ballot, and so the decision)
  happens before the scheduled start: :func:`check_started`.
* A hearing left unopened (still scheduled, its room still in the lobby)
  ``hearing_missed_grace_minutes`` after the end of its slot is marked ``missed`` with
  the reason, and its cases go back to the board's queue (accepted), the reason on their
  timeline: :func:`do_mark_missed`, run by the scheduler's background loop. Each hearing is
  claimed with a conditional UPDATE, so two sweeps, or a sweep racing the secretary
  opening the room, never both act on it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.audit.services import do_record
from hearing_server.cases.models import Case, CaseStatus
from hearing_server.cases.workflow import do_transition
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import Conflict
from hearing_server.i18n import gettext, lazy
from hearing_server.scheduling.models import AgendaItem, Hearing, HearingStatus, RoomPhase
from hearing_server.scheduling.summons import cancel_reminders

MISSED_REASON = lazy(
    "The hearing of {when} was not opened: it was marked missed and the case returns to "
    "the board's queue to be scheduled again."
)


def lobby_opens_at(hearing: Hearing, settings: Settings) -> datetime:
    return hearing.starts_at - timedelta(minutes=max(0, settings.hearing_lobby_opens_minutes))


def missed_after(hearing: Hearing, settings: Settings) -> datetime:
    """When an unopened hearing counts as missed: its slot's end plus the grace."""
    return hearing.starts_at + timedelta(
        minutes=hearing.duration_minutes + max(0, settings.hearing_missed_grace_minutes)
    )


def check_lobby_open(hearing: Hearing, settings: Settings, now: datetime | None = None) -> None:
    """Refuse entering the room before its lobby opens."""
    opens = lobby_opens_at(hearing, settings)
    if (now or utcnow()) < opens:
        raise Conflict(
            "The room opens on {opens}, before the hearing that starts on {start}.",
            code="room_not_open",
            opens=opens,
            start=hearing.starts_at,
        )


def check_started(hearing: Hearing, now: datetime | None = None) -> None:
    """Refuse a step of the session itself before the hearing's scheduled start."""
    if (now or utcnow()) < hearing.starts_at:
        raise Conflict(
            "The hearing starts on {start}; this cannot be done before then.",
            code="not_started",
            start=hearing.starts_at,
        )


async def missed_candidates(session: AsyncSession, settings: Settings) -> list[int]:
    """Ids of unopened hearings past their slot and the grace."""
    now = utcnow()
    grace = timedelta(minutes=max(0, settings.hearing_missed_grace_minutes))
    rows = await session.execute(
        select(Hearing.id, Hearing.starts_at, Hearing.duration_minutes)
        .where(
            Hearing.status == HearingStatus.SCHEDULED,
            Hearing.phase == RoomPhase.LOBBY,
            Hearing.starts_at <= now - grace,
        )
        .order_by(Hearing.starts_at, Hearing.id)
        .limit(100)
    )
    return [
        hid
        for hid, starts, minutes in rows.all()
        if starts + timedelta(minutes=minutes) + grace <= now
    ]


async def do_mark_missed(session: AsyncSession, settings: Settings, hearing_id: int) -> bool:
    """Mark one unopened hearing missed and send its cases back to the queue; False when
    it is not (or no longer) an unopened hearing past its grace."""
    hearing = await session.get(Hearing, hearing_id, populate_existing=True)
    if hearing is None or utcnow() < missed_after(hearing, settings):
        return False
    locale = settings.default_locale
    reason = gettext(MISSED_REASON, locale, when=hearing.starts_at)
    claimed = await session.execute(
        update(Hearing)
        .where(
            Hearing.id == hearing_id,
            Hearing.status == HearingStatus.SCHEDULED,
            Hearing.phase == RoomPhase.LOBBY,
        )
        .values(status=HearingStatus.MISSED, status_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(claimed, "rowcount", 0) or 0) != 1:
        return False
    hearing.status = HearingStatus.MISSED
    hearing.status_reason = reason
    case_ids = list(
        await session.scalars(
            select(AgendaItem.case_id)
            .where(AgendaItem.hearing_id == hearing_id)
            .order_by(AgendaItem.position)
        )
    )
    await cancel_reminders(session, hearing_id)
    returned: list[int] = []
    for case in await session.scalars(select(Case).where(Case.id.in_(case_ids))):
        if case.status == CaseStatus.SCHEDULED:
            await do_transition(session, case, CaseStatus.ACCEPTED, actor=None, reason=reason)
            returned.append(case.id)
    await do_record(
        session,
        actor_id=None,
        action="hearing.missed",
        subject_type="hearing",
        subject_id=hearing_id,
        payload={"starts_at": hearing.starts_at.isoformat(), "cases": sorted(returned)},
    )
    return True
