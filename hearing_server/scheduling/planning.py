"""Planning a hearing: the secretary's plan (date, agenda, panel seat by seat) checked
against the working time, the board's seats and terms, the statute's quorum and the
other hearings' bookings, then written with its agenda and panel and summoned.

Statutory rules come from the board type's latest ``BoardRulesVersion`` (the hearing
keeps the version it was planned under) and :mod:`hearing_server.law.rules`; nothing
that would break them can be overridden.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.accounts.models import Role, User
from hearing_server.audit.services import do_record
from hearing_server.boards.models import Board, Seat
from hearing_server.cases.models import Case, CaseParty, CaseStatus
from hearing_server.cases.workflow import do_transition
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import Conflict, ValidationErrors
from hearing_server.i18n import LazyText
from hearing_server.law.rules import BoardRules, SeatGroup, quorum_status
from hearing_server.scheduling.access import access_board
from hearing_server.scheduling.forecast import latest_rules
from hearing_server.scheduling.models import ACTIVE, AgendaItem, Hearing, HearingStatus, PanelSeat
from hearing_server.scheduling.summons import summon_everyone
from hearing_server.scheduling.worktime import (
    Problems,
    check_working_time,
    tehran_to_utc,
    working_hours,
)

MIN_MINUTES = 15  # a session's length, from this …
MAX_MINUTES = 7 * 60  # … to this
MIN_SLOT = 5  # a case's share of the session, at least
MAX_AGENDA = 30  # cases on one agenda, at most
GROUP_LABELS = {
    SeatGroup.GOVERNMENT: "government",
    SeatGroup.WORKER: "worker",
    SeatGroup.EMPLOYER: "employer",
}


@dataclass(frozen=True)
class AgendaEntry:
    case_id: int
    minutes: int | None = None


@dataclass(frozen=True)
class PanelChoice:
    seat_id: int
    member_id: int


@dataclass(frozen=True)
class HearingPlan:
    """What the secretary asks for; ``day`` and ``start`` are Tehran local."""

    board_id: int
    day: date
    start: time
    duration_minutes: int
    agenda: Sequence[AgendaEntry]
    panel: Sequence[PanelChoice]


def group_label(group: SeatGroup) -> LazyText:
    """A seat group's name as a message parameter (translated with the message)."""
    return LazyText(GROUP_LABELS[group])


# ---------------------------------------------------------------- checks


async def _load_cases(
    session: AsyncSession, board: Board, agenda: Sequence[AgendaEntry], problems: Problems
) -> list[Case]:
    cases: list[Case] = []
    seen: set[int] = set()
    if not agenda:
        problems["agenda"] = ("Put at least one case on the agenda.", {})
        return cases
    if len(agenda) > MAX_AGENDA:
        problems["agenda"] = ("At most {count} cases fit on one agenda.", {"count": MAX_AGENDA})
        return cases
    for entry in agenda:
        key = f"agenda.{entry.case_id}"
        if entry.case_id in seen:
            problems[key] = ("A case can be on the agenda only once.", {})
            continue
        seen.add(entry.case_id)
        case = await session.get(Case, entry.case_id)
        if case is None:
            problems[key] = ("No such case.", {})
            continue
        if case.board_id != board.id:
            problems[key] = (
                "Case {number} belongs to another board.",
                {"number": case.number or case.id},
            )
            continue
        if case.status is not CaseStatus.ACCEPTED:
            problems[key] = (
                "Cannot schedule case {number}, because it is {status}.",
                {"number": case.number or case.id, "status": LazyText(case.status.value)},
            )
            continue
        if entry.minutes is not None and entry.minutes < MIN_SLOT:
            problems[key] = ("A case needs at least {minutes} minutes.", {"minutes": MIN_SLOT})
            continue
        cases.append(case)
    return cases


def _slots(
    starts_at: datetime, duration: int, agenda: Sequence[AgendaEntry], problems: Problems
) -> list[tuple[datetime, int]]:
    given = [e.minutes for e in agenda if e.minutes is not None]
    free = duration - sum(given)
    unset = sum(1 for e in agenda if e.minutes is None)
    default = free // unset if unset else 0
    if free < 0 or (unset and default < MIN_SLOT):
        problems["agenda"] = (
            "The agenda's time slots do not fit in the session of {minutes} minutes.",
            {"minutes": duration},
        )
        return []
    slots: list[tuple[datetime, int]] = []
    cursor = starts_at
    for entry in agenda:
        minutes = entry.minutes if entry.minutes is not None else default
        slots.append((cursor, minutes))
        cursor += timedelta(minutes=minutes)
    return slots


