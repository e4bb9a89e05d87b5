"""Issue #12 items 5 and 11: a new complaint is filed at a diagnosis board (the settlement
board receives a case only as an appeal, or by a referral recorded with its reason by the
secretary), and the case API gives every claim its id."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from hearing_server.audit.models import AuditEvent
from hearing_server.boards.models import Board
from hearing_server.cases.filing import do_submit
from hearing_server.cases.models import Case, CaseStatus, CaseTransition, Claim
from hearing_server.errors import ValidationErrors
from hearing_server.law.rules import BoardType
from tests.cases.conftest import petition
from tests.conftest import OtpSource, Person, api_login
from tests.factories import board_of, make_case, user_named


async def _boards(db: Any) -> tuple[int, list[int]]:
    """The diagnosis board's id and the ids of every board that is not one, of the
    Tehran office (where the demo's filers may file)."""
    async with db.transaction(write=False) as session:
        tehran = (await board_of(session)).office_id
        rows = (
            await session.execute(select(Board.id, Board.type).where(Board.office_id == tehran))
        ).all()
    diagnosis = next(i for i, t in rows if t == BoardType.DIAGNOSIS)
    return diagnosis, [i for i, t in rows if t != BoardType.DIAGNOSIS]


async def _case_count(db: Any) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count(Case.id))) or 0)


async def test_a_new_complaint_is_refused_at_any_board_but_a_diagnosis_board(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    diagnosis, others = await _boards(db)
    assert others, "the demo seeds a settlement board"
    before = await _case_count(db)
    for who in ("worker", "clerk", "secretary", "admin"):
        client = quart_app.test_client()
        csrf = await api_login(client, people[who], otp)
        headers = {"X-CSRF-Token": csrf}
        body = petition()
        if who == "worker":
            body.pop("claimant_name")
            body.pop("claimant_national_id")
        for board_id in others:
            for submit in (True, False):  # filed at once, or kept as a draft to file later
                refused = await client.post(
                    "/api/v1/cases",
                    json=body | {"board_id": board_id, "submit": submit},
                    headers=headers,
                )
                error = (await refused.get_json())["error"]
                assert refused.status_code == 422, (who, error)
                assert "board_id" in error["fields"]
                assert "بدوی" in error["fields"]["board_id"]  # fa: the diagnosis board
        # In English too.
        await client.post("/language", form={"locale": "en", "csrf_token": csrf})
        refused_en = await client.post(
            "/api/v1/cases", json=body | {"board_id": others[0]}, headers=headers
        )
        message = (await refused_en.get_json())["error"]["fields"]["board_id"]
        assert "diagnosis board" in message, message
        # A draft at the diagnosis board cannot be moved to the settlement board either.
        draft = await client.post(
            "/api/v1/cases", json=body | {"board_id": diagnosis, "submit": False}, headers=headers
        )
        assert draft.status_code == 201
        draft_id = (await draft.get_json())["id"]
        moved = await client.put(
            f"/api/v1/cases/{draft_id}",
            json=body | {"board_id": others[0], "submit": True},
            headers=headers,
        )
        assert moved.status_code == 422
        filed = await client.put(
            f"/api/v1/cases/{draft_id}", json=body | {"submit": True}, headers=headers
        )
        filed_body = await filed.get_json()
        assert filed.status_code == 200, filed_body
        assert filed_body["board_id"] == diagnosis and filed_body["status"] == "filed"
    assert await _case_count(db) == before + 4  # only the four drafts filed at the diagnosis board


async def test_a_draft_already_at_the_settlement_board_cannot_be_submitted(db: Any) -> None:
    """However the draft got there (an older version, a direct write), filing checks the board."""
    async with db.transaction() as session:
        case = await make_case(session, board_type=BoardType.SETTLEMENT, status=CaseStatus.DRAFT)
        case.number = None
        case.workshop_address = "ورامین"
        case.employment_start = date(2021, 4, 4)
        worker = await user_named(session, "worker")
        case_id = case.id
    async with db.transaction() as session:
        try:
            await do_submit(session, actor=worker, case_id=case_id)
        except ValidationErrors as exc:
            assert "board_id" in exc.errors
        else:
            raise AssertionError("a draft at the settlement board must not be filed")
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(Case.status).where(Case.id == case_id)) == "draft"


