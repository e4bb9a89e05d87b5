"""The office calendar out of the box and on its admin page (/admin/calendar).

On a fresh install (no row typed) the public calendar — Nowruz, the fixed solar days and
the lunar ones of the next Jalali year — refuses hearings by name; the administrator's
changes on the page (a moved lunar holiday, a local holiday, the working hours), posted
as real forms with their CSRF token, are what scheduling and the objection deadlines use.
The clock is Sunday 1404/12/10 (tests/scheduling/conftest.py): the next year is 1405.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlencode

import holidays as holidays_lib
from persiantools.jdatetime import JalaliDate
from sqlalchemy import select

from hearing_server.audit.models import AuditEvent
from hearing_server.i18n import digits
from hearing_server.law.deadlines import objection_window
from hearing_server.scheduling.models import Holiday, WorkingHoursRow
from hearing_server.scheduling.worktime import days_off
from tests.conftest import OtpSource, Person, api_login
from tests.scheduling.conftest import new_case, plan

NEXT_YEAR = 1405
FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # a form with repeated fields
# The public holidays on fixed solar dates (Jalali month, day); every other is lunar.
SOLAR = {(1, 1), (1, 2), (1, 3), (1, 4), (1, 12), (1, 13), (3, 14), (3, 15), (11, 22), (12, 29)}


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _jalali(day: date) -> str:
    j = JalaliDate(day)
    return f"{j.year:04d}/{j.month:02d}/{j.day:02d}"


def _gregorian(year: int, month: int, day: int) -> date:
    result: date = JalaliDate(year, month, day).to_gregorian()
    return result


def _public_calendar(jalali_year: int) -> dict[date, list[str]]:
    """Straight from the holidays package: the days of the Jalali year, Persian names."""
    first, last = _gregorian(jalali_year, 1, 1), _gregorian(jalali_year + 1, 1, 1)
    calendar = holidays_lib.country_holidays(
        "IR", language="fa_IR", years=(first.year, last.year), islamic_show_estimated=False
    )
    return {d: calendar.get_list(d) for d in calendar if first <= d < last}


async def _try(client: Any, db: Any, headers: dict[str, str], day: str, **kw: Any) -> Any:
    case_id = await new_case(db)
    return await client.post(
        "/api/v1/hearings", json=await plan(db, cases=[case_id], date=day, **kw), headers=headers
    )


async def _admin(quart_app: Any, people: dict[str, Person], otp: OtpSource) -> tuple[Any, str]:
    admin = quart_app.test_client()
    await api_login(admin, people["admin"], otp)
    page = await admin.get("/admin/calendar")
    assert page.status_code == 200
    return admin, await page.get_data(as_text=True)


async def _actions(db: Any, action: str) -> list[AuditEvent]:
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def test_a_fresh_install_refuses_nowruz_the_solar_days_and_next_years_lunar_holidays(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    headers = {"X-CSRF-Token": await api_login(client, people["secretary"], otp)}
    public = _public_calendar(NEXT_YEAR)
    fixed = [_gregorian(NEXT_YEAR, m, d) for m, d in ((1, 1), (1, 13), (3, 14), (3, 15))]
    lunar = [d for d in public if (JalaliDate(d).month, JalaliDate(d).day) not in SOLAR]
    assert len(lunar) >= 12  # Eid al-Fitr, Adha, Ghadir, Tasua, Ashura, Arbaeen …
    assert any(d.weekday() == 4 for d in fixed + lunar)  # 15 Khordad 1405 is a Friday
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(Holiday).limit(1)) is None  # nothing typed
    for day in sorted(set(fixed + lunar)):
        response = await _try(client, db, headers, _jalali(day))
        error = (await response.get_json())["error"]
        assert response.status_code == 422, (day, error)
        assert set(error["fields"]) == {"date"}, (day, error)
        for name in public[day]:  # named, Fridays too
            assert digits(name, "fa") in error["fields"]["date"], (day, name, error)


async def test_the_admin_moves_a_lunar_holiday_on_the_page_and_scheduling_and_deadlines_follow(
    quart_app: Any, client: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    headers = {"X-CSRF-Token": await api_login(client, people["secretary"], otp)}
    old, new = _gregorian(NEXT_YEAR, 12, 10), _gregorian(NEXT_YEAR, 12, 11)  # Mon, Tue
    name = "شهادت حضرت علی"
    admin, html = await _admin(quart_app, people, otp)
    assert f'data-date="{old.isoformat()}" data-status="estimated"' in html
    async with db.transaction(write=False) as session:
        lookup = await days_off(session, _gregorian(NEXT_YEAR, 12, 1), new)
    notified = _gregorian(NEXT_YEAR, 12, 1)
    assert objection_window(notified, 9, lookup).last_day == new  # past the holiday
    assert objection_window(notified, 10, lookup).last_day == new

    # An unparseable date is refused on the page; nothing changes.
    bad = await admin.post(
        "/admin/calendar/move",
        form={"csrf_token": _csrf(html), "day": old.isoformat(), "to": "1405/13/40"},
    )
    assert bad.status_code == 422
    assert "این تاریخ شمسی وجود ندارد" in await bad.get_data(as_text=True)
    # The announced date: 1405/12/11 (typed in Persian digits).
    moved = await admin.post(
        "/admin/calendar/move",
        form={"csrf_token": _csrf(html), "day": old.isoformat(), "to": "۱۴۰۵/۱۲/۱۱"},
    )
    assert moved.status_code == 302, await moved.get_data(as_text=True)
    page = await (await admin.get("/admin/calendar")).get_data(as_text=True)
    assert f'data-date="{old.isoformat()}" data-status="moved_away"' in page
    assert f'data-date="{new.isoformat()}" data-status="moved"' in page
    [event] = await _actions(db, "holiday.moved")
    assert event.payload["to"] == new.isoformat()

    refused = await _try(client, db, headers, _jalali(new))
    assert refused.status_code == 422
    assert name in (await refused.get_json())["error"]["fields"]["date"]
    accepted = await _try(client, db, headers, _jalali(old))
    assert accepted.status_code == 201, await accepted.get_json()
    async with db.transaction(write=False) as session:
        lookup = await days_off(session, notified, _gregorian(NEXT_YEAR, 12, 20))
    assert objection_window(notified, 9, lookup).last_day == old  # a working day now
    assert objection_window(notified, 10, lookup).last_day == _gregorian(NEXT_YEAR, 12, 12)
    listed = {
        h["jalali_date"]: h
        for h in (await (await client.get("/api/v1/holidays")).get_json())["holidays"]
    }
    assert "1405/12/11" in listed and "1405/12/10" not in listed

    # Confirming an estimated one drops its badge.
    eid = _gregorian(NEXT_YEAR, 12, 19)
    confirmed = await admin.post(
        "/admin/calendar/confirm", form={"csrf_token": _csrf(page), "day": eid.isoformat()}
    )
    assert confirmed.status_code == 302
    page = await (await admin.get("/admin/calendar")).get_data(as_text=True)
    assert f'data-date="{eid.isoformat()}" data-status="confirmed"' in page
    assert len(await _actions(db, "holiday.confirmed")) == 1
    # Undoing the move restores the public calendar's date.
    undone = await admin.post(
        "/admin/calendar/remove", form={"csrf_token": _csrf(page), "day": new.isoformat()}
    )
    assert undone.status_code == 302
    async with db.transaction(write=False) as session:
        assert await session.get(Holiday, old) is None and await session.get(Holiday, new) is None


async def test_local_holidays_are_added_and_removed_on_the_page(
    quart_app: Any, client: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    headers = {"X-CSRF-Token": await api_login(client, people["secretary"], otp)}
    # Only the administrator opens the page.
    assert (await client.get("/admin/calendar")).status_code == 403
    admin, html = await _admin(quart_app, people, otp)
    day = _gregorian(NEXT_YEAR, 2, 7)  # a Monday, no public holiday
    for typed, message in (
        ("hello", "تاریخ را به تقویم شمسی وارد کنید"),
        ("1405/02/31", ""),  # Ordibehesht has 31 days: this one exists — reason missing
    ):
        bad = await admin.post(
            "/admin/calendar/holidays",
            form={"csrf_token": _csrf(html), "date": typed, "reason": "" if message == "" else "x"},
        )
        assert bad.status_code == 422
        assert (message or "دلیل تعطیلی را بنویسید") in await bad.get_data(as_text=True)
    added = await admin.post(
        "/admin/calendar/holidays",
        form={"csrf_token": _csrf(html), "date": "۱۴۰۵/۰۲/۰۷", "reason": "تعطیلی استانی"},
    )
    assert added.status_code == 302, await added.get_data(as_text=True)
    again = await admin.post(
        "/admin/calendar/holidays",
        form={"csrf_token": _csrf(html), "date": "1405/02/07", "reason": "دوباره"},
    )
    assert again.status_code == 409
    refused = await _try(client, db, headers, "1405/02/07")
    assert refused.status_code == 422
    assert "تعطیلی استانی" in (await refused.get_json())["error"]["fields"]["date"]
    [event] = await _actions(db, "holiday.added")
    assert event.subject_id == day.isoformat()

    removed = await admin.post(
        "/admin/calendar/remove", form={"csrf_token": _csrf(html), "day": day.isoformat()}
    )
    assert removed.status_code == 302
    assert len(await _actions(db, "holiday.removed")) == 1
    accepted = await _try(client, db, headers, "1405/02/07")
    assert accepted.status_code == 201, await accepted.get_json()
    # In English: English names, the badge, and a refusal in English.
    switched = await admin.post("/language", form={"csrf_token": _csrf(html), "locale": "en"})
    assert switched.status_code == 302
    english = await (await admin.get("/admin/calendar")).get_data(as_text=True)
    assert "Martyrdom of Imam Ali" in english and "Estimated" in english
    assert "Add a local holiday" in english and "شهادت" not in english
    bad = await admin.post(
        "/admin/calendar/holidays",
        form={"csrf_token": _csrf(english), "date": "1405/14/01", "reason": "x"},
    )
    assert bad.status_code == 422
    assert "This Jalali date does not exist." in await bad.get_data(as_text=True)
    # Without the CSRF token the form is refused.
    forged = await admin.post(
        "/admin/calendar/holidays", form={"date": "1405/02/08", "reason": "x"}
    )
    assert forged.status_code in (400, 403)


async def test_working_hours_set_on_the_page_are_what_scheduling_uses(
    quart_app: Any, client: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    headers = {"X-CSRF-Token": await api_login(client, people["secretary"], otp)}
    # The defaults (settings): 07:30–14:30, Saturday to Thursday.
    before = await _try(client, db, headers, "1404/12/25", time="12:30")
    assert before.status_code == 201, await before.get_json()
    admin, html = await _admin(quart_app, people, otp)
    week = ["sat", "sun", "mon", "tue", "wed"]
    backwards = await admin.post(
        "/admin/calendar/hours",
        data=urlencode(
            [("csrf_token", _csrf(html)), ("start", "12:00"), ("end", "08:00")]
            + [("days", d) for d in week]
        ),
        headers=FORM,
    )
    assert backwards.status_code == 422
    assert "پایان ساعت کاری باید بعد از آغاز آن باشد" in await backwards.get_data(as_text=True)
    async with db.transaction(write=False) as session:
        assert await session.get(WorkingHoursRow, 1) is None
    saved = await admin.post(
        "/admin/calendar/hours",
        data=urlencode(
            [("csrf_token", _csrf(html)), ("start", "۰۸:۰۰"), ("end", "12:00")]
            + [("days", d) for d in week]
        ),
        headers=FORM,
    )
    assert saved.status_code == 302, await saved.get_data(as_text=True)
    assert len(await _actions(db, "working_hours.changed")) == 1

    late = await _try(client, db, headers, "1404/12/24", time="12:30")
    assert late.status_code == 422
    assert set((await late.get_json())["error"]["fields"]) == {"time"}
    early = await _try(client, db, headers, "1404/12/24", time="07:45")
    assert early.status_code == 422
    thursday = await _try(client, db, headers, "1404/12/28", time="09:00")
    assert thursday.status_code == 422
    assert set((await thursday.get_json())["error"]["fields"]) == {"date"}
    fits = await _try(client, db, headers, "1404/12/24", time="08:00", minutes=60)
    assert fits.status_code == 201, await fits.get_json()
    page = await (await admin.get("/admin/calendar")).get_data(as_text=True)
    assert 'value="thu"' in page and 'value="thu" checked' not in page
