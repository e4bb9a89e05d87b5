"""When a board sits: working days and hours, official holidays, and the Jalali dates
and Tehran clock times the secretary types.

Working time (the administrator sets it on the calendar page, ``/admin/calendar``, kept in
the ``working_hours`` table; until then ``Settings.scheduling_work_*`` apply, defaults):

* ``scheduling_work_days``  — ``sat,sun,mon,tue,wed,thu`` (Friday is the weekly rest day);
* ``scheduling_work_start`` — ``07:30`` Tehran time;
* ``scheduling_work_end``   — ``14:30`` Tehran time (a session must end by then);
* official holidays: the public calendar (:mod:`hearing_server.law.holidays`, from the
  ``holidays`` package: Nowruz, the fixed solar days and the lunar ones, the latter
  estimated until confirmed) together with the office's own ``holidays`` table, whose rows
  confirm a day or add one (:func:`do_seed_solar_holidays` adds the fixed solar-calendar
  ones for a Jalali year; the admin adds others, confirms an estimated lunar day, or moves
  a public holiday to another date — the old date then a working day). :func:`days_off`
  answers both for a range, and the objection deadlines consult the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import Role, User
from hearing_server.audit.services import do_record
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import Conflict, Forbidden, Invalid, NotFound
from hearing_server.i18n import get_locale
from hearing_server.law.holidays import (
    DayOff,
    OfficeDay,
    day_off,
    jalali_year_bounds,
    official_holiday,
    official_holidays,
)
from hearing_server.scheduling import calendar as jcal
from hearing_server.scheduling.access import check_scheduler
from hearing_server.scheduling.models import Holiday, WorkingHoursRow
from hearing_server.text import normalize_digits, parse_typed_date
from rulings.persian import TEHRAN

# What a form's checks collect before refusing with ``ValidationErrors``:
# field → (msgid, params).
Problems = dict[str, tuple[str, dict[str, Any]]]

_DAY_CODES = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
# Saturday first, as the Iranian week runs.
DAY_CODES_IN_ORDER = ("sat", "sun", "mon", "tue", "wed", "thu", "fri")


@dataclass(frozen=True)
class WorkingHours:
    start: time = time(7, 30)
    end: time = time(14, 30)
    days: frozenset[int] = frozenset({5, 6, 0, 1, 2, 3})  # Saturday … Thursday

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkingHours:
        days = cls.days
        if settings.scheduling_work_days:
            days = parse_day_codes(settings.scheduling_work_days)
        return cls(
            start=parse_clock(settings.scheduling_work_start),
            end=parse_clock(settings.scheduling_work_end),
            days=days,
        )

    @property
    def day_codes(self) -> tuple[str, ...]:
        """The working days as codes, Saturday first (``"sat"``, …)."""
        return tuple(code for code in DAY_CODES_IN_ORDER if _DAY_CODES[code] in self.days)


def parse_day_codes(text: str) -> frozenset[int]:
    """``"sat,sun,mon"`` → the weekday numbers (``date.weekday()``); unknown codes ignored."""
    return frozenset(
        _DAY_CODES[code.strip().lower()[:3]]
        for code in text.split(",")
        if code.strip().lower()[:3] in _DAY_CODES
    )


async def working_hours(session: AsyncSession, settings: Settings) -> WorkingHours:
    """The working hours scheduling checks: the administrator's (the calendar page), else
    the settings' defaults."""
    row = await session.get(WorkingHoursRow, 1)
    if row is None:
        return WorkingHours.from_settings(settings)
    return WorkingHours(start=row.start, end=row.end, days=parse_day_codes(row.days))


async def do_set_working_hours(
    session: AsyncSession, *, actor: User, start: time, end: time, day_codes: list[str]
) -> WorkingHours:
    """Store the board's working hours (the administrator only); refuses an end not after
    the start and a week without a working day."""
    check_admin(actor)
    codes = [c for c in DAY_CODES_IN_ORDER if c in {d.strip().lower() for d in day_codes}]
    if end <= start:
        raise Invalid("The end of the working day must come after its start.", field="end")
    if not codes:
        raise Invalid("Choose at least one working day.", field="days")
    row = await session.get(WorkingHoursRow, 1)
    if row is None:
        row = WorkingHoursRow(id=1, start=start, end=end, days="")
        session.add(row)
    row.start, row.end, row.days = start, end, ",".join(codes)
    row.updated_at, row.updated_by = utcnow(), actor.id
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="working_hours.changed",
        subject_type="working_hours",
        subject_id="1",
        payload={"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"), "days": codes},
    )
    return WorkingHours(start=start, end=end, days=parse_day_codes(row.days))


def check_admin(actor: User) -> None:
    """``Forbidden`` unless ``actor`` is the administrator (the office calendar's owner)."""
    if actor.role is not Role.ADMIN:
        raise Forbidden("Only the administrator can change the office calendar.")


