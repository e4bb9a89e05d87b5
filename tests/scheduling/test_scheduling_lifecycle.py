"""After scheduling: members answer, the quorum forecast, swaps, postponing, rescheduling,
cancelling, and the record of the session (absent parties, failed quorum)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
from sqlalchemy import select

from hearing_server import clock
from hearing_server.audit.models import AuditEvent
from hearing_server.audit.services import verify_chain
from hearing_server.cases.models import Case, CaseStatus
from hearing_server.law.rules import BoardType
from hearing_server.notifications.models import OutboxMessage
from hearing_server.scheduling.models import Hearing, HearingStatus, Reminder, Summons
from hearing_server.scheduling.queries import next_hearing
from tests.conftest import OtpSource, Person, api_login
from tests.scheduling.conftest import new_case, plan


async def _schedule(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource, **kw: Any
) -> tuple[Any, dict[str, str], dict[str, Any]]:
    client = quart_app.test_client()
    headers = {"X-CSRF-Token": await api_login(client, people["secretary"], otp)}
    board_type = kw.pop("board_type", BoardType.DIAGNOSIS)
    case_id = await new_case(db, board_type=board_type)
    response = await client.post(
        "/api/v1/hearings",
        json=await plan(db, cases=[case_id], board_type=board_type, **kw),
        headers=headers,
    )
    body = await response.get_json()
    assert response.status_code == 201, body
    return client, headers, body


async def _member(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, name: str
) -> tuple[Any, dict[str, str]]:
    client = quart_app.test_client()
    return client, {"X-CSRF-Token": await api_login(client, people[name], otp)}


async def test_answers_feed_the_quorum_forecast_and_a_refusal_reaches_the_secretary(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    secretary, _headers, hearing = await _schedule(
        quart_app, db, people, otp, board_type=BoardType.SETTLEMENT, leave_out=("member.gov4",)
    )
    hid = hearing["id"]
    for name, attending in [("member.gov2", True), ("member.gov3", False), ("member.wrk2", True)]:
        client, h = await _member(quart_app, people, otp, name)
        answered = await client.post(
            f"/api/v1/hearings/{hid}/answer", json={"attending": attending}, headers=h
        )
        assert answered.status_code == 200, await answered.get_json()
        assert (await answered.get_json())["my_answer"] == (
            "attending" if attending else "not_attending"
        )
    seen = await (await secretary.get(f"/api/v1/hearings/{hid}")).get_json()
    forecast = seen["forecast"]
    government = next(g for g in forecast["groups"] if g["group"] == "government")
    assert government == {
        "group": "government",
        "seats": 3,
        "on_panel": 2,
        "confirmed": 1,
        "declined": 1,
        "pending": 0,
        "at_risk": True,
    }
    # 8 on the panel, one declined: 7 can still come, so quorum is at risk, not lost.
    assert forecast["state"] == "at_risk" and forecast["confirmed"] == 2
    page = await (await secretary.get(f"/hearings/{hid}")).get_data(as_text=True)
    assert "دولت: ۱ از ۳ نفر حضور را تأیید کرده‌اند" in page and "حد نصاب در خطر" in page
    async with db.transaction(write=False) as session:
        told = list(
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.recipient_user_id == people["secretary"].id,
                    OutboxMessage.dedupe_key.like(f"declined:{hid}:%"),
                )
            )
        )
    assert len(told) == 1 and "لیلا مرادی" in told[0].subject
    # A member not on the panel, and a party, cannot answer.
    outsider, h = await _member(quart_app, people, otp, "member.gov4")
    refused = await outsider.post(
        f"/api/v1/hearings/{hid}/answer", json={"attending": True}, headers=h
    )
    assert refused.status_code == 403
    worker, h = await _member(quart_app, people, otp, "worker")
    assert (
        await worker.post(f"/api/v1/hearings/{hid}/answer", json={"attending": True}, headers=h)
    ).status_code == 403


async def test_secretary_swaps_a_member_for_another_of_the_same_group(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    secretary, headers, hearing = await _schedule(
        quart_app, db, people, otp, board_type=BoardType.SETTLEMENT, leave_out=("member.gov4",)
    )
    hid = hearing["id"]
    gov3 = next(p for p in hearing["panel"] if p["member_id"] == people["member.gov3"].id)
    wrong = await secretary.post(
        f"/api/v1/hearings/{hid}/panel/{gov3['id']}/swap",
        json={"member_id": people["member.wrk1"].id},  # a worker member of the other board
        headers=headers,
    )
    assert wrong.status_code == 422
    swapped = await secretary.post(
        f"/api/v1/hearings/{hid}/panel/{gov3['id']}/swap",
        json={"member_id": people["member.gov4"].id},
        headers=headers,
    )
    body = await swapped.get_json()
    assert swapped.status_code == 200, body
    members = {p["member_id"] for p in body["panel"]}
    assert people["member.gov4"].id in members and people["member.gov3"].id not in members
    async with db.transaction(write=False) as session:
        reminders = {
            (r.user_id, r.cancelled_at is None)
            for r in await session.scalars(select(Reminder).where(Reminder.hearing_id == hid))
        }
        summoned = await session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.dedupe_key == f"summons:{hid}:{people['member.gov4'].id}:sms"
            )
        )
        actions = list(await session.scalars(select(AuditEvent.action)))
    assert (people["member.gov3"].id, True) not in reminders
    assert (people["member.gov4"].id, True) in reminders
    assert summoned is not None and "hearing.member_swapped" in actions
    # Only the secretary swaps.
    member, h = await _member(quart_app, people, otp, "member.gov2")
    refused = await member.post(
        f"/api/v1/hearings/{hid}/panel/{gov3['id']}/swap",
        json={"member_id": people["member.gov3"].id},
        headers=h,
    )
    assert refused.status_code == 403


async def test_reschedule_keeps_the_history_and_tells_everyone(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    secretary, headers, hearing = await _schedule(quart_app, db, people, otp)
    hid = hearing["id"]
    empty = await secretary.post(
        f"/api/v1/hearings/{hid}/reschedule",
        json={"date": "1404/12/26", "time": "10:00", "reason": " "},
        headers=headers,
    )
    assert empty.status_code == 422
    moved = await secretary.post(
        f"/api/v1/hearings/{hid}/reschedule",
        json={"date": "1404/12/26", "time": "10:00", "reason": "The chair is on a mission"},
        headers=headers,
    )
    new = await moved.get_json()
    assert moved.status_code == 201, new
    assert new["rescheduled_from_id"] == hid and new["starts_at"] == "2026-03-17T06:30:00+00:00"
    old = await (await secretary.get(f"/api/v1/hearings/{hid}")).get_json()
    assert old["status"] == "postponed" and old["status_reason"] == "The chair is on a mission"
    async with db.transaction(write=False) as session:
        case = await session.get(Case, new["agenda"][0]["case_id"])
        assert case is not None and case.status is CaseStatus.SCHEDULED
        # The case's next hearing is the new one, not the postponed one.
        assert await next_hearing(session, case.id) == datetime(2026, 3, 17, 6, 30, tzinfo=UTC)
        pending = {
            r.hearing_id
            for r in await session.scalars(
                select(Reminder).where(Reminder.sent_at.is_(None), Reminder.cancelled_at.is_(None))
            )
        }
        told = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"rescheduled:{hid}:%"))
            )
        )
        new_summons = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"summons:{new['id']}:%"))
            )
        )
    assert hid not in pending and new["id"] in pending
    assert {m.recipient_user_id for m in told} == {
        people[u].id for u in ("worker", "employer", "member.gov1", "member.wrk1", "member.emp1")
    }
    assert "The chair is on a mission" in told[0].body
    assert len(new_summons) == 5
    # The cancelled calendar entry for the old time, for anyone who has an email.
    ics = await (await secretary.get(f"/api/v1/hearings/{hid}/invitation.ics")).get_data()
    assert str(icalendar.Calendar.from_ical(ics)["METHOD"]) == "CANCEL"
    # A postponed hearing cannot be moved again; its successor can.
    again = await secretary.post(
        f"/api/v1/hearings/{hid}/cancel", json={"reason": "again"}, headers=headers
    )
    assert again.status_code == 409


async def test_cancel_returns_the_cases_and_postpone_without_date_too(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    secretary, headers, first = await _schedule(quart_app, db, people, otp)
    cancelled = await secretary.post(
        f"/api/v1/hearings/{first['id']}/cancel",
        json={"reason": "Board dissolved"},
        headers=headers,
    )
    assert cancelled.status_code == 200
    assert (await cancelled.get_json())["status"] == "cancelled"
    _c, _h, second = await _schedule(quart_app, db, people, otp, time="11:00")
    postponed = await secretary.post(
        f"/api/v1/hearings/{second['id']}/postpone", json={"reason": "Power cut"}, headers=headers
    )
    assert (await postponed.get_json())["status"] == "postponed"
    async with db.transaction(write=False) as session:
        for hearing in (first, second):
            case = await session.get(Case, hearing["agenda"][0]["case_id"])
            assert case is not None and case.status is CaseStatus.ACCEPTED
            assert await next_hearing(session, case.id) is None
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
        report = await verify_chain(session)
    assert "hearing.cancelled" in actions and "hearing.postponed" in actions
    assert report.ok
    # A member cannot cancel.
    member, h = await _member(quart_app, people, otp, "member.gov1")
    _c, _h, third = await _schedule(quart_app, db, people, otp, time="12:00")
    refused = await member.post(
        f"/api/v1/hearings/{third['id']}/cancel", json={"reason": "no"}, headers=h
    )
    assert refused.status_code == 403


async def test_absent_party_does_not_stop_the_hearing_but_a_missing_member_fails_quorum(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    secretary, headers, held = await _schedule(quart_app, db, people, otp)
    _c, _h, failed = await _schedule(quart_app, db, people, otp, time="11:00")
    early = await secretary.post(
        f"/api/v1/hearings/{held['id']}/record", json={"attendance": []}, headers=headers
    )
    assert early.status_code == 409  # not begun yet
    clock.set_frozen(datetime(2026, 3, 15, 9, 0, tzinfo=UTC))  # 12:30 in Tehran, both begun
    # Two weeks on, the secretary signs in again.
    headers = {"X-CSRF-Token": await api_login(secretary, people["secretary"], otp)}
    bogus = await secretary.post(
        f"/api/v1/hearings/{held['id']}/record",
        json={"attendance": [{"user_id": people["clerk"].id, "attended": True}]},
        headers=headers,
    )
    assert bogus.status_code == 422  # the clerk was not summoned
    members = [p["member_id"] for p in held["panel"]]
    attendance = [{"user_id": m, "attended": True} for m in members]
    attendance += [
        {"user_id": people["worker"].id, "attended": True},
        {"user_id": people["employer"].id, "attended": False},
    ]
    recorded = await secretary.post(
        f"/api/v1/hearings/{held['id']}/record", json={"attendance": attendance}, headers=headers
    )
    body = await recorded.get_json()
    assert recorded.status_code == 200, body
    assert body["status"] == "held"
    assert {
        (s["user_id"], s["attended"]) for s in body["summonses"] if s["role"] == "respondent"
    } == {(people["employer"].id, False)}
    # The worker representative on the other panel stays home: 2 of 3, no quorum.
    attendance = [{"user_id": m, "attended": m != people["member.wrk1"].id} for m in members]
    recorded = await secretary.post(
        f"/api/v1/hearings/{failed['id']}/record", json={"attendance": attendance}, headers=headers
    )
    body = await recorded.get_json()
    assert body["status"] == "failed_quorum"
    async with db.transaction(write=False) as session:
        case = await session.get(Case, failed["agenda"][0]["case_id"])
        assert case is not None and case.status is CaseStatus.ACCEPTED
        held_case = await session.get(Case, held["agenda"][0]["case_id"])
        assert held_case is not None and held_case.status is CaseStatus.SCHEDULED
        hearing = await session.get(Hearing, failed["id"])
        assert hearing is not None and hearing.status is HearingStatus.FAILED_QUORUM
    twice = await secretary.post(
        f"/api/v1/hearings/{held['id']}/record", json={"attendance": []}, headers=headers
    )
    assert twice.status_code == 409  # already recorded as held
    # The case that failed quorum can be scheduled again.
    clock.set_frozen(datetime(2026, 3, 15, 9, 0, tzinfo=UTC) + timedelta(minutes=1))
    again = await secretary.post(
        "/api/v1/hearings",
        json=await plan(db, cases=[failed["agenda"][0]["case_id"]], date="1404/12/26"),
        headers=headers,
    )
    assert again.status_code == 201, await again.get_json()
    async with db.transaction(write=False) as session:
        marks = list(
            await session.scalars(
                select(Summons.attended).where(
                    Summons.hearing_id == failed["id"], Summons.role == "member"
                )
            )
        )
    assert sorted(marks) == [False, True, True]
