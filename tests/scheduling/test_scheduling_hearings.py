"""Scheduling through the JSON API: panels by seat, quorum, conflicts, working time,
Tehran time, summonses with .ics, access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import func, select

from hearing_server.audit.models import AuditEvent
from hearing_server.cases.models import Case, CaseStatus, CaseTransition
from hearing_server.law.rules import BoardType
from hearing_server.notifications.models import OutboxMessage
from hearing_server.scheduling.models import Hearing, Reminder, Summons
from hearing_server.scheduling.worktime import do_seed_solar_holidays
from tests.conftest import OtpSource, Person, api_login
from tests.scheduling.conftest import new_case, panel_of, plan

TEHRAN = ZoneInfo("Asia/Tehran")


async def _secretary(client: Any, people: dict[str, Person], otp: OtpSource) -> dict[str, str]:
    return {"X-CSRF-Token": await api_login(client, people["secretary"], otp)}


async def _count(db: Any, model: Any, *where: Any) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_secretary_schedules_a_diagnosis_hearing_with_summonses_and_reminders(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource, settings: Any
) -> None:
    headers = await _secretary(client, people, otp)
    case_id = await new_case(db)
    response = await client.post(
        "/api/v1/hearings", json=await plan(db, cases=[case_id]), headers=headers
    )
    body = await response.get_json()
    assert response.status_code == 201, body
    assert body["starts_at"] == "2026-03-15T05:30:00+00:00"
    assert body["starts_at_tehran"] == "2026-03-15T09:00:00+03:30"
    assert body["jalali_date"] == "1404/12/24" and body["time"] == "09:00"
    assert body["room_url"] == f"{settings.base_url}/hearings/{body['id']}/room"
    assert [p["group"] for p in body["panel"]] == ["government", "worker", "employer"]
    assert body["panel"][0]["is_chair"] is True
    assert body["forecast"]["state"] == "at_risk"  # nobody has answered yet
    async with db.transaction(write=False) as session:
        case = await session.get(Case, case_id)
        assert case is not None and case.status is CaseStatus.SCHEDULED
        moves = list(
            await session.scalars(select(CaseTransition).where(CaseTransition.case_id == case_id))
        )
        assert [(m.from_status, m.to_status) for m in moves] == [("accepted", "scheduled")]
        summonses = list(
            await session.scalars(select(Summons).where(Summons.hearing_id == body["id"]))
        )
        assert sorted(s.role for s in summonses) == [
            "claimant",
            "member",
            "member",
            "member",
            "respondent",
        ]
        # worker, employer, three members: each a 24-hour and a 1-hour reminder, both still due.
        reminders = list(
            await session.scalars(select(Reminder).where(Reminder.hearing_id == body["id"]))
        )
        assert len(reminders) == 10
        start = datetime(2026, 3, 15, 5, 30, tzinfo=UTC)
        assert {r.due_at for r in reminders} == {
            start - timedelta(hours=24),
            start - timedelta(hours=1),
        }
        messages = list(
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.dedupe_key.like(f"summons:{body['id']}:%")
                )
            )
        )
        actions = list(await session.scalars(select(AuditEvent.action)))
    assert {m.recipient_user_id for m in messages} == {
        people[u].id for u in ("worker", "employer", "member.gov1", "member.wrk1", "member.emp1")
    }
    assert all(m.channel == "sms" and len(m.body) <= 335 for m in messages)
    assert "hearing.scheduled" in actions and "case.scheduled" in actions


async def test_a_double_booked_member_is_refused_and_nothing_is_written(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    headers = await _secretary(client, people, otp)
    first = await new_case(db)
    # A different claimant and no respondent: only the panel overlaps.
    second = await new_case(db, claimant="clerk", respondent=None)
    before = await _count(db, Hearing)  # the demo may hold hearings of its own
    ok = await client.post("/api/v1/hearings", json=await plan(db, cases=[first]), headers=headers)
    assert ok.status_code == 201
    clash = await client.post(
        "/api/v1/hearings",
        json=await plan(db, cases=[second], time="09:30", minutes=60),
        headers=headers,
    )
    error = (await clash.get_json())["error"]
    assert clash.status_code == 409
    assert error["code"] == "double_booked"
    assert "دکتر فاطمه حسینی" in error["message"]  # the chair, named, in Persian
    assert await _count(db, Hearing) == before + 1
    async with db.transaction(write=False) as session:
        case = await session.get(Case, second)
        assert case is not None and case.status is CaseStatus.ACCEPTED
    # Right after the first hearing ends the same panel is free.
    later = await client.post(
        "/api/v1/hearings", json=await plan(db, cases=[second], time="10:00"), headers=headers
    )
    assert later.status_code == 201, await later.get_json()


async def test_a_party_booked_on_another_board_at_that_time_is_refused(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    headers = await _secretary(client, people, otp)
    diagnosis = await new_case(db)
    settlement = await new_case(db, board_type=BoardType.SETTLEMENT, respondent=None)
    ok = await client.post(
        "/api/v1/hearings", json=await plan(db, cases=[diagnosis]), headers=headers
    )
    assert ok.status_code == 201
    clash = await client.post(
        "/api/v1/hearings",
        json=await plan(db, cases=[settlement], board_type=BoardType.SETTLEMENT, time="09:45"),
        headers=headers,
    )
    error = (await clash.get_json())["error"]
    assert clash.status_code == 409 and error["code"] == "double_booked"
    assert error["message"].startswith("علی رضایی در ")  # the worker, a party to both
    assert "طرف پرونده‌ای در جلسهٔ دیگری است" in error["message"]


async def test_a_diagnosis_panel_without_its_three_seats_is_refused(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    headers = await _secretary(client, people, otp)
    case_id = await new_case(db)
    before = await _count(db, Hearing)
    response = await client.post(
        "/api/v1/hearings",
        json=await plan(db, cases=[case_id], leave_out=("member.wrk1",)),
        headers=headers,
    )
    error = (await response.get_json())["error"]
    assert response.status_code == 422
    assert error["fields"]["panel"] == (
        "هیأت نمی‌تواند به حد نصاب برسد: ۲ از ۳ کرسی پر شده و حضور ۳ عضو لازم است."
    )
    assert "panel.worker" in error["fields"]
    assert await _count(db, Hearing) == before


async def test_a_settlement_panel_of_six_is_refused_and_seven_with_the_chair_accepted(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    headers = await _secretary(client, people, otp) | {"Accept-Language": "en"}
    await client.post("/language", form={"locale": "en", "csrf_token": headers["X-CSRF-Token"]})
    case_id = await new_case(db, board_type=BoardType.SETTLEMENT)
    six = await client.post(
        "/api/v1/hearings",
        json=await plan(
            db,
            cases=[case_id],
            board_type=BoardType.SETTLEMENT,
            leave_out=("member.gov4", "member.wrk4", "member.emp4"),
        ),
        headers=headers,
    )
    error = (await six.get_json())["error"]
    assert six.status_code == 422
    assert error["fields"]["panel"] == (
        "The panel cannot reach quorum: 6 of 9 seats are filled and 7 members must be present."
    )
    no_chair = await client.post(
        "/api/v1/hearings",
        json=await plan(
            db, cases=[case_id], board_type=BoardType.SETTLEMENT, leave_out=("member.gov2",)
        ),
        headers=headers,
    )
    fields = (await no_chair.get_json())["error"]["fields"]
    assert no_chair.status_code == 422 and set(fields) == {"chair"}
    seven = await client.post(
        "/api/v1/hearings",
        json=await plan(
            db,
            cases=[case_id],
            board_type=BoardType.SETTLEMENT,
            leave_out=("member.wrk4", "member.emp4"),
        ),
        headers=headers,
    )
    assert seven.status_code == 201, await seven.get_json()
    assert len((await seven.get_json())["panel"]) == 7


async def test_only_a_member_holding_the_seat_may_fill_it(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    headers = await _secretary(client, people, otp)
    case_id = await new_case(db)
    panel = await panel_of(db, BoardType.DIAGNOSIS)
    panel[1]["member_id"] = people["member.wrk2"].id  # a settlement member in the worker seat
    response = await client.post(
        "/api/v1/hearings", json=await plan(db, cases=[case_id], panel=panel), headers=headers
    )
    error = (await response.get_json())["error"]
    assert response.status_code == 422
    assert f"panel.{panel[1]['seat_id']}" in error["fields"]
    assert "اکبر جعفری" in error["fields"][f"panel.{panel[1]['seat_id']}"]


@pytest.mark.parametrize(
    ("day", "time", "field"),
    [
        ("1404/12/15", "09:00", "date"),  # a Friday
        ("1405/01/02", "09:00", "date"),  # Nowruz, seeded in the holidays table
        ("1405/01/13", "09:00", "date"),  # Nature Day
        ("1404/12/20", "09:00", "date"),  # Martyrdom of Imam Ali: lunar, public calendar only
        ("1404/12/24", "06:30", "time"),  # before the office opens
        ("1404/12/24", "14:00", "time"),  # would end after 14:30
        ("1404/12/09", "09:00", "date"),  # yesterday
    ],
)
async def test_outside_working_days_and_hours_is_refused(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource, day: str, time: str, field: str
) -> None:
    async with db.transaction() as session:
        assert await do_seed_solar_holidays(session, 1405) == 10
    headers = await _secretary(client, people, otp)
    case_id = await new_case(db)
    response = await client.post(
        "/api/v1/hearings",
        json=await plan(db, cases=[case_id], date=day, time=time),
        headers=headers,
    )
    error = (await response.get_json())["error"]
    assert response.status_code == 422, error
    assert set(error["fields"]) == {field}
    if day == "1405/01/02":
        assert "عید نوروز" in error["fields"]["date"]
    if day == "1404/12/20":
        assert "شهادت حضرت علی" in error["fields"]["date"]


async def test_holidays_of_this_and_next_jalali_year_lunar_ones_estimated_until_confirmed(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    headers = await _secretary(client, people, otp)
    # 1404/12/10 today: the list covers 1404 and 1405. The martyrdom of Imam Ali in 1405
    # (1405/12/10) is computed: estimated, until the office's table confirms it.
    before = {
        h["jalali_date"]: h
        for h in (await (await client.get("/api/v1/holidays")).get_json())["holidays"]
    }
    assert (
        before["1404/12/20"]["estimated"] is False and before["1404/12/20"]["source"] == "official"
    )
    assert before["1405/12/10"]["estimated"] is True
    assert before["1405/01/01"]["name_fa"] and "1406/01/01" not in before
    assert all(h["jalali_date"] >= "1404/01/01" for h in before.values())
    added = await client.post(
        "/api/v1/holidays",
        json={"date": "1405/12/10", "name_fa": "شهادت حضرت علی (ع)", "name_en": "Imam Ali"},
        headers=headers,
    )
    assert added.status_code == 201, await added.get_json()
    after = {
        h["jalali_date"]: h
        for h in (await (await client.get("/api/v1/holidays")).get_json())["holidays"]
    }
    assert after["1405/12/10"]["estimated"] is False


@pytest.mark.parametrize(
    ("day", "utc"),
    [
        ("1404/12/25", datetime(2026, 3, 16, 5, 30, tzinfo=UTC)),  # winter, before Nowruz
        ("1405/01/05", datetime(2026, 3, 25, 5, 30, tzinfo=UTC)),  # after Nowruz (old DST date)
        ("1405/04/01", datetime(2026, 6, 22, 5, 30, tzinfo=UTC)),  # summer: no DST since 2022
        ("1405/10/01", datetime(2026, 12, 22, 5, 30, tzinfo=UTC)),  # winter
    ],
)
async def test_nine_oclock_tehran_is_stored_and_shown_right_all_year(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource, day: str, utc: datetime
) -> None:
    assert utc.astimezone(TEHRAN).utcoffset() == timedelta(hours=3, minutes=30)
    async with db.transaction() as session:
        await do_seed_solar_holidays(session, 1405)
    headers = await _secretary(client, people, otp)
    case_id = await new_case(db)
    response = await client.post(
        "/api/v1/hearings", json=await plan(db, cases=[case_id], date=day), headers=headers
    )
    body = await response.get_json()
    assert response.status_code == 201, body
    async with db.transaction(write=False) as session:
        stored = await session.get(Hearing, body["id"])
    assert stored is not None and stored.starts_at == utc
    assert body["jalali_date"] == day and body["time"] == "09:00"
    page = await client.get(f"/hearings/{body['id']}")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200
    assert "ساعت ۰۹:۰۰" in html
    invite = icalendar.Calendar.from_ical(
        await (await client.get(f"/api/v1/hearings/{body['id']}/invitation.ics")).get_data()
    )
    event = invite.walk("VEVENT")[0]
    assert event.decoded("dtstart") == utc
    assert event.decoded("dtstart").astimezone(TEHRAN).hour == 9


async def test_the_ics_parses_with_the_right_start_end_and_link(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource, settings: Any
) -> None:
    headers = await _secretary(client, people, otp)
    case_id = await new_case(db)
    created = await client.post(
        "/api/v1/hearings",
        json=await plan(db, cases=[case_id], time="10:15", minutes=90),
        headers=headers,
    )
    hearing = await created.get_json()
    number = hearing["agenda"][0]["number"]
    async with db.transaction(write=False) as session:
        message = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.dedupe_key == f"summons:{hearing['id']}:{people['worker'].id}:sms"
            )
        )
    assert message is not None and message.attachments == []  # SMS carries no file
    response = await client.get(f"/api/v1/hearings/{hearing['id']}/invitation.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    cal = icalendar.Calendar.from_ical(await response.get_data())
    assert str(cal["METHOD"]) == "REQUEST"
    assert cal.walk("VTIMEZONE")[0]["TZID"] == "Asia/Tehran"
    event = cal.walk("VEVENT")[0]
    start = event.decoded("dtstart")
    assert str(start.tzinfo) == "Asia/Tehran"
    assert start == datetime(2026, 3, 15, 6, 45, tzinfo=UTC)
    assert event.decoded("dtend") - start == timedelta(minutes=90)
    link = f"{settings.base_url}/hearings/{hearing['id']}/room"
    assert str(event["URL"]) == link and str(event["LOCATION"]) == link
    assert number in str(event["DESCRIPTION"])


async def test_summons_email_carries_the_ics(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    from hearing_server.accounts.models import User

    async with db.transaction() as session:
        member = await session.get(User, people["member.wrk1"].id)
        assert member is not None
        member.email = "wrk1@example.org"
    headers = await _secretary(client, people, otp)
    case_id = await new_case(db)
    created = await client.post(
        "/api/v1/hearings", json=await plan(db, cases=[case_id]), headers=headers
    )
    hearing_id = (await created.get_json())["id"]
    async with db.transaction(write=False) as session:
        email = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.dedupe_key == f"summons:{hearing_id}:{people['member.wrk1'].id}:email"
            )
        )
    assert email is not None and email.address == "wrk1@example.org"
    attachment = email.attachments[0]
    assert attachment["filename"].endswith(".ics")
    event = icalendar.Calendar.from_ical(attachment["content"]).walk("VEVENT")[0]
    assert event.decoded("dtstart") == datetime(2026, 3, 15, 5, 30, tzinfo=UTC)


async def test_access_parties_see_only_their_own_cases_members_only_their_boards(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    secretary = quart_app.test_client()
    headers = await _secretary(secretary, people, otp)
    mine = await new_case(db)  # worker v employer
    other = await new_case(db, claimant="clerk", respondent=None)
    created = await secretary.post(
        "/api/v1/hearings", json=await plan(db, cases=[mine, other]), headers=headers
    )
    hearing_id = (await created.get_json())["id"]

    worker = quart_app.test_client()
    await api_login(worker, people["worker"], otp)
    seen = await (await worker.get(f"/api/v1/hearings/{hearing_id}")).get_json()
    assert [a["case_id"] for a in seen["agenda"]] == [mine]
    assert seen["forecast"] is None and "answer" not in seen["panel"][0]
    assert {s["user_id"] for s in seen["summonses"]} == {people["worker"].id}
    listed = await (await worker.get("/api/v1/hearings")).get_json()
    assert hearing_id in [h["id"] for h in listed["hearings"]]
    assert (await worker.get(f"/api/v1/boards/{seen['board_id']}/calendar")).status_code == 403
    assert (await worker.post("/api/v1/hearings", json={})).status_code == 403

    settlement_member = quart_app.test_client()
    await api_login(settlement_member, people["member.gov2"], otp)
    assert (await settlement_member.get(f"/api/v1/hearings/{hearing_id}")).status_code == 404
    assert (await settlement_member.get(f"/hearings/{hearing_id}")).status_code == 404
    calendar = await settlement_member.get(f"/api/v1/boards/{seen['board_id']}/calendar")
    assert calendar.status_code == 403
    theirs = (await (await settlement_member.get("/api/v1/hearings")).get_json())["hearings"]
    assert hearing_id not in [h["id"] for h in theirs]

    diagnosis_member = quart_app.test_client()
    await api_login(diagnosis_member, people["member.wrk1"], otp)
    full = await (await diagnosis_member.get(f"/api/v1/hearings/{hearing_id}")).get_json()
    assert {a["case_id"] for a in full["agenda"]} == {mine, other}

    anonymous = quart_app.test_client()
    assert (await anonymous.get(f"/api/v1/hearings/{hearing_id}")).status_code == 401


async def test_bad_input_is_a_clear_4xx(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    headers = await _secretary(client, people, otp)
    case_id = await new_case(db)
    body = await plan(db, cases=[case_id], date="1404/13/40")
    response = await client.post("/api/v1/hearings", json=body, headers=headers)
    assert response.status_code == 422
    assert (await response.get_json())["error"]["message"] == "این تاریخ شمسی وجود ندارد."
    body = await plan(db, cases=[case_id], time="25:00")
    assert (await client.post("/api/v1/hearings", json=body, headers=headers)).status_code == 422
    body = await plan(db, cases=[])
    response = await client.post("/api/v1/hearings", json=body, headers=headers)
    assert set((await response.get_json())["error"]["fields"]) == {"agenda"}
    scheduled = await new_case(db, status=CaseStatus.FILED)
    response = await client.post(
        "/api/v1/hearings", json=await plan(db, cases=[scheduled]), headers=headers
    )
    assert response.status_code == 422
    assert "پرونده" in (await response.get_json())["error"]["fields"][f"agenda.{scheduled}"]
    body = await plan(db, cases=[case_id])
    body["board_id"] = 9999
    assert (await client.post("/api/v1/hearings", json=body, headers=headers)).status_code == 404
    # Persian digits in the date and time are accepted.
    body = await plan(db, cases=[case_id], date="۱۴۰۴/۱۲/۲۴", time="۰۹:۰۰")
    assert (await client.post("/api/v1/hearings", json=body, headers=headers)).status_code == 201


async def test_links_in_persian_sms_and_email_keep_latin_digits(
    client: Any, db: Any, people: dict[str, Person], otp: OtpSource, settings: Any
) -> None:
    """«http://۱۲۷.۰.۰.۱:۵۱۰۲/…» opens nothing: the link keeps its digits while the Persian
    text around it has Persian ones."""
    from hearing_server.accounts.models import User

    async with db.transaction() as session:
        for username in ("worker", "member.wrk1"):
            user = await session.get(User, people[username].id)
            assert user is not None
            user.email = f"{username}@example.org"
    headers = await _secretary(client, people, otp)
    created = await client.post(
        "/api/v1/hearings", json=await plan(db, cases=[await new_case(db)]), headers=headers
    )
    hearing_id = (await created.get_json())["id"]
    async with db.transaction(write=False) as session:
        messages = list(
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.dedupe_key.like(f"summons:{hearing_id}:%")
                )
            )
        )
    assert {m.channel for m in messages} == {"sms", "email"}  # parties and members
    base = f"{settings.base_url}/hearings/{hearing_id}"
    assert any(ch.isdigit() for ch in base)  # the base URL and the id carry digits
    for message in messages:
        assert base in message.body, message.body  # the room, or the page to answer on
        assert any("۰" <= ch <= "۹" for ch in message.body)  # the Persian text around it