def parse_clock(text: str) -> time:
    """``"9:00"``, ``"۰۹:۳۰"`` → a time; ``Invalid`` otherwise."""
    match = re.fullmatch(r"\s*(\d{1,2})\s*[:٫.]\s*(\d{2})\s*", normalize_digits(text or ""))
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise Invalid("Enter the time as hours and minutes, e.g. 09:30.", field="time")
    return time(int(match.group(1)), int(match.group(2)))


def parse_jalali(text: str) -> date:
    """A Jalali date typed as ``1405/01/15`` or ``۱۴۰۵-۱-۱۵`` → its Gregorian date."""
    try:
        return parse_typed_date(text)
    except ValueError as exc:
        if str(exc) == "date_invalid":
            raise Invalid("This Jalali date does not exist.", field="date") from None
        raise Invalid(
            "Enter the date in the Jalali calendar, e.g. 1405/01/15.", field="date"
        ) from None


def tehran_to_utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=TEHRAN).astimezone(UTC)


async def check_working_time(
    session: AsyncSession,
    hours: WorkingHours,
    starts_at: datetime,
    duration_minutes: int,
    problems: Problems,
) -> None:
    """Adds to ``problems`` when the session falls on an official or office holiday (named,
    even on a Friday) or a rest day, or outside the working hours (it must also end on the
    day it starts)."""
    local = starts_at.astimezone(TEHRAN)
    end = local + timedelta(minutes=duration_minutes)
    day = local.date()
    off = (await days_off(session, day, day))(day)
    if off is not None and off.kind != "friday":
        problems["date"] = (
            "{day} is an official holiday ({name}).",
            {"day": day, "name": off.name(get_locale())},
        )
        return
    if day.weekday() not in hours.days:
        if day.weekday() == 4:
            problems["date"] = (
                "{day} is a Friday: the board does not sit on Fridays.",
                {"day": day},
            )
        else:
            problems["date"] = ("{day} is not a working day of the board.", {"day": day})
        return
    if local.time() < hours.start or end.date() != day or end.time() > hours.end:
        problems["time"] = (
            "Sessions are held between {start} and {end} Tehran time.",
            {"start": hours.start.strftime("%H:%M"), "end": hours.end.strftime("%H:%M")},
        )


# ---------------------------------------------------------------- official holidays

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


async def _insert_once(session: AsyncSession, holiday: Holiday) -> None:
    """Add ``holiday``; two admins adding the same date at once: the second gets 409."""
    try:
        async with session.begin_nested():
            session.add(holiday)
    except IntegrityError:
        raise Conflict("{day} is already in the office's calendar.", day=holiday.day) from None


async def do_add_holiday(
    session: AsyncSession, *, actor: User, day: date, name_fa: str, name_en: str
) -> Holiday:
    check_scheduler(actor)
    if not name_fa.strip() or not name_en.strip():
        raise Invalid("Enter the holiday's name in Persian and in English.", field="name")
    existing = await session.get(Holiday, day)
    if existing is not None and existing.working:
        raise Conflict("{day} is the old date of a moved holiday; undo the move first.", day=day)
    if existing is not None:
        raise Conflict("{day} is already an official holiday.", day=day)
    holiday = Holiday(day=day, name_fa=name_fa.strip()[:200], name_en=name_en.strip()[:200])
    await _insert_once(session, holiday)
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


async def office_days(session: AsyncSession, first: date, last: date) -> dict[date, OfficeDay]:
    """The office's own holiday table between ``first`` and ``last`` (inclusive)."""
    return {
        h.day: OfficeDay(h.name_fa, h.name_en, h.working)
        for h in await holidays_between(session, first, last)
    }


async def days_off(
    session: AsyncSession, first: date, last: date
) -> Callable[[date], DayOff | None]:
    """A look-up ``day → DayOff | None`` (Friday, the public calendar, the office's table)
    for days between ``first`` and ``last``; the office's rows are read once."""
    own = await office_days(session, first, last)

    def lookup(day: date) -> DayOff | None:
        return day_off(day, own)

    return lookup


async def holidays_of_years(session: AsyncSession, jalali_years: list[int]) -> list[DayOff]:
    """The official calendar (lunar days estimated until the office's table confirms them)
    and the office's own days, for whole Jalali years, in date order; Fridays not listed."""
    result: list[DayOff] = []
    for year in jalali_years:
        first, last = jalali_year_bounds(year)
        lookup = await days_off(session, first, last)
        days = {h.day for h in official_holidays(year)} | set(
            await office_days(session, first, last)
        )
        result.extend(
            off for d in sorted(days) if (off := lookup(d)) is not None and off.kind != "friday"
        )
    return result


# ---------------------------------------------------------------- the office's calendar

_SOLAR_DATES = frozenset((month, day) for month, day, _fa, _en in SOLAR_HOLIDAYS)


def is_lunar(day: date) -> bool:
    """Whether a public holiday on ``day`` is a lunar one (its date moves each year and is
    announced), i.e. not one of the fixed solar-calendar dates."""
    j = jcal.to_jalali(day)
    return (int(j.month), int(j.day)) not in _SOLAR_DATES


