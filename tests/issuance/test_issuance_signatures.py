"""Who signs a ruling: every member who voted signs with a one-time code (a dissenter's
signature printed as dissent); the ruling issues only when each has signed or the
secretary has recorded why not, and when at least the statute's majority of the members
who made each decision signed (``BoardRules.votes_needed`` of the vote's rules version).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hearing_server.accounts.models import User
from hearing_server.audit.models import AuditEvent
from hearing_server.boards.models import BoardRulesVersion
from hearing_server.cases.models import ClaimKind
from hearing_server.issuance.models import Ruling, RulingState
from hearing_server.law.rules import BoardType, default_rules
from hearing_server.voting.models import Ballot, Motion, MotionKind
from rulings.pki import PkiPaths
from tests.conftest import OtpSource, Person
from tests.issuance.conftest import (
    DISSENT,
    Decided,
    MotionPlan,
    draft_and_approve,
    login_as,
    make_decided_case,
    pdf_text,
    pyhanko_status,
)


async def _choices(db: Any, decided: Decided) -> dict[int, str]:
    """Member id -> ballot choice on the case's (single) motion."""
    async with db.transaction(write=False) as session:
        rows = await session.execute(
            select(Ballot.member_id, Ballot.choice)
            .join(Motion, Motion.id == Ballot.motion_id)
            .where(Motion.case_id == decided.case_id)
        )
        return {int(m): str(c) for m, c in rows.all()}


def _names(people: dict[str, Person], ids: set[int] | list[int]) -> list[str]:
    by_id = {p.id: name for name, p in people.items()}
    return [by_id[i] for i in ids]


async def _issue(quart_app: Any, people: dict[str, Person], otp: OtpSource, ruling_id: int) -> Any:
    secretary, csrf = await login_as(quart_app, people["secretary"], otp)
    return await secretary.post(
        f"/api/v1/rulings/{ruling_id}/issue", headers={"X-CSRF-Token": csrf}
    )


async def _record_missing(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, ruling_id: int, member: int, why: str
) -> Any:
    secretary, csrf = await login_as(quart_app, people["secretary"], otp)
    return await secretary.post(
        f"/api/v1/rulings/{ruling_id}/missing-signatures",
        json={"member_id": member, "reason": why},
        headers={"X-CSRF-Token": csrf},
    )


async def _set_locale(db: Any, person: Person, locale: str) -> None:
    async with db.transaction() as session:
        user = await session.get(User, person.id)
        assert user is not None
        user.locale = locale


SETTLEMENT_5_4 = [
    MotionPlan(
        MotionKind.ACCEPT,
        "passed",
        against=("employer", "employer", "employer", "worker"),
        opinion=DISSENT,
    )
]


