"""The objection window as a table: each party's notification date (Jalali) → the last day
to object (Jalali) and the instant the window closes; finality when the last one closes.

The expected days are worked out by hand from the rule (the day of notification not
counted, 15 calendar days, a last day that is a Friday or an official holiday moving to
the next working day) and the official calendar of 1405/1406."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from persiantools.jdatetime import JalaliDate

from hearing_server.law.deadlines import finality_instant, objection_window
from hearing_server.law.holidays import (
    OfficeDay,
    day_off,
    jalali_year_bounds,
    official_holiday,
    official_holidays,
)


def jalali(y: int, m: int, d: int) -> date:
    result: date = JalaliDate(y, m, d).to_gregorian()
    return result


def as_jalali(day: date) -> str:
    return str(JalaliDate(day).strftime("%Y/%m/%d"))


@pytest.mark.parametrize(
    ("notified", "last_day", "closes_utc", "skipped"),
    [
        # A Monday: 15 days later is Tuesday 1405/10/01, a working day.
        ("1405/09/16", "1405/10/01", datetime(2026, 12, 22, 20, 30, tzinfo=UTC), 0),
        # Thursday: the 15th day is Friday 1405/10/04 → Saturday.
        ("1405/09/19", "1405/10/05", datetime(2026, 12, 26, 20, 30, tzinfo=UTC), 1),
        # The day before Nowruz (29 Esfand, itself a holiday; 1405 is not leap): the 15th
        # day is 1406/01/15, a Sunday; the Nowruz days inside the window do not extend it.
        ("1405/12/29", "1406/01/15", datetime(2027, 4, 4, 20, 30, tzinfo=UTC), 0),
        # The 15th day is 1406/01/03 (Nowruz), then 01/04 (Nowruz) → Thursday 01/05.
        ("1405/12/17", "1406/01/05", datetime(2027, 3, 25, 20, 30, tzinfo=UTC), 2),
        # The 15th day is 1406/01/12 (Islamic Republic Day), 01/13 Nature Day and a Friday,
        # 01/14 the martyrdom of Imam Sadiq (lunar, estimated) → Sunday 01/15.
        ("1405/12/26", "1406/01/15", datetime(2027, 4, 4, 20, 30, tzinfo=UTC), 3),
        # The day before a lunar holiday (Tasua 1405/04/03): the holidays inside the window
        # change nothing, the 15th day 1405/04/17 is a Wednesday.
        ("1405/04/02", "1405/04/17", datetime(2026, 7, 8, 20, 30, tzinfo=UTC), 0),
        # The 15th day is Tasua (lunar), then Ashura, then a Friday → Saturday 1405/04/06.
        ("1405/03/19", "1405/04/06", datetime(2026, 6, 27, 20, 30, tzinfo=UTC), 3),
    ],
)
def test_last_day_to_object(
    notified: str, last_day: str, closes_utc: datetime, skipped: int
) -> None:
    y, m, d = (int(x) for x in notified.split("/"))
    window = objection_window(jalali(y, m, d), 15, day_off)
    assert as_jalali(window.last_day) == last_day
    # Midnight in Tehran after the last day (UTC+3:30 all year: no DST since 2022).
    assert window.closes_at == closes_utc
    assert len(window.skipped) == skipped
    assert window.is_open(closes_utc - timedelta(seconds=1))
    assert not window.is_open(closes_utc)


def test_office_table_adds_days_and_confirms_estimated_ones() -> None:
    # 1405/09/16 + 15 = 1405/10/01; the office closed that day, and 10/02 is the birth of
    # Imam Ali (official) → 10/03.
    closure = {jalali(1405, 10, 1): OfficeDay("تعطیلی اداره", "Office closed")}
    assert day_off(jalali(1405, 10, 1)) is None
    window = objection_window(jalali(1405, 9, 16), 15, lambda d: day_off(d, closure))
    assert as_jalali(window.last_day) == "1405/10/03"
    assert [s.kind for s in window.skipped] == ["office", "official"]
    sadiq = jalali(1406, 1, 14)
    estimated = day_off(sadiq)
    assert estimated is not None and estimated.estimated and estimated.kind == "official"
    confirmed = day_off(sadiq, {sadiq: OfficeDay("شهادت امام جعفر صادق", "Imam Sadiq")})
    assert confirmed is not None and not confirmed.estimated


def test_official_calendar_of_a_jalali_year() -> None:
    first, last = jalali_year_bounds(1405)
    assert (first, last) == (date(2026, 3, 21), date(2027, 3, 20))
    days = official_holidays(1405)
    assert all(first <= h.day <= last for h in days)
    nowruz = [h for h in days if h.day <= jalali(1405, 1, 4) and h.day >= first]
    assert len(nowruz) == 4 and all(not h.estimated for h in nowruz)
    assert any(h.day == jalali(1405, 11, 22) for h in days)  # Revolution Day
    assert official_holiday(jalali(1405, 9, 16)) is None
    friday = day_off(jalali(1405, 9, 20))
    assert friday is not None and friday.kind == "friday"
    assert day_off(jalali(1405, 9, 16)) is None
    tasua = official_holiday(jalali(1405, 4, 3))
    assert tasua is not None and "تاسوعا" in tasua.name_fa


def test_finality_is_the_instant_the_last_window_closes() -> None:
    worker = objection_window(jalali(1405, 9, 16), 15, day_off)
    employer = objection_window(jalali(1405, 9, 19), 15, day_off)
    assert finality_instant([worker, employer]) == employer.closes_at
    assert finality_instant([employer, worker]) == employer.closes_at
    assert finality_instant([worker, None]) is None  # a party never notified: no clock
    assert finality_instant([]) is None