@dataclass(frozen=True)
class CalendarEntry:
    """One line of the calendar page. ``status``: ``official`` (the public calendar, as
    announced), ``estimated`` (a computed lunar date), ``confirmed`` (the administrator
    confirmed it), ``moved_away`` (its holiday moved to ``other``: a working day now),
    ``moved`` (a holiday moved here from ``other``) or ``local`` (the office's own)."""

    day: date
    name_fa: str
    name_en: str
    status: str
    lunar: bool = False
    other: date | None = None

    def name(self, locale: str) -> str:
        return self.name_fa if locale == "fa" else self.name_en

    @property
    def in_table(self) -> bool:
        """A row the administrator may remove (which undoes a move)."""
        return self.status in {"confirmed", "moved", "local"}


async def calendar_of_year(session: AsyncSession, jalali_year: int) -> list[CalendarEntry]:
    """The public holidays of a Jalali year and the office's rows, in date order."""
    first, last = jalali_year_bounds(jalali_year)
    rows = {h.day: h for h in await holidays_between(session, first, last)}
    moved_to = {h.moved_from: h.day for h in rows.values() if h.moved_from is not None}
    official = {h.day: h for h in official_holidays(jalali_year)}
    entries: list[CalendarEntry] = []
    for day in sorted(set(rows) | set(official)):
        row, public = rows.get(day), official.get(day)
        lunar = public is not None and is_lunar(day)
        if row is not None and row.working:
            entries.append(
                CalendarEntry(day, row.name_fa, row.name_en, "moved_away", lunar, moved_to.get(day))
            )
        elif row is not None and row.moved_from is not None:
            entries.append(
                CalendarEntry(day, row.name_fa, row.name_en, "moved", lunar, row.moved_from)
            )
        elif row is not None:
            status = "confirmed" if public is not None else "local"
            entries.append(CalendarEntry(day, row.name_fa, row.name_en, status, lunar))
        elif public is not None:
            status = "estimated" if public.estimated else "official"
            entries.append(CalendarEntry(day, public.name_fa, public.name_en, status, lunar))
    return entries


async def do_confirm_holiday(session: AsyncSession, *, actor: User, day: date) -> Holiday:
    """The administrator confirms the public calendar's (estimated) holiday on ``day``."""
    check_admin(actor)
    public = official_holiday(day)
    if public is None:
        raise Invalid("{day} is not a holiday in the public calendar.", field="date", day=day)
    if await session.get(Holiday, day) is not None:
        raise Conflict("{day} is already in the office's calendar.", day=day)
    holiday = Holiday(day=day, name_fa=public.name_fa[:200], name_en=public.name_en[:200])
    await _insert_once(session, holiday)
    await do_record(
        session,
        actor_id=actor.id,
        action="holiday.confirmed",
        subject_type="holiday",
        subject_id=day.isoformat(),
        payload={"name_en": holiday.name_en, "estimated": public.estimated},
    )
    return holiday


async def do_move_holiday(session: AsyncSession, *, actor: User, day: date, to: date) -> Holiday:
    """The announced date of a public holiday differs from the calendar's: the holiday is
    held on ``to`` and ``day`` becomes a working day."""
    check_admin(actor)
    public = official_holiday(day)
    if public is None:
        raise Invalid("{day} is not a holiday in the public calendar.", field="date", day=day)
    if to == day:
        raise Invalid("Enter a date other than the holiday's own.", field="to")
    existing = await session.get(Holiday, day)
    if existing is not None and (existing.working or existing.moved_from is not None):
        raise Conflict("{day} is already in the office's calendar.", day=day)
    if await session.get(Holiday, to) is not None or official_holiday(to) is not None:
        raise Conflict("{day} is already a holiday.", day=to)
    name_fa, name_en = public.name_fa[:200], public.name_en[:200]
    if existing is None:
        session.add(Holiday(day=day, name_fa=name_fa, name_en=name_en, working=True))
    else:
        existing.working = True
    holiday = Holiday(day=to, name_fa=name_fa, name_en=name_en, moved_from=day)
    session.add(holiday)
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="holiday.moved",
        subject_type="holiday",
        subject_id=day.isoformat(),
        payload={"name_en": name_en, "from": day.isoformat(), "to": to.isoformat()},
    )
    return holiday


async def do_remove_holiday(session: AsyncSession, *, actor: User, day: date) -> None:
    """Remove the office's row on ``day``: a local holiday goes, a confirmation is
    withdrawn, a move is undone (both its rows go)."""
    check_admin(actor)
    row = await session.get(Holiday, day)
    if row is None or row.working:
        raise NotFound("{day} is not in the office's calendar.", day=day)
    removed = [row]
    if row.moved_from is not None:
        old = await session.get(Holiday, row.moved_from)
        if old is not None and old.working:
            removed.append(old)
    for each in removed:
        await session.delete(each)
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="holiday.removed",
        subject_type="holiday",
        subject_id=day.isoformat(),
        payload={
            "name_en": row.name_en,
            "moved_from": row.moved_from.isoformat() if row.moved_from else None,
        },
    )