async def test_every_voter_signs_or_the_secretary_records_why_and_dissent_is_marked(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource, pki: PkiPaths
) -> None:
    decided = await make_decided_case(
        db,
        board_type=BoardType.SETTLEMENT,
        claims=[(ClaimKind.UNPAID_WAGES, 450_000_000)],
        plans=SETTLEMENT_5_4,
    )
    choices = await _choices(db, decided)
    assert sorted(choices.values()).count("against") == 4 and len(choices) == 9
    dissenters = [m for m, c in choices.items() if c == "against"]
    majority = [m for m, c in choices.items() if c == "for"]
    absent = dissenters[-1]  # one dissenter never signs
    signers = majority + dissenters[:-1]

    _secretary, _csrf, ruling_id = await draft_and_approve(
        quart_app, people, otp, decided, approvers=_names(people, signers)
    )
    # 8 of 9 signed, 5 of them in favour: enough for a majority, not for the rule.
    short = await _issue(quart_app, people, otp, ruling_id)
    body = await short.get_json()
    assert short.status_code == 409, body
    absent_name = next(p.full_name for p in people.values() if p.id == absent)
    assert absent_name in body["error"]["message"]
    assert "امضا" in body["error"]["message"]  # the secretary reads it in Persian
    await _set_locale(db, people["secretary"], "en")
    english = await (await _issue(quart_app, people, otp, ruling_id)).get_json()
    assert "every member who voted has signed" in english["error"]["message"]
    assert absent_name in english["error"]["message"]
    await _set_locale(db, people["secretary"], "fa")
    async with db.transaction(write=False) as session:
        ruling = await session.get(Ruling, ruling_id)
        assert ruling is not None and ruling.state == RulingState.DRAFT and not ruling.pdf_sha256

    # Only the secretary records a missing signature, with a reason, once, for a voter.
    member, member_csrf = await login_as(quart_app, people["member.gov1"], otp)
    by_member = await member.post(
        f"/api/v1/rulings/{ruling_id}/missing-signatures",
        json={"member_id": absent, "reason": "بیمار است"},
        headers={"X-CSRF-Token": member_csrf},
    )
    assert by_member.status_code == 403
    empty = await _record_missing(quart_app, people, otp, ruling_id, absent, "  ")
    assert empty.status_code == 422
    assert (await empty.get_json())["error"]["field"] == "reason"
    stranger = await _record_missing(quart_app, people, otp, ruling_id, people["worker"].id, "x")
    assert stranger.status_code == 422
    assert (await stranger.get_json())["error"]["field"] == "member_id"
    signed_one = await _record_missing(quart_app, people, otp, ruling_id, majority[0], "x")
    assert signed_one.status_code == 409  # who signed has no missing signature
    why = "در سفر خارج از کشور است و به سامانه دسترسی ندارد"
    recorded = await _record_missing(quart_app, people, otp, ruling_id, absent, why)
    assert recorded.status_code == 201, await recorded.get_json()
    again = await _record_missing(quart_app, people, otp, ruling_id, absent, why)
    assert again.status_code == 409
    from hearing_server.issuance.models import MissingSignature

    async with db.transaction(write=False) as session:
        rows = list(await session.scalars(select(MissingSignature)))
        assert [(r.member_id, r.reason) for r in rows] == [(absent, why)]
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "ruling.signature_missing")
        )
        assert event is not None and event.actor_id == people["secretary"].id

    # The secretary's page shows the record; the API lists it.
    secretary, _csrf = await login_as(quart_app, people["secretary"], otp)
    page = await (await secretary.get(f"/rulings/{ruling_id}")).get_data(as_text=True)
    assert why in page
    listed = await (await secretary.get(f"/api/v1/rulings/{ruling_id}")).get_json()
    assert listed["missing_signatures"][0]["member_id"] == absent

    issued = await _issue(quart_app, people, otp, ruling_id)
    body = await issued.get_json()
    assert issued.status_code == 200, body
    assert body["state"] == "final"

    worker, _csrf = await login_as(quart_app, people["worker"], otp)
    pdf = await (await worker.get(f"/api/v1/rulings/{ruling_id}/pdf")).get_data()
    status = await pyhanko_status(pdf, pki.ca_cert.read_bytes())
    assert status.intact and status.valid and status.trusted
    text = pdf_text(pdf)
    assert text.count("امضا با رمز یکبار مصرف") == 8  # each signer
    assert text.count("با نظر مخالف") == 3  # the three dissenters who signed
    assert why in text  # the unsigned dissenter's recorded reason
    for member_id in signers:
        name = next(p.full_name for p in people.values() if p.id == member_id)
        assert name in text


async def test_the_statutory_majority_must_sign_in_favour(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource, pki: PkiPaths
) -> None:
    """Settlement (5 of 9, rules.py): three of the five in favour signed and two recorded
    missing is 7 of 9 signatures but not the decision's majority."""
    decided = await make_decided_case(
        db, board_type=BoardType.SETTLEMENT, plans=SETTLEMENT_5_4[:1] * 2
    )
    choices = await _choices(db, decided)
    majority = sorted({m for m, c in choices.items() if c == "for"})
    dissenters = sorted({m for m, c in choices.items() if c == "against"})
    _secretary, _csrf, ruling_id = await draft_and_approve(
        quart_app, people, otp, decided, approvers=_names(people, majority[:3] + dissenters)
    )
    for member in majority[3:]:
        made = await _record_missing(quart_app, people, otp, ruling_id, member, "بیمار است")
        assert made.status_code == 201
    short = await _issue(quart_app, people, otp, ruling_id)
    message = (await short.get_json())["error"]["message"]
    assert short.status_code == 409
    assert "۵" in message and "۳" in message  # needs 5 in favour, 3 signed

    # One of them signs after all: 4 in favour is still short; the fifth makes it.
    for count, member in enumerate(majority[3:], start=4):
        client, member_csrf = await login_as(quart_app, people[_names(people, [member])[0]], otp)
        signed = await client.post(
            f"/api/v1/rulings/{ruling_id}/approvals",
            json={"otp": otp.code(people[_names(people, [member])[0]].totp_secret)},
            headers={"X-CSRF-Token": member_csrf},
        )
        assert signed.status_code == 201
        answer = await _issue(quart_app, people, otp, ruling_id)
        assert answer.status_code == (200 if count == 5 else 409), await answer.get_json()


