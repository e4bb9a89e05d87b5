"""Scheduling hearings: panels seat by seat, conflict and quorum checks, summonses,
reminders, postponement, cancellation and the record of a session (DESIGN.md §3).

Every function takes the session first and flushes, never commits. Statutory rules come
from the hearing's ``BoardRulesVersion`` and :mod:`hearing_server.law.rules`; nothing
that would break them can be overridden.

Working time (defaults, configurable through ``Settings.extra``):

* ``scheduling_work_days``  — ``sat,sun,mon,tue,wed,thu`` (Friday is the weekly rest day);
* ``scheduling_work_start`` — ``07:30`` Tehran time;
* ``scheduling_work_end``   — ``14:30`` Tehran time (a session must end by then);
* official holidays are the rows of the ``holidays`` table (:func:`do_seed_solar_holidays`
  adds the fixed solar-calendar ones for a Jalali year; lunar ones are added by the admin).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.accounts.models import Role, User
from hearing_server.audit.services import do_record
from hearing_server.boards.models import Board, BoardRulesVersion, Seat, SeatTerm
from hearing_server.cases.models import Case, CaseParty, CaseStatus
from hearing_server.cases.services import do_transition
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import Conflict, Forbidden, Invalid, NotFound, ValidationErrors
from hearing_server.i18n import LazyText, get_locale, gettext, localize_value
from hearing_server.law.rules import BoardRules, SeatGroup, quorum_status
from hearing_server.notifications.services import SMS_LIMIT, do_enqueue, do_notify_user
from hearing_server.scheduling import calendar as jcal
from hearing_server.scheduling.ics import build_ics, room_url
from hearing_server.scheduling.models import (
    AgendaItem,
    Hearing,
    HearingStatus,
    Holiday,
    PanelAnswer,
    PanelSeat,
    Reminder,
    Summons,
)
from hearing_server.text import normalize_digits

TEHRAN = ZoneInfo("Asia/Tehran")
ACTIVE = (HearingStatus.SCHEDULED, HearingStatus.IN_PROGRESS)
REMINDERS: dict[str, timedelta] = {"24h": timedelta(hours=24), "1h": timedelta(hours=1)}
MIN_MINUTES = 15
MAX_MINUTES = 7 * 60
MIN_SLOT = 5
MAX_AGENDA = 30
GROUP_LABELS = {
    SeatGroup.GOVERNMENT: "government",
    SeatGroup.WORKER: "worker",
    SeatGroup.EMPLOYER: "employer",
}
LABELS: dict[str, str] = {
    HearingStatus.SCHEDULED: "Scheduled",
    HearingStatus.IN_PROGRESS: "In progress",
    HearingStatus.HELD: "Held",
    HearingStatus.FAILED_QUORUM: "Failed for lack of quorum",
    HearingStatus.POSTPONED: "Postponed",
    HearingStatus.CANCELLED: "Cancelled",
    PanelAnswer.PENDING: "No answer yet",
    PanelAnswer.ATTENDING: "Attending",
    PanelAnswer.NOT_ATTENDING: "Not attending",
    SeatGroup.GOVERNMENT: "Government representative",
    SeatGroup.WORKER: "Workers' representative",
    SeatGroup.EMPLOYER: "Employers' representative",
    "claimant": "Claimant",
    "respondent": "Respondent",
    "representative": "Representative",
    "member": "Board member",
}
FORECAST_GROUPS = {
    SeatGroup.GOVERNMENT: "Government",
    SeatGroup.WORKER: "Workers",
    SeatGroup.EMPLOYER: "Employers",
}
_DAY_CODES = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
SCHEDULERS = (Role.SECRETARY, Role.ADMIN)


# ---------------------------------------------------------------- working time


@dataclass(frozen=True)
class WorkingHours:
    start: time = time(7, 30)
    end: time = time(14, 30)
    days: frozenset[int] = frozenset({5, 6, 0, 1, 2, 3})  # Saturday … Thursday

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkingHours:
        extra = settings.extra
        days = cls.days
        if extra.get("scheduling_work_days"):
            days = frozenset(
                _DAY_CODES[code.strip().lower()[:3]]
                for code in extra["scheduling_work_days"].split(",")
                if code.strip().lower()[:3] in _DAY_CODES
            )
        return cls(
            start=parse_clock(extra.get("scheduling_work_start", "07:30")),
            end=parse_clock(extra.get("scheduling_work_end", "14:30")),
            days=days,
        )


def parse_clock(text: str) -> time:
    """``"9:00"``, ``"۰۹:۳۰"`` → a time; ``Invalid`` otherwise."""
    match = re.fullmatch(r"\s*(\d{1,2})\s*[:٫.]\s*(\d{2})\s*", normalize_digits(text or ""))
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise Invalid("Enter the time as hours and minutes, e.g. 09:30.", field="time")
    return time(int(match.group(1)), int(match.group(2)))


def parse_jalali(text: str) -> date:
    """A Jalali date typed as ``1405/01/15`` or ``۱۴۰۵-۱-۱۵`` → its Gregorian date."""
    match = re.fullmatch(
        r"\s*(\d{4})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{1,2})\s*", normalize_digits(text or "")
    )
    if not match:
        raise Invalid("Enter the date in the Jalali calendar, e.g. 1405/01/15.", field="date")
    try:
        return jcal.from_jalali(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise Invalid("This Jalali date does not exist.", field="date") from None


def tehran_to_utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=TEHRAN).astimezone(UTC)


# ---------------------------------------------------------------- solar holidays

SOLAR_HOLIDAYS: tuple[tuple[int, int, str, str], ...] = (
    (1, 1, "عید نوروز", "Nowruz"),
    (1, 2, "عید نوروز", "Nowruz"),
    (1, 3, "عید نوروز", "Nowruz"),
    (1, 4, "عید نوروز", "Nowruz"),
    (1, 12, "روز جمهوری اسلامی", "Islamic Republic Day"),
    (1, 13, "روز طبیعت", "Nature Day"),
    (3, 14, "رحلت امام خمینی", "Death of Imam Khomeini"),
    (3, 15, "قیام ۱۵ خرداد", "Revolt of 15 Khordad"),
    (11, 22, "پیروزی انقلاب اسلامی", "Revolution Day"),
    (12, 29, "روز ملی شدن صنعت نفت", "Oil Nationalisation Day"),
)


async def do_seed_solar_holidays(session: AsyncSession, jalali_year: int) -> int:
    """Add the fixed solar-calendar official holidays of ``jalali_year``; returns how many
    were new. Lunar holidays move every year and are entered by the admin."""
    added = 0
    for month, day, name_fa, name_en in SOLAR_HOLIDAYS:
        try:
            gregorian = jcal.from_jalali(jalali_year, month, day)
        except ValueError:
            continue
        if await session.get(Holiday, gregorian) is None:
            session.add(Holiday(day=gregorian, name_fa=name_fa, name_en=name_en))
            added += 1
    await session.flush()
    return added


async def do_add_holiday(
    session: AsyncSession, *, actor: User, day: date, name_fa: str, name_en: str
) -> Holiday:
    if actor.role not in SCHEDULERS:
        raise Forbidden("Only the board secretary or the administrator can do this.")
    if not name_fa.strip() or not name_en.strip():
        raise Invalid("Enter the holiday's name in Persian and in English.", field="name")
    existing = await session.get(Holiday, day)
    if existing is not None:
        raise Conflict("{day} is already an official holiday.", day=day)
    holiday = Holiday(day=day, name_fa=name_fa.strip()[:200], name_en=name_en.strip()[:200])
    session.add(holiday)
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="holiday.added",
        subject_type="holiday",
        subject_id=day.isoformat(),
        payload={"name_en": holiday.name_en},
    )
    return holiday


async def holidays_between(session: AsyncSession, first: date, last: date) -> list[Holiday]:
    return list(
        await session.scalars(
            select(Holiday).where(Holiday.day >= first, Holiday.day <= last).order_by(Holiday.day)
        )
    )


# ---------------------------------------------------------------- the plan


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


Problems = dict[str, tuple[str, dict[str, Any]]]


def _group(group: SeatGroup) -> LazyText:
    return LazyText(GROUP_LABELS[group])


async def latest_rules(session: AsyncSession, board: Board) -> BoardRulesVersion:
    version = await session.scalar(
        select(BoardRulesVersion)
        .where(BoardRulesVersion.board_type == board.type)
        .order_by(BoardRulesVersion.version.desc())
        .limit(1)
    )
    if version is None:
        raise Conflict("The rules of this board type are not set up yet. Ask the administrator.")
    return version


async def require_board(session: AsyncSession, board_id: int) -> Board:
    board = await session.scalar(
        select(Board)
        .options(selectinload(Board.seats).selectinload(Seat.terms))
        .where(Board.id == board_id)
    )
    if board is None:
        raise NotFound("No such board.")
    return board


async def check_working_time(
    session: AsyncSession,
    hours: WorkingHours,
    starts_at: datetime,
    duration_minutes: int,
    problems: Problems,
) -> None:
    local = starts_at.astimezone(TEHRAN)
    end = local + timedelta(minutes=duration_minutes)
    day = local.date()
    if day.weekday() not in hours.days:
        if day.weekday() == 4:
            problems["date"] = (
                "{day} is a Friday: the board does not sit on Fridays.",
                {"day": day},
            )
        else:
            problems["date"] = ("{day} is not a working day of the board.", {"day": day})
        return
    holiday = await session.get(Holiday, day)
    if holiday is not None:
        name = holiday.name_fa if get_locale() == "fa" else holiday.name_en
        problems["date"] = ("{day} is an official holiday ({name}).", {"day": day, "name": name})
        return
    if local.time() < hours.start or end.date() != day or end.time() > hours.end:
        problems["time"] = (
            "Sessions are held between {start} and {end} Tehran time.",
            {"start": hours.start.strftime("%H:%M"), "end": hours.end.strftime("%H:%M")},
        )


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
                {"name": member.full_name, "group": _group(seat.group), "day": day},
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
                {"seats": rules.seats[group], "group": _group(group), "count": count},
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
                        {"group": _group(group), "count": count, "seats": rules.seats[group]},
                    ),
                )
    chair_seats = [s for s in board.seats if s.is_chair]
    if not any(seat.is_chair for seat, _m in chosen.values()):
        problems["chair"] = (
            "The chair must sit: fill the chair's seat ({group}).",
            {"group": _group(chair_seats[0].group if chair_seats else rules.chair_group)},
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


async def _check_conflicts(
    session: AsyncSession,
    *,
    starts_at: datetime,
    duration_minutes: int,
    member_ids: set[int],
    party_user_ids: set[int],
    exclude_hearing_id: int | None = None,
) -> None:
    """Conflict when a panel member or a party is booked for an overlapping hearing."""
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


# ---------------------------------------------------------------- case status


async def _move_case(
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


# ---------------------------------------------------------------- scheduling


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
    if actor.role not in SCHEDULERS:
        raise Forbidden("Only the board secretary or the administrator can do this.")
    board = await require_board(session, plan.board_id)
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
            WorkingHours.from_settings(settings),
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
    await _check_conflicts(
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
        await _move_case(session, case, CaseStatus.SCHEDULED, actor=actor)
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
    await _summon_everyone(session, settings, hearing, board, cases, parties, chosen)
    return hearing


# ---------------------------------------------------------------- summonses


def _t(user_locale: str | None, message: str, **params: Any) -> str:
    return gettext(message, user_locale if user_locale in ("fa", "en") else "fa", **params)


def _hearing_ics(
    settings: Settings,
    hearing: Hearing,
    board: Board,
    case_numbers: Sequence[str],
    locale: str,
    *,
    cancelled: bool = False,
) -> dict[str, Any]:
    summary = _t(locale, "Hearing of the {board}", board=board.name(locale))
    description = _t(locale, "Cases on the agenda:")
    text = build_ics(
        base_url=settings.base_url,
        hearing_id=hearing.id,
        starts_at=hearing.starts_at,
        duration_minutes=hearing.duration_minutes,
        summary=summary,
        description=description,
        case_numbers=case_numbers,
        cancelled=cancelled,
    )
    return {
        "filename": f"hearing-{hearing.id}.ics",
        "content_type": "text/calendar; method=" + ("CANCEL" if cancelled else "REQUEST"),
        "content": text,
    }


async def _summon_everyone(
    session: AsyncSession,
    settings: Settings,
    hearing: Hearing,
    board: Board,
    cases: Sequence[Case],
    parties: Sequence[CaseParty],
    chosen: dict[int, tuple[Seat, User]],
) -> None:
    now = utcnow()
    numbers_by_case = {c.id: c.number or str(c.id) for c in cases}
    all_numbers = [numbers_by_case[c.id] for c in cases]
    link = room_url(settings.base_url, hearing.id)
    # Parties: one summons per party of each case; one message per person.
    recipients: dict[int, tuple[User, list[str], str]] = {}
    for party in parties:
        number = numbers_by_case[party.case_id]
        session.add(
            Summons(
                hearing_id=hearing.id,
                case_id=party.case_id,
                user_id=party.user_id,
                party_id=party.id,
                role=party.role.value,
                sent_at=now,
            )
        )
        if party.representative_user_id:
            session.add(
                Summons(
                    hearing_id=hearing.id,
                    case_id=party.case_id,
                    user_id=party.representative_user_id,
                    party_id=party.id,
                    role="representative",
                    sent_at=now,
                )
            )
        for user_id in (party.user_id, party.representative_user_id):
            if user_id is None:
                continue
            user = await session.get(User, user_id)
            if user is None:
                continue
            entry = recipients.setdefault(user_id, (user, [], "party"))
            if number not in entry[1]:
                entry[1].append(number)
        if party.user_id is None and party.mobile:
            # A named party with no account yet: an SMS summons to the number on the petition.
            await do_enqueue(
                session,
                channel="sms",
                address=party.mobile,
                subject=_t("fa", "Summons to a hearing"),
                body=_sms(settings, "fa", hearing, [number], link),
                dedupe_key=f"summons:{hearing.id}:party:{party.id}:sms",
            )
    for _seat, member in chosen.values():
        session.add(Summons(hearing_id=hearing.id, user_id=member.id, role="member", sent_at=now))
        recipients.setdefault(member.id, (member, list(all_numbers), "member"))
    await session.flush()
    for user, numbers, kind in recipients.values():
        await _send_summons(session, settings, hearing, board, user, numbers, kind)
        await _ensure_reminders(session, hearing, user.id)


def _sms(
    settings: Settings, locale: str, hearing: Hearing, numbers: Sequence[str], link: str
) -> str:
    text = _t(
        locale,
        "Heyat: hearing of case {numbers} on {when}. Join: {link}",
        numbers=", ".join(numbers),
        when=hearing.starts_at,
        link=link,
    )
    return text[:SMS_LIMIT]


async def _send_summons(
    session: AsyncSession,
    settings: Settings,
    hearing: Hearing,
    board: Board,
    user: User,
    numbers: Sequence[str],
    kind: str,
) -> None:
    locale = user.locale
    link = room_url(settings.base_url, hearing.id)
    body_lines = [
        _t(locale, "You are summoned to a hearing of the {board}.", board=board.name(locale)),
        _t(
            locale,
            "When: {when} (Tehran time), {minutes} minutes.",
            when=hearing.starts_at,
            minutes=hearing.duration_minutes,
        ),
        _t(locale, "Cases: {numbers}", numbers=", ".join(numbers)),
        _t(locale, "Join from home: {link}", link=link),
    ]
    if kind == "member":
        body_lines.append(
            _t(
                locale,
                "Please answer whether you will attend: {link}",
                link=f"{settings.base_url.rstrip('/')}/hearings/{hearing.id}",
            )
        )
    else:
        body_lines.append(
            _t(
                locale,
                "If you cannot attend, you may send a representative or file a written brief before the hearing. Your absence does not stop the hearing.",  # noqa: E501  # one-line msgid for scripts/po.py
            )
        )
    await do_notify_user(
        session,
        user,
        subject=_t(locale, "Summons: hearing on {when}", when=hearing.starts_at),
        body="\n".join(body_lines),
        sms=_sms(settings, locale, hearing, numbers, link),
        attachments=[_hearing_ics(settings, hearing, board, numbers, locale)],
        dedupe_key=f"summons:{hearing.id}:{user.id}",
    )


async def _ensure_reminders(session: AsyncSession, hearing: Hearing, user_id: int) -> None:
    now = utcnow()
    for kind, before in REMINDERS.items():
        due = hearing.starts_at - before
        existing = await session.scalar(
            select(Reminder).where(
                Reminder.hearing_id == hearing.id,
                Reminder.user_id == user_id,
                Reminder.kind == kind,
            )
        )
        if existing is not None:
            if existing.sent_at is None:
                existing.cancelled_at = None
                existing.due_at = due
            continue
        if due <= now:
            continue  # scheduled closer than the reminder's lead time: the summons suffices
        session.add(Reminder(hearing_id=hearing.id, user_id=user_id, kind=kind, due_at=due))
    await session.flush()


async def _cancel_reminders(
    session: AsyncSession, hearing_id: int, user_id: int | None = None
) -> None:
    stmt = (
        update(Reminder)
        .where(
            Reminder.hearing_id == hearing_id,
            Reminder.sent_at.is_(None),
            Reminder.cancelled_at.is_(None),
        )
        .values(cancelled_at=utcnow())
    )
    if user_id is not None:
        stmt = stmt.where(Reminder.user_id == user_id)
    await session.execute(stmt)


# ---------------------------------------------------------------- reading hearings


async def require_hearing(session: AsyncSession, hearing_id: int, *, lock: bool = False) -> Hearing:
    query = (
        select(Hearing)
        .options(selectinload(Hearing.agenda), selectinload(Hearing.panel))
        .where(Hearing.id == hearing_id)
    )
    if lock:
        query = query.with_for_update()
    hearing = await session.scalar(query)
    if hearing is None:
        raise NotFound("No such hearing.")
    return hearing


async def member_board_ids(session: AsyncSession, user_id: int) -> set[int]:
    """Boards on which ``user_id`` holds (or held) a seat."""
    rows = await session.scalars(
        select(Seat.board_id)
        .join(SeatTerm, SeatTerm.seat_id == Seat.id)
        .where(SeatTerm.member_id == user_id)
    )
    return set(rows)


async def party_case_ids(session: AsyncSession, user_id: int) -> set[int]:
    rows = await session.scalars(
        select(CaseParty.case_id).where(
            or_(CaseParty.user_id == user_id, CaseParty.representative_user_id == user_id)
        )
    )
    return set(rows)


@dataclass
class HearingAccess:
    """What ``user`` may see of a hearing: all of it, or only their own cases."""

    full: bool
    case_ids: set[int] = field(default_factory=set)
    on_panel: bool = False


async def check_can_view(session: AsyncSession, user: User, hearing: Hearing) -> HearingAccess:
    on_panel = any(seat.member_id == user.id for seat in hearing.panel)
    if user.role in SCHEDULERS:
        return HearingAccess(full=True)
    if user.role is Role.MEMBER and (
        on_panel or hearing.board_id in await member_board_ids(session, user.id)
    ):
        return HearingAccess(full=True, on_panel=on_panel)
    if user.role is Role.PARTY:
        own = await party_case_ids(session, user.id) & {a.case_id for a in hearing.agenda}
        if own:
            return HearingAccess(full=False, case_ids=own)
    raise NotFound("No such hearing.")


async def check_can_view_board(session: AsyncSession, user: User, board_id: int) -> Board:
    board = await require_board(session, board_id)
    if user.role in SCHEDULERS:
        return board
    if user.role is Role.MEMBER and board_id in await member_board_ids(session, user.id):
        return board
    raise Forbidden("You do not have access to this board's calendar.")


@dataclass(frozen=True)
class GroupForecast:
    group: SeatGroup
    seats: int
    on_panel: int
    confirmed: int
    declined: int
    pending: int
    at_risk: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group.value,
            "seats": self.seats,
            "on_panel": self.on_panel,
            "confirmed": self.confirmed,
            "declined": self.declined,
            "pending": self.pending,
            "at_risk": self.at_risk,
        }


@dataclass(frozen=True)
class Forecast:
    """``state``: ``met`` (enough members confirmed), ``at_risk`` (only if pending members
    come), ``cannot_meet`` (even if every pending member came)."""

    state: str
    confirmed: int
    quorum: int
    groups: list[GroupForecast]

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "confirmed": self.confirmed,
            "quorum": self.quorum,
            "groups": [g.to_dict() for g in self.groups],
        }


def quorum_forecast(rules: BoardRules, panel: Sequence[PanelSeat]) -> Forecast:
    confirmed = dict.fromkeys(SeatGroup, 0)
    possible = dict.fromkeys(SeatGroup, 0)
    groups: list[GroupForecast] = []
    for seat in panel:
        if seat.answer is PanelAnswer.ATTENDING:
            confirmed[seat.group] += 1
        if seat.answer is not PanelAnswer.NOT_ATTENDING:
            possible[seat.group] += 1
    cap = {g: min(n, rules.seats[g]) for g, n in confirmed.items()}
    now_met = quorum_status(rules, cap)
    best = quorum_status(rules, {g: min(n, rules.seats[g]) for g, n in possible.items()})
    state = "met" if now_met.met else ("at_risk" if best.met else "cannot_meet")
    for group in (SeatGroup.GOVERNMENT, SeatGroup.WORKER, SeatGroup.EMPLOYER):
        seats = [s for s in panel if s.group is group]
        declined = sum(1 for s in seats if s.answer is PanelAnswer.NOT_ATTENDING)
        groups.append(
            GroupForecast(
                group=group,
                seats=rules.seats[group],
                on_panel=len(seats),
                confirmed=confirmed[group],
                declined=declined,
                pending=len(seats) - confirmed[group] - declined,
                at_risk=state != "met" and confirmed[group] < rules.seats[group],
            )
        )
    return Forecast(state=state, confirmed=now_met.present, quorum=rules.quorum, groups=groups)


async def rules_of(session: AsyncSession, hearing: Hearing) -> BoardRules:
    version = await session.get(BoardRulesVersion, hearing.rules_version_id)
    if version is None:
        raise NotFound("No such hearing.")
    return version.rules


# ---------------------------------------------------------------- answers and swaps


def _check_changeable(hearing: Hearing) -> None:
    if hearing.status is not HearingStatus.SCHEDULED:
        raise Conflict(
            "Cannot change hearing {hearing}, because it is {status}.",
            hearing=hearing.id,
            status=LazyText(hearing.status.value),
        )
    if hearing.starts_at <= utcnow():
        raise Conflict("Cannot change hearing {hearing}, because it has begun.", hearing=hearing.id)


async def do_answer_summons(
    session: AsyncSession, *, actor: User, settings: Settings, hearing_id: int, attending: bool
) -> PanelSeat:
    """A panel member says whether they will attend; the secretary is told of a refusal."""
    hearing = await require_hearing(session, hearing_id)
    seat = next((s for s in hearing.panel if s.member_id == actor.id), None)
    if seat is None:
        await check_can_view(session, actor, hearing)
        raise Forbidden("Only members on this hearing's panel can answer its summons.")
    _check_changeable(hearing)
    seat.answer = PanelAnswer.ATTENDING if attending else PanelAnswer.NOT_ATTENDING
    seat.answered_at = utcnow()
    summons = await session.scalar(
        select(Summons).where(
            Summons.hearing_id == hearing.id, Summons.user_id == actor.id, Summons.role == "member"
        )
    )
    if summons is not None:
        summons.answered_at = seat.answered_at
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="hearing.answered",
        subject_type="hearing",
        subject_id=hearing.id,
        payload={"answer": seat.answer.value},
    )
    if not attending:
        secretary = await session.get(User, hearing.created_by_id)
        if secretary is not None:
            forecast = quorum_forecast(await rules_of(session, hearing), hearing.panel)
            loc = secretary.locale
            await do_notify_user(
                session,
                secretary,
                subject=_t(
                    loc,
                    "{name} will not attend the hearing on {when}",
                    name=actor.full_name,
                    when=hearing.starts_at,
                ),
                body=_t(
                    loc,
                    "{name} will not attend the hearing on {when}",
                    name=actor.full_name,
                    when=hearing.starts_at,
                )
                + "\n"
                + forecast_text(forecast, loc)
                + "\n"
                + f"{settings.base_url.rstrip('/')}/hearings/{hearing.id}",
                dedupe_key=f"declined:{hearing.id}:{actor.id}:{int(utcnow().timestamp())}",
            )
    return seat


def forecast_text(forecast: Forecast, locale: str) -> str:
    lines = []
    for g in forecast.groups:
        if g.seats == 0:
            continue
        line = _t(
            locale,
            "{group}: {confirmed} of {seats} confirmed",
            group=LazyText(FORECAST_GROUPS[g.group]),
            confirmed=g.confirmed,
            seats=g.seats,
        )
        if g.at_risk:
            line += " — " + _t(locale, "quorum at risk")
        lines.append(line)
    return "\n".join(lines)


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
    if actor.role not in SCHEDULERS:
        raise Forbidden("Only the board secretary or the administrator can do this.")
    hearing = await require_hearing(session, hearing_id, lock=True)
    _check_changeable(hearing)
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
            group=_group(old.group),
            day=day,
        )
    await _check_conflicts(
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
    await _cancel_reminders(session, hearing.id, old.member_id)
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="hearing.member_swapped",
        subject_type="hearing",
        subject_id=hearing.id,
        payload={"from": old.member_id, "to": member.id, "seat_id": new_seat.id},
    )
    numbers = await _case_numbers(session, hearing)
    await _send_summons(session, settings, hearing, board, member, numbers, "member")
    await _ensure_reminders(session, hearing, member.id)
    if old_member is not None:
        loc = old_member.locale
        await do_notify_user(
            session,
            old_member,
            subject=_t(loc, "You are released from the hearing on {when}", when=hearing.starts_at),
            body=_t(loc, "You are released from the hearing on {when}", when=hearing.starts_at),
            attachments=[_hearing_ics(settings, hearing, board, numbers, loc, cancelled=True)],
            dedupe_key=f"released:{hearing.id}:{old_member.id}:{int(utcnow().timestamp())}",
        )
    await session.refresh(hearing, ["panel"])
    return seat


async def _case_numbers(session: AsyncSession, hearing: Hearing) -> list[str]:
    ids = [a.case_id for a in hearing.agenda]
    cases = {c.id: c for c in await session.scalars(select(Case).where(Case.id.in_(ids)))}
    return [cases[i].number or str(i) for i in ids if i in cases]


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
    numbers = await _case_numbers(session, hearing)
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
        title = _t(loc, subject, when=hearing.starts_at)
        await do_notify_user(
            session,
            user,
            subject=title,
            body=title + "\n" + _t(loc, "Reason: {reason}", reason=reason),
            sms=(title + " " + _t(loc, "Reason: {reason}", reason=reason))[:SMS_LIMIT],
            attachments=[_hearing_ics(settings, hearing, board, numbers, loc, cancelled=True)],
            dedupe_key=f"{key}:{hearing.id}:{user_id}",
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
    if actor.role not in SCHEDULERS:
        raise Forbidden("Only the board secretary or the administrator can do this.")
    reason = _reason(reason)
    hearing = await require_hearing(session, hearing_id, lock=True)
    _check_changeable(hearing)
    hearing.status = status
    hearing.status_reason = reason
    await _cancel_reminders(session, hearing.id)
    if release_cases:
        for item in hearing.agenda:
            case = await session.get(Case, item.case_id)
            if case is not None and case.status is CaseStatus.SCHEDULED:
                await _move_case(session, case, CaseStatus.ACCEPTED, actor=actor, reason=reason)
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
    if actor.role not in SCHEDULERS:
        raise Forbidden("Only the board secretary or the administrator can do this.")
    reason = _reason(reason)
    old = await require_hearing(session, hearing_id, lock=True)
    _check_changeable(old)
    old.status = HearingStatus.POSTPONED
    old.status_reason = reason
    await _cancel_reminders(session, old.id)
    # The cases go back to accepted for a moment, so the new hearing schedules them again.
    for item in old.agenda:
        case = await session.get(Case, item.case_id)
        if case is not None and case.status is CaseStatus.SCHEDULED:
            await _move_case(session, case, CaseStatus.ACCEPTED, actor=actor, reason=reason)
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
    if actor.role not in SCHEDULERS:
        raise Forbidden("Only the board secretary or the administrator can do this.")
    hearing = await require_hearing(session, hearing_id, lock=True)
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
                await _move_case(
                    session, case, CaseStatus.ACCEPTED, actor=actor, reason=hearing.status_reason
                )
    await _cancel_reminders(session, hearing.id)
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


# ---------------------------------------------------------------- lists


async def list_board_hearings(
    session: AsyncSession, *, actor: User, board_id: int, first: date, last: date
) -> tuple[Board, list[Hearing]]:
    """Hearings of a board whose Tehran date is within ``first``…``last``."""
    board = await check_can_view_board(session, actor, board_id)
    start = tehran_to_utc(first, time(0, 0))
    end = tehran_to_utc(last + timedelta(days=1), time(0, 0))
    hearings = list(
        await session.scalars(
            select(Hearing)
            .options(selectinload(Hearing.agenda), selectinload(Hearing.panel))
            .where(
                Hearing.board_id == board.id, Hearing.starts_at >= start, Hearing.starts_at < end
            )
            .order_by(Hearing.starts_at)
        )
    )
    return board, hearings


async def list_my_hearings(
    session: AsyncSession, *, actor: User, include_past: bool = False
) -> list[Hearing]:
    """Members: their own panels. Parties: hearings of their cases. Secretary/admin: all."""
    query = select(Hearing).options(selectinload(Hearing.agenda), selectinload(Hearing.panel))
    if actor.role is Role.MEMBER:
        query = query.where(
            Hearing.id.in_(select(PanelSeat.hearing_id).where(PanelSeat.member_id == actor.id))
        )
    elif actor.role is Role.PARTY:
        case_ids = await party_case_ids(session, actor.id)
        query = query.where(
            Hearing.id.in_(select(AgendaItem.hearing_id).where(AgendaItem.case_id.in_(case_ids)))
        )
    elif actor.role not in SCHEDULERS:
        return []
    if not include_past:
        query = query.where(Hearing.starts_at >= utcnow() - timedelta(hours=12))
    return list(await session.scalars(query.order_by(Hearing.starts_at).limit(200)))


async def accepted_cases(session: AsyncSession, board_id: int) -> list[Case]:
    return list(
        await session.scalars(
            select(Case)
            .where(Case.board_id == board_id, Case.status == CaseStatus.ACCEPTED)
            .order_by(Case.filed_at, Case.id)
            .limit(200)
        )
    )


async def boards_for(session: AsyncSession, user: User) -> list[Board]:
    if user.role in SCHEDULERS:
        return list(await session.scalars(select(Board).order_by(Board.id)))
    if user.role is Role.MEMBER:
        ids = await member_board_ids(session, user.id)
        return list(
            await session.scalars(select(Board).where(Board.id.in_(ids)).order_by(Board.id))
        )
    return []


def describe(value: Any, locale: str) -> str:
    """A value as it reads in ``locale`` (Jalali dates, Persian digits)."""
    return localize_value(value, locale)


# ---------------------------------------------------------------- one hearing, as a viewer sees it


@dataclass
class HearingDetails:
    hearing: Hearing
    board: Board
    access: HearingAccess
    agenda: list[tuple[AgendaItem, Case]]
    panel: list[tuple[PanelSeat, User]]
    forecast: Forecast | None
    summonses: list[Summons]
    my_seat: PanelSeat | None
    names: dict[int, str] = field(default_factory=dict)


async def hearing_details(session: AsyncSession, *, actor: User, hearing_id: int) -> HearingDetails:
    """The hearing as ``actor`` may see it: a party sees only their own cases on the agenda
    and their own summonses; the quorum forecast is for the board's side only."""
    hearing = await require_hearing(session, hearing_id)
    access = await check_can_view(session, actor, hearing)
    board = await require_board(session, hearing.board_id)
    agenda: list[tuple[AgendaItem, Case]] = []
    for item in hearing.agenda:
        if access.full or item.case_id in access.case_ids:
            case = await session.get(Case, item.case_id)
            if case is not None:
                agenda.append((item, case))
    panel: list[tuple[PanelSeat, User]] = []
    for seat in hearing.panel:
        member = await session.get(User, seat.member_id)
        if member is not None:
            panel.append((seat, member))
    order = {SeatGroup.GOVERNMENT: 0, SeatGroup.WORKER: 1, SeatGroup.EMPLOYER: 2}
    panel.sort(key=lambda pair: (not pair[0].is_chair, order[pair[0].group], pair[0].seat_id))
    summons_query = select(Summons).where(Summons.hearing_id == hearing.id).order_by(Summons.id)
    if not access.full:
        summons_query = summons_query.where(Summons.user_id == actor.id)
    summonses = list(await session.scalars(summons_query))
    forecast = (
        quorum_forecast(await rules_of(session, hearing), hearing.panel) if access.full else None
    )
    my_seat = next((s for s in hearing.panel if s.member_id == actor.id), None)
    names: dict[int, str] = {}
    for summons in summonses:
        if summons.user_id is not None and summons.user_id not in names:
            person = await session.get(User, summons.user_id)
            names[summons.user_id] = person.full_name if person else str(summons.user_id)
    return HearingDetails(
        hearing, board, access, agenda, panel, forecast, summonses, my_seat, names
    )


