"""Board calendars: Jalali week and month grids (Saturday first), the JSON calendar, and
the week page rendered in Chromium in Persian (RTL) and English."""

from __future__ import annotations

from datetime import date
from typing import Any

from hearing_server.law.rules import BoardType
from hearing_server.scheduling import calendar as jcal
from hearing_server.scheduling.worktime import parse_jalali
from tests.conftest import ARTIFACTS, LiveServer, OtpSource, Person, api_login, browser_login
from tests.scheduling.conftest import board_id, new_case, plan


def test_weeks_start_on_saturday_and_months_follow_the_jalali_calendar() -> None:
    week = jcal.week_days(date(2026, 3, 17))  # a Tuesday
    assert [d.day for d in (week[0], week[-1])] == [date(2026, 3, 14), date(2026, 3, 20)]
    assert week[0].day.weekday() == 5 and week[-1].is_friday
    weeks = jcal.month_weeks(1405, 1)  # Farvardin 1405 begins on Saturday 2026-03-21
    assert weeks[0][0].day == date(2026, 3, 21) and weeks[0][0].in_month
    inside = [d for w in weeks for d in w if d.in_month]
    assert len(inside) == 31 and inside[-1].day == date(2026, 4, 20)
    esfand = jcal.month_weeks(1404, 12)  # 29 days; 1404/12/01 is a Friday
    first = next(d for d in esfand[0] if d.in_month)
    assert first.day == date(2026, 2, 20) and first.weekday_index == 6
    assert not esfand[0][0].in_month
    assert parse_jalali("۱۴۰۵-۱-۵") == date(2026, 3, 25)
    assert jcal.shift_month(1404, 12, 1) == (1405, 1) and jcal.shift_month(1405, 1, -1) == (
        1404,
        12,
    )


async def _schedule_tuesday(client: Any, db: Any, people: dict[str, Person], otp: OtpSource) -> int:
    headers = {"X-CSRF-Token": await api_login(client, people["secretary"], otp)}
    case_id = await new_case(db)
    created = await client.post(
        "/api/v1/hearings", json=await plan(db, cases=[case_id], date="1404/12/26"), headers=headers
    )
    assert created.status_code == 201, await created.get_json()
    return int((await created.get_json())["id"])


async def test_the_board_calendar_api_puts_the_hearing_on_its_day(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    hearing_id = await _schedule_tuesday(client, db, people, otp)
    board = await board_id(db, BoardType.DIAGNOSIS)
    week = await (
        await client.get(f"/api/v1/boards/{board}/calendar?view=week&date=1404/12/26")
    ).get_json()
    assert [d["weekday"] for d in week["days"]] == [
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
    ]
    assert week["days"][0]["jalali_date"] == "1404/12/23"
    on_day = {d["date"]: [h["id"] for h in d["hearings"]] for d in week["days"]}
    assert hearing_id in on_day["2026-03-17"]
    assert all(hearing_id not in ids for day, ids in on_day.items() if day != "2026-03-17")
    month = await (
        await client.get(f"/api/v1/boards/{board}/calendar?view=month&date=1404/12/26")
    ).get_json()
    assert len(month["days"]) % 7 == 0 and month["days"][0]["weekday"] == "Saturday"
    assert any(hearing_id in [h["id"] for h in d["hearings"]] for d in month["days"])
    bad = await client.get(f"/api/v1/boards/{board}/calendar?view=year")
    assert bad.status_code == 422
    # The member's own page lists it; the month page renders.
    member = client  # same client signs in as the member now
    await api_login(member, people["member.emp1"], otp)
    mine = await (await member.get("/hearings")).get_data(as_text=True)
    assert f'data-hearing="{hearing_id}"' in mine
    page = await member.get(f"/boards/{board}/calendar?view=month&date=1404/12/26")
    assert page.status_code == 200 and f'data-hearing="{hearing_id}"' in await page.get_data(
        as_text=True
    )


async def test_a_party_page_says_what_to_prepare_and_how_to_join(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    hearing_id = await _schedule_tuesday(quart_app.test_client(), db, people, otp)
    worker = quart_app.test_client()
    await api_login(worker, people["worker"], otp)
    html = await (await worker.get("/hearings")).get_data(as_text=True)
    assert "چه چیزهایی آماده کنید" in html and "شرکت در جلسه از خانه" in html
    assert f"/hearings/{hearing_id}/room" in html and "/cases/" in html


async def test_the_week_calendar_renders_in_chromium_in_persian_and_english(
    browser: Any, live_server: LiveServer, people: dict[str, Person], otp: OtpSource
) -> None:
    db = live_server.app.runtime.db
    hearing_id = await _schedule_tuesday(live_server.app.quart_app.test_client(), db, people, otp)
    board = await board_id(db, BoardType.DIAGNOSIS)
    context = await browser.new_context(locale="fa-IR", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await browser_login(page, live_server.url, people["secretary"], otp)
    await page.goto(f"{live_server.url}/boards/{board}/calendar?view=week&date=1404/12/26")
    assert await page.get_attribute("html", "dir") == "rtl"
    cell = page.locator(f'.day:has(a[data-hearing="{hearing_id}"])')
    assert await cell.get_attribute("data-date") == "2026-03-17"
    assert await cell.get_attribute("data-jalali") == "1404/12/26"
    assert await cell.get_attribute("data-column") == "3"  # Saturday 0 … Tuesday 3
    headers = page.locator(".cal .head")
    assert await headers.nth(0).inner_text() == "شنبه"
    assert await headers.nth(3).inner_text() == "سه‌شنبه"
    saturday = await page.locator('.day[data-column="0"]').bounding_box()
    tuesday = await cell.bounding_box()
    assert saturday and tuesday and saturday["x"] > tuesday["x"]  # right to left
    assert "۰۹:۰۰" in await cell.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "calendar-week-fa.png"), full_page=True)

    await page.click("button[name=locale][value=en]")
    await page.wait_for_load_state("networkidle")
    assert await page.get_attribute("html", "dir") == "ltr"
    assert await page.locator(".cal .head").nth(3).inner_text() == "Tuesday"
    cell = page.locator(f'.day:has(a[data-hearing="{hearing_id}"])')
    assert await cell.get_attribute("data-date") == "2026-03-17"
    saturday = await page.locator('.day[data-column="0"]').bounding_box()
    tuesday = await cell.bounding_box()
    assert saturday and tuesday and saturday["x"] < tuesday["x"]  # left to right
    assert "09:00" in await cell.inner_text()
    await page.screenshot(path=str(ARTIFACTS / "calendar-week-en.png"), full_page=True)
    await page.click(f'a[data-hearing="{hearing_id}"]')
    await page.wait_for_load_state("networkidle")
    assert "Quorum forecast" in await page.inner_text("main")
    await page.screenshot(path=str(ARTIFACTS / "hearing-en.png"), full_page=True)
    await context.close()
