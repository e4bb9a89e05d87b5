"""Settlement rulings are final on issue; diagnosis rulings become final by themselves
when every party's objection window has passed; a late objection is refused clearly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from hearing_server import clock
from hearing_server.audit.models import AuditEvent
from hearing_server.cases.models import Case, CaseStatus
from hearing_server.config import Settings
from hearing_server.issuance import finality
from hearing_server.issuance.models import Ruling, RulingState
from hearing_server.law.deadlines import objection_window
from hearing_server.law.holidays import day_off
from hearing_server.law.rules import BoardType
from hearing_server.voting.models import MotionKind
from rulings.persian import TEHRAN
from rulings.pki import PkiPaths
from tests.conftest import OtpSource, Person
from tests.issuance.conftest import MotionPlan, draft_and_approve, login_as, make_decided_case


async def test_settlement_ruling_is_final_on_issue_and_cannot_be_objected(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource, pki: PkiPaths
) -> None:
    decided = await make_decided_case(
        db,
        board_type=BoardType.SETTLEMENT,
        plans=[
            MotionPlan(MotionKind.ACCEPT, "passed", against=("employer", "employer")),
            MotionPlan(MotionKind.PARTLY_ACCEPT, "passed", amount=100_000_000),
        ],
    )
    by_id = {p.id: name for name, p in people.items()}
    approvers = [by_id[i] for i in decided.voters]  # every member who voted signs
    assert len(approvers) == 9
    secretary, csrf, ruling_id = await draft_and_approve(
        quart_app, people, otp, decided, approvers=approvers[:8]
    )
    short = await secretary.post(
        f"/api/v1/rulings/{ruling_id}/issue", headers={"X-CSRF-Token": csrf}
    )
    assert short.status_code == 409  # 8 of 9 signed, the ninth neither signed nor excused
    member, member_csrf = await login_as(quart_app, people[approvers[8]], otp)
    last = await member.post(
        f"/api/v1/rulings/{ruling_id}/approvals",
        json={"otp": otp.code(people[approvers[8]].totp_secret)},
        headers={"X-CSRF-Token": member_csrf},
    )
    assert last.status_code == 201
    secretary, csrf = await login_as(quart_app, people["secretary"], otp)
    issued = await secretary.post(
        f"/api/v1/rulings/{ruling_id}/issue", headers={"X-CSRF-Token": csrf}
    )
    body = await issued.get_json()
    assert issued.status_code == 200, body
    assert body["state"] == "final" and body["final_at"] is not None
    assert body["objection_days"] is None
    async with db.transaction(write=False) as session:
        case = await session.get(Case, decided.case_id)
        assert case is not None and case.status == CaseStatus.FINAL

    worker, worker_csrf = await login_as(quart_app, people["worker"], otp)
    assert (await worker.get(f"/api/v1/rulings/{ruling_id}/pdf")).status_code == 200
    refused = await worker.post(
        f"/api/v1/rulings/{ruling_id}/objections",
        json={"text": "اعتراض دارم."},
        headers={"X-CSRF-Token": worker_csrf},
    )
    assert refused.status_code == 409
    assert "از هنگام صدور قطعی است" in (await refused.get_json())["error"]["message"]


async def test_diagnosis_ruling_becomes_final_after_the_window_and_late_objection_is_refused(
    quart_app: Any,
    db: Any,
    people: dict[str, Person],
    otp: OtpSource,
    settings: Settings,
    pki: PkiPaths,
) -> None:
    decided = await make_decided_case(db)
    secretary, csrf, ruling_id = await draft_and_approve(
        quart_app, people, otp, decided, approvers=["member.gov1", "member.wrk1", "member.emp1"]
    )
    issued = await secretary.post(
        f"/api/v1/rulings/{ruling_id}/issue", headers={"X-CSRF-Token": csrf}
    )
    assert issued.status_code == 200
    # Both parties download today; each window ends with the last day by the calendar.
    worker, _csrf = await login_as(quart_app, people["worker"], otp)
    assert (await worker.get(f"/api/v1/rulings/{ruling_id}/pdf")).status_code == 200
    employer, _ecsrf = await login_as(quart_app, people["employer"], otp)
    assert (await employer.get(f"/api/v1/rulings/{ruling_id}/pdf")).status_code == 200
    today = clock.utcnow().astimezone(TEHRAN).date()
    window = objection_window(today, 15, day_off)
    async with db.transaction(write=False) as session:
        ruling = await session.get(Ruling, ruling_id)
        assert ruling is not None and ruling.objection_deadline == window.closes_at

    # The last second of the last day: still open; the sweep changes nothing.
    clock.set_frozen(window.closes_at - timedelta(seconds=1))
    assert await finality.sweep_once(db) == 0
    async with db.transaction(write=False) as session:
        ruling = await session.get(Ruling, ruling_id)
        assert ruling is not None and ruling.state == RulingState.ISSUED

    # A minute after the window closed: too late, and the sweep makes the ruling final.
    clock.set_frozen(window.closes_at + timedelta(minutes=1))
    worker, worker_csrf = await login_as(quart_app, people["worker"], otp)
    late = await worker.post(
        f"/api/v1/rulings/{ruling_id}/objections",
        json={"text": "اعتراض دیرهنگام"},
        headers={"X-CSRF-Token": worker_csrf},
    )
    assert late.status_code == 409
    assert "مهلت اعتراض" in (await late.get_json())["error"]["message"]
    assert await finality.sweep_once(db) == 1
    assert await finality.sweep_once(db) == 0  # idempotent
    async with db.transaction(write=False) as session:
        ruling = await session.get(Ruling, ruling_id)
        assert ruling is not None and ruling.state == RulingState.FINAL
        assert ruling.final_at == window.closes_at  # not when the sweep noticed
        case = await session.get(Case, decided.case_id)
        assert case is not None and case.status == CaseStatus.FINAL
        finals = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "ruling.final", AuditEvent.subject_id == str(ruling_id))
        )
        assert finals == 1
        appeals = await session.scalar(
            select(func.count()).select_from(Case).where(Case.appeal_of_id == decided.case_id)
        )
        assert appeals == 0  # the refused objection left nothing behind


async def test_finality_loop_runs_in_the_served_app(live_server: Any) -> None:
    tasks = [t for t in live_server.app.runtime.background if t.get_name() == "heyat-finality"]
    assert len(tasks) == 1 and not tasks[0].done()