async def _check_panel(
    session: AsyncSession,
    board: Board,
    rules: BoardRules,
    day: date,
    panel: Sequence[PanelChoice],
    problems: Problems,
) -> dict[int, tuple[Seat, User]]:
    """Seat by seat: the seat is the board's, the member holds it on ``day``, no seat or
    member twice, the chair sits, and the panel can reach quorum. Returns seat → (seat, member)."""
    seats = {seat.id: seat for seat in board.seats}
    chosen: dict[int, tuple[Seat, User]] = {}
    members_seen: set[int] = set()
    for choice in panel:
        seat = seats.get(choice.seat_id)
        key = f"panel.{choice.seat_id}"
        if seat is None:
            problems[key] = ("Seat {seat} is not a seat of this board.", {"seat": choice.seat_id})
            continue
        if choice.seat_id in chosen:
            problems[key] = ("A seat can be filled only once.", {})
            continue
        member = await session.get(User, choice.member_id)
        if member is None or member.role is not Role.MEMBER or not member.is_active:
            problems[key] = ("This person is not an active board member.", {})
            continue
        if choice.member_id in members_seen:
            problems[key] = (
                "{name} can hold only one seat on a panel.",
                {"name": member.full_name},
            )
            continue
        if not any(t.member_id == member.id and t.covers(day) for t in seat.terms):
            problems[key] = (
                "{name} does not hold this {group} seat on {day}.",
                {"name": member.full_name, "group": group_label(seat.group), "day": day},
            )
            continue
        chosen[seat.id] = (seat, member)
        members_seen.add(member.id)
    if any(k.startswith("panel.") for k in problems):
        return chosen
    filled: dict[SeatGroup, int] = dict.fromkeys(SeatGroup, 0)
    for seat, _member in chosen.values():
        filled[seat.group] += 1
    for group, count in filled.items():
        if count > rules.seats[group]:
            problems[f"panel.{group.value}"] = (
                "The rules allow {seats} {group} seats; {count} were filled.",
                {"seats": rules.seats[group], "group": group_label(group), "count": count},
            )
    status = quorum_status(rules, {g: min(c, rules.seats[g]) for g, c in filled.items()})
    if not status.met:
        problems["panel"] = (
            "The panel cannot reach quorum: {filled} of {seats} seats are filled and {quorum} members must be present.",  # noqa: E501  # one-line msgid for scripts/po.py
            {"filled": status.present, "seats": rules.total_seats, "quorum": rules.quorum},
        )
        for group, count in filled.items():
            if count < rules.seats[group]:
                problems.setdefault(
                    f"panel.{group.value}",
                    (
                        "{group} seats: {count} of {seats} filled.",
                        {"group": group_label(group), "count": count, "seats": rules.seats[group]},
                    ),
                )
    chair_seats = [s for s in board.seats if s.is_chair]
    if not any(seat.is_chair for seat, _m in chosen.values()):
        problems["chair"] = (
            "The chair must sit: fill the chair's seat ({group}).",
            {"group": group_label(chair_seats[0].group if chair_seats else rules.chair_group)},
        )
    return chosen


async def _parties_of(session: AsyncSession, case_ids: Iterable[int]) -> list[CaseParty]:
    ids = list(case_ids)
    if not ids:
        return []
    return list(
        await session.scalars(
            select(CaseParty).where(CaseParty.case_id.in_(ids)).order_by(CaseParty.id)
        )
    )


def _party_user_ids(parties: Iterable[CaseParty]) -> set[int]:
    ids: set[int] = set()
    for party in parties:
        if party.user_id:
            ids.add(party.user_id)
        if party.representative_user_id:
            ids.add(party.representative_user_id)
    return ids


BOOKING_LOCKS = 15_001  # PostgreSQL advisory locks of people being booked: (this, user id)


async def lock_people(session: AsyncSession, user_ids: Iterable[int]) -> None:
    """Hold, until the transaction ends, the booking lock of each person (PostgreSQL
    advisory locks, taken in id order so that two bookings never wait on each other in a
    circle). Two transactions booking one person run their conflict check one after the
    other; under READ COMMITTED the second's check reads the first's committed hearing.
    SQLite needs none: its write transactions already run one at a time."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return
    for user_id in sorted(set(user_ids)):
        await session.execute(select(func.pg_advisory_xact_lock(BOOKING_LOCKS, user_id)))


async def check_conflicts(
    session: AsyncSession,
    *,
    starts_at: datetime,
    duration_minutes: int,
    member_ids: set[int],
    party_user_ids: set[int],
    exclude_hearing_id: int | None = None,
) -> None:
    """Conflict when a panel member or a party is booked for an overlapping hearing.

    Each person is locked first (:func:`lock_people`), so that of two bookings of one
    person at once the second sees the first's hearing once it has committed."""
    await lock_people(session, member_ids | party_user_ids)
    end = starts_at + timedelta(minutes=duration_minutes)
    query = (
        select(Hearing)
        .options(selectinload(Hearing.panel), selectinload(Hearing.agenda))
        .where(
            Hearing.status.in_(ACTIVE),
            Hearing.starts_at < end,
            Hearing.starts_at > starts_at - timedelta(minutes=MAX_MINUTES),
        )
    )
    if exclude_hearing_id is not None:
        query = query.where(Hearing.id != exclude_hearing_id)
    for other in await session.scalars(query):
        other_end = other.starts_at + timedelta(minutes=other.duration_minutes)
        if other_end <= starts_at:
            continue
        for seat in other.panel:
            if seat.member_id in member_ids:
                member = await session.get(User, seat.member_id)
                raise Conflict(
                    "{name} already sits on the panel of another hearing at {when} (hearing {hearing}).",  # noqa: E501  # one-line msgid for scripts/po.py
                    code="double_booked",
                    field="panel",
                    name=member.full_name if member else seat.member_id,
                    when=other.starts_at,
                    hearing=other.id,
                )
        parties = await _parties_of(session, [item.case_id for item in other.agenda])
        clash = _party_user_ids(parties) & party_user_ids
        if clash:
            person = await session.get(User, sorted(clash)[0])
            raise Conflict(
                "{name} is a party to a case in another hearing at {when} (hearing {hearing}).",
                code="double_booked",
                field="agenda",
                name=person.full_name if person else "",
                when=other.starts_at,
                hearing=other.id,
            )


