"""Changing a planned hearing and recording how it went: swapping a panel member,
cancelling, postponing or moving it (always with a reason, everyone summoned is told),
and after the session, who came and whether quorum was met.

A hearing can be changed only while it is scheduled and has not begun. When it is off,
its cases return to ``accepted`` and wait in the board's queue to be scheduled again.
"""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import Role, User
from hearing_server.audit.services import do_record
from hearing_server.cases.models import Case, CaseStatus
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import Conflict, Invalid, NotFound
from hearing_server.i18n import LazyText
from hearing_server.law.rules import SeatGroup, quorum_status
from hearing_server.notifications.services import SMS_LIMIT, do_notify_user
from hearing_server.scheduling import calendar as jcal
from hearing_server.scheduling.access import (
    access_hearing,
    check_scheduler,
    require_board,
)
from hearing_server.scheduling.forecast import rules_of
from hearing_server.scheduling.models import ACTIVE, Hearing, HearingStatus, PanelSeat, Summons
from hearing_server.scheduling.notices import case_numbers, hearing_ics, text_in
from hearing_server.scheduling.planning import (
    AgendaEntry,
    HearingPlan,
    PanelChoice,
    check_conflicts,
    do_schedule_hearing,
    group_label,
    move_case,
)
from hearing_server.scheduling.summons import (
    cancel_reminders,
    check_changeable,
    ensure_reminders,
    send_summons,
)

# ---------------------------------------------------------------- the panel


async def do_swap_member(
    session: AsyncSession,
    *,
    actor: User,
    settings: Settings,
    hearing_id: int,
    panel_seat_id: int,
    member_id: int,
) -> PanelSeat:
    """Replace one panel member by another member holding a seat of the same group on the
    board on that day. The chair's place passes to the replacement."""
    check_scheduler(actor)
    hearing, _standing = await access_hearing(session, actor, hearing_id, lock=True)
    check_changeable(hearing)
    old = next((s for s in hearing.panel if s.id == panel_seat_id), None)
    if old is None:
        raise NotFound("No such seat on this hearing's panel.")
    if old.member_id == member_id:
        raise Invalid("This member already holds the seat.", field="member_id")
    if any(s.member_id == member_id for s in hearing.panel):
        raise Invalid("This member is already on the panel.", field="member_id")
    board = await require_board(session, hearing.board_id)
    day = jcal.local_date(hearing.starts_at)
    member = await session.get(User, member_id)
    new_seat = next(
        (
            seat
            for seat in board.seats
            if seat.group is old.group
            and any(t.member_id == member_id and t.covers(day) for t in seat.terms)
            and not any(s.seat_id == seat.id and s.id != old.id for s in hearing.panel)
        ),
        None,
    )
    if member is None or member.role is not Role.MEMBER or new_seat is None:
        raise Invalid(
            "Only a member holding a {group} seat on this board on {day} can take this place.",
            field="member_id",
            group=group_label(old.group),
            day=day,
        )
    await check_conflicts(
        session,
        starts_at=hearing.starts_at,
        duration_minutes=hearing.duration_minutes,
        member_ids={member_id},
        party_user_ids=set(),
        exclude_hearing_id=hearing.id,
    )
    old_member = await session.get(User, old.member_id)
    was_chair = old.is_chair
    await session.delete(old)
    await session.flush()
    seat = PanelSeat(
        hearing_id=hearing.id,
        seat_id=new_seat.id,
        member_id=member.id,
        group=new_seat.group,
        is_chair=was_chair or new_seat.is_chair,
    )
    session.add(seat)
    await session.execute(
        update(Summons)
        .where(
            Summons.hearing_id == hearing.id,
            Summons.user_id == old.member_id,
            Summons.role == "member",
        )
        .values(answered_at=None)
    )
    session.add(Summons(hearing_id=hearing.id, user_id=member.id, role="member", sent_at=utcnow()))
    await cancel_reminders(session, hearing.id, old.member_id)
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="hearing.member_swapped",
        subject_type="hearing",
        subject_id=hearing.id,
        payload={"from": old.member_id, "to": member.id, "seat_id": new_seat.id},
    )
    numbers = await case_numbers(session, hearing)
    await send_summons(session, settings, hearing, board, member, numbers, "member")
    await ensure_reminders(session, hearing, member.id)
    if old_member is not None:
        loc = old_member.locale
        await do_notify_user(
            session,
            old_member,
            subject=text_in(
                loc, "You are released from the hearing on {when}", when=hearing.starts_at
            ),
            body=text_in(
                loc, "You are released from the hearing on {when}", when=hearing.starts_at
            ),
            attachments=[hearing_ics(settings, hearing, board, numbers, loc, cancelled=True)],
            dedupe_key=f"released:{hearing.id}:{old_member.id}:{int(utcnow().timestamp())}",
            office_id=board.office_id,
        )
    await session.refresh(hearing, ["panel"])
    return seat


