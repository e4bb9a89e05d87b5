"""Iran's days off, as the law counts them: the weekly rest day (Friday), the official
public holidays and the labour office's own table of holidays.

Pure: no database. The official holidays come from the ``holidays`` package (country
``IR``): Nowruz, the fixed solar holidays and the lunar ones, whose dates the package
computes and marks as *estimated* until they are announced. An estimated holiday counts as
a day off (the best knowledge there is) and says so; the office's own table — the days an
administrator entered (:class:`hearing_server.scheduling.models.Holiday`) — confirms a day
and adds days the package does not know (an ad-hoc closure). Callers pass the office's rows
in; :func:`day_off` answers for one date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays as holidays_lib
from persiantools.jdatetime import JalaliDate

__all__ = [
    "FRIDAY",
    "DayOff",
    "OfficeDay",
    "day_off",
    "jalali_year_bounds",
    "official_holiday",
    "official_holidays",
]

FRIDAY = 4  # date.weekday(): the weekly rest day in Iran


@dataclass(frozen=True)
class OfficeDay:
    """One row of the office's own holiday table; ``working``: the row makes a public
    holiday's date a working day (the holiday moved to another date)."""

    name_fa: str
    name_en: str
    working: bool = False


@dataclass(frozen=True)
class DayOff:
    """Why ``day`` is not a working day. ``kind``: ``"friday"``, ``"official"`` (the public
    calendar) or ``"office"`` (only in the office's table); ``estimated``: a lunar holiday
    whose date is computed, not yet confirmed by the office's table."""

    day: date
    kind: str
    name_fa: str
    name_en: str
    estimated: bool = False

    def name(self, locale: str) -> str:
        return self.name_fa if locale == "fa" else self.name_en


@lru_cache(maxsize=16)
def _year(year: int) -> dict[date, tuple[str, str, bool]]:
    """The official holidays of a Gregorian year: day → (Persian, English, estimated)."""
    plain_fa = holidays_lib.country_holidays(
        "IR", language="fa_IR", years=year, islamic_show_estimated=False
    )
    plain_en = holidays_lib.country_holidays(
        "IR", language="en_US", years=year, islamic_show_estimated=False
    )
    labelled = holidays_lib.country_holidays("IR", language="en_US", years=year)
    result: dict[date, tuple[str, str, bool]] = {}
    for day in plain_fa:
        names_fa = plain_fa.get_list(day)
        names_en = plain_en.get_list(day)
        estimated = labelled.get_list(day) != names_en
        result[day] = ("؛ ".join(names_fa), "; ".join(names_en), estimated)
    return result


def official_holiday(day: date) -> DayOff | None:
    """The official public holiday on ``day`` per the public calendar, or None."""
    found = _year(day.year).get(day)
    if found is None:
        return None
    name_fa, name_en, estimated = found
    return DayOff(day, "official", name_fa, name_en, estimated)


def day_off(day: date, office: Mapping[date, OfficeDay] | None = None) -> DayOff | None:
    """Why ``day`` is a day off (Friday, an official holiday, the office's table), or None
    for a working day. A day in the office's table is confirmed (never estimated); a row
    marked ``working`` cancels the public holiday of its date (Friday stays Friday)."""
    own = (office or {}).get(day)
    official = official_holiday(day)
    if own is not None and own.working:
        return DayOff(day, "friday", "جمعه", "Friday") if day.weekday() == FRIDAY else None
    if own is not None:
        kind = "official" if official is not None else "office"
        return DayOff(day, kind, own.name_fa, own.name_en, estimated=False)
    if official is not None:
        return official
    if day.weekday() == FRIDAY:
        return DayOff(day, "friday", "جمعه", "Friday")
    return None


def jalali_year_bounds(jalali_year: int) -> tuple[date, date]:
    """The Gregorian first and last day of a Jalali year."""
    first: date = JalaliDate(jalali_year, 1, 1).to_gregorian()  # type: ignore[no-untyped-call]  # persiantools is untyped
    following: date = JalaliDate(jalali_year + 1, 1, 1).to_gregorian()  # type: ignore[no-untyped-call]  # persiantools is untyped
    return first, following - timedelta(days=1)


def official_holidays(jalali_year: int) -> list[DayOff]:
    """The official holidays of a Jalali year (Fridays not listed), in date order."""
    first, last = jalali_year_bounds(jalali_year)
    days = sorted(d for y in {first.year, last.year} for d in _year(y) if first <= d <= last)
    return [h for d in days if (h := official_holiday(d)) is not None]