async def test_the_majority_comes_from_the_rules_version_of_the_vote(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource, pki: PkiPaths
) -> None:
    """A board whose rules ask 6 votes in favour: 5 signatures in favour do not issue."""
    decided = await make_decided_case(
        db,
        board_type=BoardType.SETTLEMENT,
        plans=[MotionPlan(MotionKind.ACCEPT, "passed", against=("employer",) * 3)] * 2,
    )
    rules = default_rules(BoardType.SETTLEMENT).to_dict() | {"min_in_favour": 6}
    async with db.transaction() as session:
        version = BoardRulesVersion(board_type=BoardType.SETTLEMENT, version=99, rules_json=rules)
        session.add(version)
        await session.flush()
        for motion in await session.scalars(
            select(Motion).where(Motion.case_id == decided.case_id)
        ):
            motion.rules_version_id = version.id
    choices = await _choices(db, decided)
    majority = sorted({m for m, c in choices.items() if c == "for"})
    assert len(majority) == 6
    dissenters = sorted({m for m, c in choices.items() if c == "against"})
    _s, _c, ruling_id = await draft_and_approve(
        quart_app, people, otp, decided, approvers=_names(people, majority[:5] + dissenters)
    )
    made = await _record_missing(quart_app, people, otp, ruling_id, majority[5], "بیمار است")
    assert made.status_code == 201
    short = await _issue(quart_app, people, otp, ruling_id)
    assert short.status_code == 409
    assert "۶" in (await short.get_json())["error"]["message"]


async def test_diagnosis_dissenter_may_be_missing_but_not_a_member_in_favour(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource, pki: PkiPaths
) -> None:
    """Diagnosis (2 of 3): the refusing dissenter's gap recorded, the two in favour sign."""
    decided = await make_decided_case(
        db, plans=[MotionPlan(MotionKind.ACCEPT, "passed", against=("employer",))] * 2
    )
    _secretary, _csrf, ruling_id = await draft_and_approve(
        quart_app, people, otp, decided, approvers=["member.gov1"]
    )
    emp, emp_csrf = await login_as(quart_app, people["member.emp1"], otp)
    refused = await emp.post(
        f"/api/v1/rulings/{ruling_id}/approvals",
        json={
            "otp": otp.code(people["member.emp1"].totp_secret),
            "approve": False,
            "reason": "با رأی مخالفم.",
        },
        headers={"X-CSRF-Token": emp_csrf},
    )
    assert refused.status_code == 201
    # A refusal is no signature: the secretary records why it is missing.
    assert (await _issue(quart_app, people, otp, ruling_id)).status_code == 409
    made = await _record_missing(
        quart_app, people, otp, ruling_id, people["member.emp1"].id, "از امضا خودداری کرد"
    )
    assert made.status_code == 201
    missing_wrk = await _record_missing(
        quart_app, people, otp, ruling_id, people["member.wrk1"].id, "بیمار است"
    )
    assert missing_wrk.status_code == 201
    short = await _issue(quart_app, people, otp, ruling_id)
    assert short.status_code == 409  # one of the two in favour signed: the statute asks 2
    assert "۲" in (await short.get_json())["error"]["message"]
    wrk, wrk_csrf = await login_as(quart_app, people["member.wrk1"], otp)
    signed = await wrk.post(
        f"/api/v1/rulings/{ruling_id}/approvals",
        json={"otp": otp.code(people["member.wrk1"].totp_secret)},
        headers={"X-CSRF-Token": wrk_csrf},
    )
    assert signed.status_code == 201
    issued = await _issue(quart_app, people, otp, ruling_id)
    assert issued.status_code == 200, await issued.get_json()