# ---------------------------------------------------------------- postpone, reschedule, cancel


def _reason(reason: str) -> str:
    text = " ".join((reason or "").split())
    if len(text) < 3:
        raise Invalid("Give a reason.", field="reason")
    return text[:1000]


async def _tell_everyone(
    session: AsyncSession,
    settings: Settings,
    hearing: Hearing,
    *,
    subject: str,
    reason: str,
    key: str,
) -> None:
    """Every summoned person hears of the change (with a cancelling .ics)."""
    board = await require_board(session, hearing.board_id)
    numbers = await case_numbers(session, hearing)
    user_ids = {s.member_id for s in hearing.panel}
    user_ids |= set(
        await session.scalars(
            select(Summons.user_id).where(
                Summons.hearing_id == hearing.id, Summons.user_id.is_not(None)
            )
        )
    )
    for user_id in sorted(i for i in user_ids if i is not None):
        user = await session.get(User, user_id)
        if user is None:
            continue
        loc = user.locale
        title = text_in(loc, subject, when=hearing.starts_at)
        await do_notify_user(
            session,
            user,
            subject=title,
            body=title + "\n" + text_in(loc, "Reason: {reason}", reason=reason),
            sms=(title + " " + text_in(loc, "Reason: {reason}", reason=reason))[:SMS_LIMIT],
            attachments=[hearing_ics(settings, hearing, board, numbers, loc, cancelled=True)],
            dedupe_key=f"{key}:{hearing.id}:{user_id}",
            office_id=board.office_id,
        )


async def _end_hearing(
    session: AsyncSession,
    *,
    actor: User,
    settings: Settings,
    hearing_id: int,
    status: HearingStatus,
    reason: str,
    release_cases: bool,
) -> Hearing:
    check_scheduler(actor)
    reason = _reason(reason)
    hearing, _standing = await access_hearing(session, actor, hearing_id, lock=True)
    check_changeable(hearing)
    hearing.status = status
    hearing.status_reason = reason
    await cancel_reminders(session, hearing.id)
    if release_cases:
        for item in hearing.agenda:
            case = await session.get(Case, item.case_id)
            if case is not None and case.status is CaseStatus.SCHEDULED:
                await move_case(session, case, CaseStatus.ACCEPTED, actor=actor, reason=reason)
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action=f"hearing.{status.value}",
        subject_type="hearing",
        subject_id=hearing.id,
        payload={"reason": reason},
    )
    subject = (
        "The hearing on {when} is cancelled"
        if status is HearingStatus.CANCELLED
        else "The hearing on {when} is postponed"
    )
    await _tell_everyone(
        session, settings, hearing, subject=subject, reason=reason, key=status.value
    )
    return hearing


async def do_cancel_hearing(
    session: AsyncSession, *, actor: User, settings: Settings, hearing_id: int, reason: str
) -> Hearing:
    """Cancel with a reason: its cases return to ``accepted``, everyone is told."""
    return await _end_hearing(
        session,
        actor=actor,
        settings=settings,
        hearing_id=hearing_id,
        status=HearingStatus.CANCELLED,
        reason=reason,
        release_cases=True,
    )


async def do_postpone_hearing(
    session: AsyncSession, *, actor: User, settings: Settings, hearing_id: int, reason: str
) -> Hearing:
    """Postpone without a new date: the cases wait in ``accepted`` to be scheduled again."""
    return await _end_hearing(
        session,
        actor=actor,
        settings=settings,
        hearing_id=hearing_id,
        status=HearingStatus.POSTPONED,
        reason=reason,
        release_cases=True,
    )


