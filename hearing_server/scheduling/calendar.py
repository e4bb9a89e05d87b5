"""Jalali week and month grids (Saturday first), pure: no database, no web.

A grid is a list of days (Gregorian ``date`` for storage and lookups, Jalali parts for
display). Hearings are placed by their Tehran local date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from persiantools.jdatetime import JalaliDate

from rulings.persian import TEHRAN

# Python's weekday(): Monday=0 … Saturday=5; the Iranian week starts on Saturday.
SATURDAY = 5
WEEKDAY_NAMES_EN = ("Saturday", "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
MONTH_NAMES_EN = (
    "Farvardin",
    "Ordibehesht",
    "Khordad",
    "Tir",
    "Mordad",
    "Shahrivar",
    "Mehr",
    "Aban",
    "Azar",
    "Dey",
    "Bahman",
    "Esfand",
)


def to_jalali(day: date) -> JalaliDate:
    return JalaliDate(day)  # type: ignore[no-untyped-call]  # persiantools is untyped


def from_jalali(year: int, month: int, day: int) -> date:
    """The Gregorian date of a Jalali date; ``ValueError`` when it does not exist."""
    gregorian: date = JalaliDate(year, month, day).to_gregorian()  # type: ignore[no-untyped-call]  # untyped
    return gregorian


def week_start(day: date) -> date:
    """The Saturday on or before ``day``."""
    return day - timedelta(days=(day.weekday() - SATURDAY) % 7)


def local_date(moment: datetime) -> date:
    return moment.astimezone(TEHRAN).date()


@dataclass
class Day:
    day: date
    in_month: bool = True
    is_friday: bool = False
    holiday: str | None = None
    items: list[Any] = field(default_factory=list)

    @property
    def jalali(self) -> JalaliDate:
        return to_jalali(self.day)

    @property
    def weekday_index(self) -> int:
        """0 for Saturday … 6 for Friday."""
        return (self.day.weekday() - SATURDAY) % 7

    @property
    def iso(self) -> str:
        return self.day.isoformat()


def week_days(start: date) -> list[Day]:
    first = week_start(start)
    return [_day(first + timedelta(days=i)) for i in range(7)]


def month_weeks(year: int, month: int) -> list[list[Day]]:
    """The weeks (Saturday first) covering Jalali ``year``/``month``; days outside it marked."""
    first = from_jalali(year, month, 1)
    length = int(JalaliDate.days_in_month(month, year))
    last = first + timedelta(days=length - 1)
    cursor = week_start(first)
    weeks: list[list[Day]] = []
    while cursor <= last:
        week = []
        for i in range(7):
            d = cursor + timedelta(days=i)
            cell = _day(d)
            cell.in_month = first <= d <= last
            week.append(cell)
        weeks.append(week)
        cursor += timedelta(days=7)
    return weeks


def _day(d: date) -> Day:
    return Day(day=d, is_friday=d.weekday() == 4)


def place(days: Iterable[Day], items: Iterable[Any], *, when: str = "starts_at") -> None:
    """Put each item (with an aware ``when`` attribute) on its Tehran local day."""
    by_day = {d.day: d for d in days}
    for item in items:
        cell = by_day.get(local_date(getattr(item, when)))
        if cell is not None:
            cell.items.append(item)


def mark_holidays(days: Iterable[Day], holidays: dict[date, str]) -> None:
    for d in days:
        d.holiday = holidays.get(d.day)


def month_of(day: date) -> tuple[int, int]:
    j = to_jalali(day)
    return int(j.year), int(j.month)


def shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1