async def invitation_for(
    session: AsyncSession, *, actor: User, settings: Settings, hearing_id: int
) -> str:
    """The .ics a viewer can add to their calendar (cancelling when the hearing is off)."""
    details = await hearing_details(session, actor=actor, hearing_id=hearing_id)
    numbers = [case.number or str(case.id) for _item, case in details.agenda]
    attachment = _hearing_ics(
        settings,
        details.hearing,
        details.board,
        numbers,
        actor.locale,
        cancelled=details.hearing.status not in ACTIVE,
    )
    return str(attachment["content"])


@dataclass
class SeatOption:
    seat: Seat
    holders: list[User]


async def schedulable(
    session: AsyncSession, *, actor: User, board_id: int, day: date
) -> tuple[Board, BoardRules, list[Case], list[SeatOption]]:
    """What the scheduling form offers: accepted cases and each seat's holders on ``day``."""
    if actor.role not in SCHEDULERS:
        raise Forbidden("Only the board secretary or the administrator can do this.")
    board = await require_board(session, board_id)
    rules = (await latest_rules(session, board)).rules
    options: list[SeatOption] = []
    for seat in board.seats:
        holders = []
        for term in seat.terms:
            if term.covers(day):
                user = await session.get(User, term.member_id)
                if user is not None:
                    holders.append(user)
        options.append(SeatOption(seat, holders))
    return board, rules, await accepted_cases(session, board.id), options