# ---------------------------------------------------------------- writing the hearing


async def move_case(
    session: AsyncSession,
    case: Case,
    to: CaseStatus,
    *,
    actor: User,
    reason: str | None = None,
) -> None:
    """Case status for scheduling (accepted → scheduled, and back to accepted when the
    hearing is off), through the cases part's guarded transition (transition row, audit)."""
    if case.status is to:
        return
    await do_transition(session, case, to, actor=actor, reason=reason)


async def do_schedule_hearing(
    session: AsyncSession,
    *,
    actor: User,
    settings: Settings,
    plan: HearingPlan,
    rescheduled_from: Hearing | None = None,
) -> Hearing:
    """Check everything, then write the hearing, its agenda and panel, move the cases to
    ``scheduled``, queue summonses (with .ics) and persist the reminders.

    Refusals: ``ValidationErrors`` listing every broken rule (working time, agenda, panel
    seat by seat, quorum, chair), then ``Conflict(code="double_booked")`` for a member or
    party booked at an overlapping hearing. Nothing is written on a refusal.
    """
    board = await access_board(session, actor, plan.board_id)
    version = await latest_rules(session, board)
    rules = version.rules
    problems: Problems = {}
    starts_at = tehran_to_utc(plan.day, plan.start)
    if not MIN_MINUTES <= plan.duration_minutes <= MAX_MINUTES:
        problems["duration"] = (
            "A session lasts between {low} and {high} minutes.",
            {"low": MIN_MINUTES, "high": MAX_MINUTES},
        )
    elif starts_at <= utcnow():
        problems["date"] = ("A hearing must be scheduled in the future.", {})
    else:
        await check_working_time(
            session,
            await working_hours(session, settings),
            starts_at,
            plan.duration_minutes,
            problems,
        )
    cases = await _load_cases(session, board, plan.agenda, problems)
    slots = _slots(starts_at, plan.duration_minutes, plan.agenda, problems) if cases else []
    chosen = await _check_panel(session, board, rules, plan.day, plan.panel, problems)
    if problems:
        raise ValidationErrors(problems)

    parties = await _parties_of(session, [c.id for c in cases])
    await check_conflicts(
        session,
        starts_at=starts_at,
        duration_minutes=plan.duration_minutes,
        member_ids={m.id for _s, m in chosen.values()},
        party_user_ids=_party_user_ids(parties),
        exclude_hearing_id=rescheduled_from.id if rescheduled_from else None,
    )

    hearing = Hearing(
        board_id=board.id,
        starts_at=starts_at,
        duration_minutes=plan.duration_minutes,
        status=HearingStatus.SCHEDULED,
        rules_version_id=version.id,
        created_by_id=actor.id,
        created_at=utcnow(),
        rescheduled_from_id=rescheduled_from.id if rescheduled_from else None,
    )
    session.add(hearing)
    await session.flush()
    for position, (case, (slot_start, minutes)) in enumerate(zip(cases, slots, strict=True), 1):
        session.add(
            AgendaItem(
                hearing_id=hearing.id,
                case_id=case.id,
                position=position,
                starts_at=slot_start,
                minutes=minutes,
            )
        )
        await move_case(session, case, CaseStatus.SCHEDULED, actor=actor)
    for seat, member in chosen.values():
        session.add(
            PanelSeat(
                hearing_id=hearing.id,
                seat_id=seat.id,
                member_id=member.id,
                group=seat.group,
                is_chair=seat.is_chair,
            )
        )
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="hearing.scheduled",
        subject_type="hearing",
        subject_id=hearing.id,
        payload={
            "board_id": board.id,
            "starts_at": starts_at.isoformat(),
            "duration_minutes": plan.duration_minutes,
            "cases": [c.id for c in cases],
            "panel": {str(s.id): m.id for s, m in chosen.values()},
            "rules_version_id": version.id,
            "rescheduled_from_id": hearing.rescheduled_from_id,
        },
    )
    await summon_everyone(session, settings, hearing, board, cases, parties, chosen)
    return hearing
