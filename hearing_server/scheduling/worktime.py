"""When a board sits: working days and hours, official holidays, and the Jalali dates
and Tehran clock times the secretary types.

Working time (defaults, configurable through ``Settings.scheduling_work_*``):

* ``scheduling_work_days``  — ``sat,sun,mon,tue,wed,thu`` (Friday is the weekly rest day);
* ``scheduling_work_start`` — ``07:30`` Tehran time;
* ``scheduling_work_end``   — ``14:30`` Tehran time (a session must end by then);
* official holidays: the public calendar (:mod:`hearing_server.law.holidays`, from the
  ``holidays`` package: Nowruz, the fixed solar days and the lunar ones, the latter
  estimated until confirmed) together with the office's own ``holidays`` table, whose rows
  confirm a day or add one (:func:`do_seed_solar_holidays` adds the fixed solar-calendar
  ones for a Jalali year; the admin adds others). :func:`days_off` answers both for a
  range, and the objection deadlines consult the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.audit.services import do_record
from hearing_server.config import Settings
from hearing_server.errors import Conflict, Invalid
from hearing_server.i18n import get_locale
from hearing_server.law.holidays import (
    DayOff,
    OfficeDay,
    day_off,
    jalali_year_bounds,
    official_holidays,
)
from hearing_server.scheduling import calendar as jcal
from hearing_server.scheduling.access import check_scheduler
from hearing_server.scheduling.models import Holiday
from hearing_server.text import normalize_digits, parse_typed_date
from rulings.persian import TEHRAN

# What a form's checks collect before refusing with ``ValidationErrors``:
# field → (msgid, params).
Problems = dict[str, tuple[str, dict[str, Any]]]

_DAY_CODES = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


@dataclass(frozen=True)
class WorkingHours:
    start: time = time(7, 30)
    end: time = time(14, 30)
    days: frozenset[int] = frozenset({5, 6, 0, 1, 2, 3})  # Saturday … Thursday

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkingHours:
        days = cls.days
        if settings.scheduling_work_days:
            days = frozenset(
                _DAY_CODES[code.strip().lower()[:3]]
                for code in settings.scheduling_work_days.split(",")
                if code.strip().lower()[:3] in _DAY_CODES
            )
        return cls(
            start=parse_clock(settings.scheduling_work_start),
            end=parse_clock(settings.scheduling_work_end),
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
    """Adds to ``problems`` when the session falls on a rest day or an official holiday,
    or outside the working hours (it must also end on the day it starts)."""
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
    off = (await days_off(session, day, day))(day)
    if off is not None:
        problems["date"] = (
            "{day} is an official holiday ({name}).",
            {"day": day, "name": off.name(get_locale())},
        )
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


async def do_add_holiday(
    session: AsyncSession, *, actor: User, day: date, name_fa: str, name_en: str
) -> Holiday:
    check_scheduler(actor)
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


async def office_days(session: AsyncSession, first: date, last: date) -> dict[date, OfficeDay]:
    """The office's own holiday table between ``first`` and ``last`` (inclusive)."""
    return {
        h.day: OfficeDay(h.name_fa, h.name_en) for h in await holidays_between(session, first, last)
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
        result.extend(off for d in sorted(days) if (off := lookup(d)) is not None)
    return result