async def do_reschedule_hearing(
    session: AsyncSession,
    *,
    actor: User,
    settings: Settings,
    hearing_id: int,
    day: date,
    start: time,
    duration_minutes: int | None,
    reason: str,
) -> Hearing:
    """Move a hearing: the old one is kept as ``postponed`` with the reason, a new one with
    the same agenda and panel (answers asked again) points back at it with
    ``rescheduled_from_id``. Every check of a new hearing applies."""
    check_scheduler(actor)
    reason = _reason(reason)
    old, _standing = await access_hearing(session, actor, hearing_id, lock=True)
    check_changeable(old)
    old.status = HearingStatus.POSTPONED
    old.status_reason = reason
    await cancel_reminders(session, old.id)
    # The cases go back to accepted for a moment, so the new hearing schedules them again.
    for item in old.agenda:
        case = await session.get(Case, item.case_id)
        if case is not None and case.status is CaseStatus.SCHEDULED:
            await move_case(session, case, CaseStatus.ACCEPTED, actor=actor, reason=reason)
    await session.flush()
    plan = HearingPlan(
        board_id=old.board_id,
        day=day,
        start=start,
        duration_minutes=duration_minutes or old.duration_minutes,
        agenda=[
            AgendaEntry(case_id=a.case_id, minutes=a.minutes if not duration_minutes else None)
            for a in old.agenda
        ],
        panel=[PanelChoice(seat_id=s.seat_id, member_id=s.member_id) for s in old.panel],
    )
    new = await do_schedule_hearing(
        session, actor=actor, settings=settings, plan=plan, rescheduled_from=old
    )
    await do_record(
        session,
        actor_id=actor.id,
        action="hearing.rescheduled",
        subject_type="hearing",
        subject_id=old.id,
        payload={
            "reason": reason,
            "new_hearing_id": new.id,
            "starts_at": new.starts_at.isoformat(),
        },
    )
    await _tell_everyone(
        session,
        settings,
        old,
        subject="The hearing on {when} is postponed",
        reason=reason,
        key="rescheduled",
    )
    return new


# ---------------------------------------------------------------- after the session


async def do_record_session(
    session: AsyncSession,
    *,
    actor: User,
    hearing_id: int,
    attended: dict[int, bool],
) -> Hearing:
    """Record who came (``attended`` maps user id → present) once the session has begun.

    Panel members' presence decides the outcome by the hearing's rules: quorum met →
    ``held``; not met → ``failed_quorum`` and the cases return to ``accepted`` to be
    rescheduled. A party's absence is recorded and does not stop the hearing.
    """
    check_scheduler(actor)
    hearing, _standing = await access_hearing(session, actor, hearing_id, lock=True)
    if hearing.status not in ACTIVE:
        raise Conflict(
            "Cannot record hearing {hearing}, because it is {status}.",
            hearing=hearing.id,
            status=LazyText(hearing.status.value),
        )
    if hearing.starts_at > utcnow():
        raise Conflict("Hearing {hearing} has not begun yet.", hearing=hearing.id)
    summonses = list(await session.scalars(select(Summons).where(Summons.hearing_id == hearing.id)))
    known = {s.user_id for s in summonses if s.user_id is not None}
    unknown = set(attended) - known
    if unknown:
        raise Invalid("Only summoned people can be marked present or absent.", field="attended")
    for summons in summonses:
        if summons.user_id in attended:
            summons.attended = attended[summons.user_id]
    rules = await rules_of(session, hearing)
    present = dict.fromkeys(SeatGroup, 0)
    for seat in hearing.panel:
        if attended.get(seat.member_id):
            present[seat.group] += 1
    status = quorum_status(rules, present)
    hearing.status = HearingStatus.HELD if status.met else HearingStatus.FAILED_QUORUM
    if not status.met:
        hearing.status_reason = (
            f"quorum not met: {status.present} of {status.required} members present"
        )
        for item in hearing.agenda:
            case = await session.get(Case, item.case_id)
            if case is not None and case.status in (CaseStatus.SCHEDULED, CaseStatus.IN_HEARING):
                await move_case(
                    session, case, CaseStatus.ACCEPTED, actor=actor, reason=hearing.status_reason
                )
    await cancel_reminders(session, hearing.id)
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action=f"hearing.{hearing.status.value}",
        subject_type="hearing",
        subject_id=hearing.id,
        payload={
            "attended": {str(k): v for k, v in sorted(attended.items())},
            "quorum": status.to_dict(),
        },
    )
    return hearing