async def test_the_secretary_refers_a_case_to_the_settlement_board_with_a_reason(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    async with db.transaction() as session:
        accepted = await make_case(session)
        filed = await make_case(session, status=CaseStatus.FILED)
        scheduled = await make_case(session, status=CaseStatus.SCHEDULED)
        settlement = await board_of(session, BoardType.SETTLEMENT)
        diagnosis = await board_of(session, BoardType.DIAGNOSIS)
        ids = (accepted.id, filed.id, scheduled.id)
        settlement_id, diagnosis_id = settlement.id, diagnosis.id

    # Parties, clerks and members may not refer.
    for who in ("worker", "clerk", "member.gov1"):
        client = quart_app.test_client()
        csrf = await api_login(client, people[who], otp)
        denied = await client.post(
            f"/api/v1/cases/{ids[0]}/refer",
            json={"reason": "ارجاع"},
            headers={"X-CSRF-Token": csrf},
        )
        assert denied.status_code == 403, who

    secretary = quart_app.test_client()
    csrf = await api_login(secretary, people["secretary"], otp)
    headers = {"X-CSRF-Token": csrf}
    no_reason = await secretary.post(
        f"/api/v1/cases/{ids[0]}/refer", json={"reason": "   "}, headers=headers
    )
    assert no_reason.status_code == 422
    assert (await no_reason.get_json())["error"]["field"] == "reason"
    # A case already scheduled for a diagnosis hearing is not referred from under it.
    busy = await secretary.post(
        f"/api/v1/cases/{ids[2]}/refer", json={"reason": "ارجاع"}, headers=headers
    )
    assert busy.status_code == 409

    reason = "توافق طرفین بر رسیدگی در هیأت حل اختلاف"
    for case_id in ids[:2]:
        done = await secretary.post(
            f"/api/v1/cases/{case_id}/refer", json={"reason": reason}, headers=headers
        )
        body = await done.get_json()
        assert done.status_code == 200, body
        assert body["board_id"] == settlement_id
        seen = await (await secretary.get(f"/api/v1/cases/{case_id}")).get_json()
        assert seen["board_id"] == settlement_id
        assert any(reason in (e["reason"] or "") for e in seen["timeline"])
        # Once there, it is not referred again.
        again = await secretary.post(
            f"/api/v1/cases/{case_id}/refer", json={"reason": reason}, headers=headers
        )
        assert again.status_code == 409
    async with db.transaction(write=False) as session:
        events = list(
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "case.referred",
                    AuditEvent.subject_id.in_([str(i) for i in ids]),
                )
            )
        )
        statuses = dict(
            (await session.execute(select(Case.id, Case.status).where(Case.id.in_(ids)))).all()
        )
        rows = await session.scalar(
            select(func.count(CaseTransition.id)).where(CaseTransition.case_id.in_(ids))
        )
    assert len(events) == 2
    assert all(e.payload["reason"] == reason for e in events)
    assert all(e.payload["from_board"] == diagnosis_id for e in events)
    assert all(e.payload["to_board"] == settlement_id for e in events)
    assert events[0].actor_id == people["secretary"].id
    # The status is kept: the settlement board's secretary schedules it from the queue.
    assert statuses == {
        ids[0]: CaseStatus.ACCEPTED,
        ids[1]: CaseStatus.FILED,
        ids[2]: CaseStatus.SCHEDULED,
    }
    assert rows == 2


async def test_the_case_api_gives_each_claim_its_id(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    client = quart_app.test_client()
    csrf = await api_login(client, people["clerk"], otp)
    made = await client.post("/api/v1/cases", json=petition(), headers={"X-CSRF-Token": csrf})
    body = await made.get_json()
    assert made.status_code == 201
    read = await (await client.get(f"/api/v1/cases/{body['id']}")).get_json()
    async with db.transaction(write=False) as session:
        claims = list(
            await session.scalars(
                select(Claim).where(Claim.case_id == body["id"]).order_by(Claim.position)
            )
        )
    assert len(claims) == 2
    for shown in (body, read):
        assert [c["id"] for c in shown["claims"]] == [c.id for c in claims]
        assert [c["kind"] for c in shown["claims"]] == [c.kind.value for c in claims]
