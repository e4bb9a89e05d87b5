"""Issue #12 item 2: a hearing happens at its time. The lobby opens a configured time before
the start; the session's phases, a motion and a ballot are refused before the start (the
start time in Jalali, fa and en); an unopened hearing long after its slot is marked missed
and its cases go back to the board's queue with the reason on their timeline."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hearing_server import clock
from hearing_server.audit.models import AuditEvent
from hearing_server.cases.models import Case, CaseStatus, CaseTransition, Claim
from hearing_server.config import Settings
from hearing_server.errors import Conflict
from hearing_server.i18n import gettext
from hearing_server.law.rules import BoardType
from hearing_server.rooms.access import check_participant
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.phases import do_set_phase
from hearing_server.scheduling.models import Hearing, HearingStatus, Reminder, RoomPhase
from hearing_server.scheduling.queries import accepted_cases
from hearing_server.scheduling.reminders import sweep_missed
from hearing_server.voting.motions import do_open_motion
from rulings.persian import jalali_datetime
from tests.conftest import LiveServer, OtpSource, Person, api_login, eventually, make_settings
from tests.factories import make_case, make_hearing, user_named

LEAD = 45  # not the default 30: the rule must read the setting
GRACE = 90  # not the default 120


@pytest.fixture
def settings(db_url: str, tmp_path: Path, tmp_root: Path) -> Settings:
    return make_settings(
        db_url,
        tmp_path,
        pki_dir=tmp_root / "pki",
        hearing_lobby_opens_minutes=LEAD,
        hearing_missed_grace_minutes=GRACE,
        reminder_tick_seconds=0.05,
    )


def _both(exc: Conflict) -> tuple[str, str]:
    return (
        gettext(exc.message, "fa", **exc.params),
        gettext(exc.message, "en", **exc.params),
    )


def _ctx(user: Any, hearing_id: int, settings: Settings) -> RoomContext:
    return RoomContext(
        sid="-", user=user, hearing_id=hearing_id, role="secretary", locale="fa", settings=settings
    )


@pytest.mark.parametrize("ahead", [timedelta(days=7), timedelta(minutes=1)])
async def test_the_session_and_its_motions_wait_for_the_scheduled_start(
    db: Any, settings: Settings, ahead: timedelta
) -> None:
    now = clock.utcnow()
    start = now + ahead
    async with db.transaction() as session:
        case = await make_case(session)
        hearing = await make_hearing(session, cases=[case], starts_at=start)
        secretary = await user_named(session, "secretary")
        hearing_id, case_id = hearing.id, case.id
        claim_id = await session.scalar(select(Claim.id).where(Claim.case_id == case.id))
    ctx = _ctx(secretary, hearing_id, settings)
    for target in ("hearing", "deliberation", "voting", "closed"):
        async with db.transaction() as session:
            if target in ("deliberation", "voting"):  # as if the room had got there somehow
                found = await session.get(Hearing, hearing_id)
                assert found is not None
                found.phase = (
                    RoomPhase.HEARING if target == "deliberation" else RoomPhase.DELIBERATION
                )
            with pytest.raises(Conflict) as refused:
                await do_set_phase(session, ctx, target)
        assert refused.value.code == "not_started", target
        fa, en = _both(refused.value)
        assert jalali_datetime(start, "fa") in fa, fa
        assert jalali_datetime(start, "en") in en, en
    # A room found in the voting phase still opens no vote before the start.
    async with db.transaction() as session:
        found = await session.get(Hearing, hearing_id)
        held = await session.get(Case, case_id)
        assert found is not None and held is not None
        found.phase, found.status = RoomPhase.VOTING, HearingStatus.IN_PROGRESS
        held.status = CaseStatus.IN_HEARING
    async with db.transaction() as session:
        with pytest.raises(Conflict) as refused:
            await do_open_motion(
                session,
                actor=secretary,
                hearing_id=hearing_id,
                case_id=case_id,
                kind="accept",
                text="پذیرش خواسته",
                claim_id=claim_id,
            )
    assert refused.value.code == "not_started"
    assert jalali_datetime(start, "fa") in _both(refused.value)[0]
    # At the start, the session begins.
    async with db.transaction() as session:
        found = await session.get(Hearing, hearing_id)
        held = await session.get(Case, case_id)
        assert found is not None and held is not None
        found.phase, found.status = RoomPhase.LOBBY, HearingStatus.SCHEDULED
        held.status = CaseStatus.SCHEDULED
    clock.set_frozen(start)
    async with db.transaction() as session:
        moved = await do_set_phase(session, ctx, "hearing")
        assert moved.phase == RoomPhase.HEARING
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(Case.status).where(Case.id == case_id)) == "in_hearing"


async def test_the_lobby_opens_the_configured_time_before_the_start(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    now = clock.utcnow()
    start = now + timedelta(minutes=LEAD + 10)  # signed in now: sessions idle out at 30 min
    async with db.transaction() as session:
        case = await make_case(session)
        hearing = await make_hearing(session, cases=[case], starts_at=start)
        hearing_id = hearing.id
    clients = {}
    for who in ("secretary", "worker", "member.gov1"):
        client = quart_app.test_client()
        csrf = await api_login(client, people[who], otp)
        if who == "member.gov1":  # one of them reads English
            await client.post("/language", form={"locale": "en", "csrf_token": csrf})
        clients[who] = client
    opens = start - timedelta(minutes=LEAD)
    clock.set_frozen(opens - timedelta(minutes=1))
    for who, client in clients.items():
        locale = "en" if who == "member.gov1" else "fa"
        early = await client.get(f"/api/v1/hearings/{hearing_id}/room/token")
        error = (await early.get_json())["error"]
        assert early.status_code == 409, (who, error)
        assert error["code"] == "room_not_open"
        assert jalali_datetime(opens, locale) in error["message"]
        assert jalali_datetime(start, locale) in error["message"]
        page = await client.get(f"/hearings/{hearing_id}/room")
        assert page.status_code == 409
        assert jalali_datetime(opens, locale) in await page.get_data(as_text=True)
    clock.set_frozen(opens)
    for who, client in clients.items():
        ready = await client.get(f"/api/v1/hearings/{hearing_id}/room/token")
        assert ready.status_code == 200, (who, await ready.get_json())


async def _hearing(
    db: Any,
    *,
    start: datetime,
    minutes: int,
    cases: int = 1,
    board_type: BoardType = BoardType.DIAGNOSIS,
    **fields: Any,
) -> tuple[int, list[int]]:
    async with db.transaction() as session:
        made = [await make_case(session, board_type=board_type) for _ in range(cases)]
        hearing = await make_hearing(
            session, cases=made, starts_at=start, minutes=minutes, board_type=board_type, **fields
        )
        secretary = await user_named(session, "secretary")
        session.add(
            Reminder(
                hearing_id=hearing.id,
                user_id=secretary.id,
                kind="1h",
                due_at=start + timedelta(days=9),
            )
        )
        return hearing.id, [c.id for c in made]


async def test_an_unopened_hearing_is_marked_missed_after_its_slot_and_the_grace(
    db: Any, settings: Settings, quart_app: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    now = clock.utcnow()
    long_id, long_cases = await _hearing(db, start=now, minutes=60, cases=2)
    short_id, short_cases = await _hearing(
        db, start=now, minutes=30, board_type=BoardType.SETTLEMENT
    )
    opened_id, opened_cases = await _hearing(
        db, start=now, minutes=30, phase=RoomPhase.HEARING, status=HearingStatus.IN_PROGRESS
    )
    cancelled_id, _ = await _hearing(db, start=now, minutes=30, status=HearingStatus.CANCELLED)
    async with db.transaction() as session:
        for case_id in opened_cases:
            found = await session.get(Case, case_id)
            assert found is not None
            found.status = CaseStatus.IN_HEARING

    assert await sweep_missed(db, settings) == 0
    clock.set_frozen(now + timedelta(minutes=30 + GRACE) - timedelta(seconds=1))
    assert await sweep_missed(db, settings) == 0
    clock.set_frozen(now + timedelta(minutes=30 + GRACE))
    assert await sweep_missed(db, settings) == 1  # the 30-minute one; the hour-long one not yet
    clock.set_frozen(now + timedelta(minutes=60 + GRACE))
    assert await sweep_missed(db, settings) == 1
    assert await sweep_missed(db, settings) == 0  # idempotent

    async with db.transaction(write=False) as session:
        hearings = {
            h.id: h
            for h in await session.scalars(
                select(Hearing).where(Hearing.id.in_([long_id, short_id, opened_id, cancelled_id]))
            )
        }
        assert hearings[long_id].status == HearingStatus.MISSED
        assert hearings[short_id].status == HearingStatus.MISSED
        assert hearings[opened_id].status == HearingStatus.IN_PROGRESS
        assert hearings[cancelled_id].status == HearingStatus.CANCELLED
        reason = hearings[long_id].status_reason or ""
        assert jalali_datetime(now, "fa") in reason
        statuses = dict(
            (
                await session.execute(
                    select(Case.id, Case.status).where(
                        Case.id.in_(long_cases + short_cases + opened_cases)
                    )
                )
            ).all()
        )
        assert all(statuses[c] == CaseStatus.ACCEPTED for c in long_cases + short_cases)
        assert all(statuses[c] == CaseStatus.IN_HEARING for c in opened_cases)
        moves = (
            await session.execute(
                select(
                    CaseTransition.case_id, CaseTransition.from_status, CaseTransition.reason
                ).where(CaseTransition.case_id.in_(long_cases + short_cases))
            )
        ).all()
        assert sorted(m[0] for m in moves) == sorted(long_cases + short_cases)  # once each
        assert all(m[1] == "scheduled" and m[2] == reason for m in moves if m[0] in long_cases)
        queue = {c.id for c in await accepted_cases(session, hearings[long_id].board_id)}
        assert set(long_cases) <= queue
        marked = await session.scalar(
            select(func.count(AuditEvent.seq)).where(
                AuditEvent.action == "hearing.missed",
                AuditEvent.subject_id.in_([str(long_id), str(short_id)]),
            )
        )
        assert marked == 2
        pending = await session.scalar(
            select(func.count(Reminder.id)).where(
                Reminder.hearing_id == long_id, Reminder.cancelled_at.is_(None)
            )
        )
        assert pending == 0
        secretary = await user_named(session, "secretary")
        with pytest.raises(Conflict) as refused:
            await check_participant(session, secretary, long_id, settings=settings)
        assert refused.value.code == "hearing_unavailable"

    # The reason is on the case's timeline, as the API shows it.
    client = quart_app.test_client()
    await api_login(client, people["secretary"], otp)
    seen = await (await client.get(f"/api/v1/cases/{long_cases[0]}")).get_json()
    assert seen["status"] == "accepted"
    assert seen["timeline"][-1]["reason"] == reason
    # The secretary's room refuses the missed hearing; a phase move cannot revive it.
    ctx = _ctx(secretary, long_id, settings)
    async with db.transaction() as session:
        with pytest.raises(Conflict) as revived:
            await do_set_phase(session, ctx, "hearing")
    assert revived.value.code == "hearing_unavailable"
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(Case.status).where(Case.id == long_cases[0])) == (
            "accepted"
        )


async def test_the_background_loop_marks_missed_hearings(live_server: LiveServer, db: Any) -> None:
    now = clock.utcnow()
    hearing_id, case_ids = await _hearing(
        db, start=now - timedelta(minutes=60 + GRACE + 1), minutes=60
    )

    async def missed() -> HearingStatus | None:  # the scheduler's loop marks it
        async with db.transaction(write=False) as session:
            status = await session.scalar(select(Hearing.status).where(Hearing.id == hearing_id))
        return status if status == HearingStatus.MISSED else None

    status = await eventually(missed)
    assert status == HearingStatus.MISSED
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(Case.status).where(Case.id == case_ids[0])) == (
            "accepted"
        )
    assert dataclasses.is_dataclass(live_server.settings)
