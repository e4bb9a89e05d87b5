"""Objection windows and finality (DESIGN.md §3), pure functions.

Each party's window runs from that party's own notification (ابلاغ): the day of
notification is not counted, the window is ``days`` calendar days, and a last day that is
a Friday or an official holiday moves to the next working day (Civil Procedure Code
arts. 443 and 445, which the labour boards apply where their own rules are silent). The
window closes at the end of its last day in Tehran. A ruling is final when every party's
window has closed without objection, at the instant the last one closed; a party never
notified has no running clock, so the ruling cannot become final.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from hearing_server.law.holidays import DayOff
from rulings.persian import TEHRAN

__all__ = ["ObjectionWindow", "finality_instant", "objection_window", "tehran_day"]

DayOffLookup = Callable[[date], DayOff | None]


@dataclass(frozen=True)
class ObjectionWindow:
    notified_on: date  # the Tehran date of notification (not counted)
    last_day: date  # the last day to object, after moving past days off
    closes_at: datetime  # UTC: the end of ``last_day`` in Tehran
    skipped: tuple[DayOff, ...] = ()  # the days off the last day moved past

    def is_open(self, now: datetime) -> bool:
        return now < self.closes_at


def tehran_day(moment: datetime) -> date:
    """The Tehran calendar date of an aware instant."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(TEHRAN).date()


def end_of_day(day: date) -> datetime:
    """The UTC instant at which Tehran's ``day`` ends (the next midnight)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=TEHRAN).astimezone(UTC)


def objection_window(notified_on: date, days: int, lookup: DayOffLookup) -> ObjectionWindow:
    """The window of a party notified on ``notified_on`` (a Tehran date).

    ``lookup(day)`` says why a day is off (Friday, official or office holiday) or None.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    last = notified_on + timedelta(days=days)
    skipped: list[DayOff] = []
    while (off := lookup(last)) is not None:
        skipped.append(off)
        last += timedelta(days=1)
        if len(skipped) > 60:  # a calendar with no working day cannot be meant
            raise ValueError("no working day within 60 days")
    return ObjectionWindow(notified_on, last, end_of_day(last), tuple(skipped))


def finality_instant(windows: Iterable[ObjectionWindow | None]) -> datetime | None:
    """When a ruling without objection becomes final: the instant the last party's window
    closes; None while any party is not notified (or there is no party)."""
    closes: list[datetime] = []
    for window in windows:
        if window is None:
            return None
        closes.append(window.closes_at)
    return max(closes) if closes else None
