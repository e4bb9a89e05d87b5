"""Opening motions, casting OTP-verified ballots, receipts, closing and the tally, over
the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select, update

from hearing_server.audit.models import AuditEvent
from hearing_server.audit.services import verify_chain
from hearing_server.cases.models import Case, CaseStatus, CaseTransition, ClaimKind
from hearing_server.clock import utcnow
from hearing_server.law.rules import BoardType
from hearing_server.notifications.models import OutboxMessage
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.models import Attendance
from hearing_server.rooms.phases import do_set_phase
from hearing_server.scheduling.models import Hearing
from hearing_server.scheduling.queries import accepted_cases
from hearing_server.voting.models import Ballot, Motion
from tests.conftest import OtpSource, Person
from tests.factories import user_named
from tests.voting.conftest import SETTLEMENT, Login, arrange_voting, cast, open_motion


async def _count(db: Any, model: Any, *where: Any) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_member_casts_with_oathtool_code_and_looks_up_the_receipt(
    db: Any, login: Login, otp: OtpSource
) -> None:
    arranged = await arrange_voting(db)
    secretary = await login("secretary")
    motion = await open_motion(secretary, arranged)
    assert motion["state"] == "open" and motion["eligible_count"] == 3
    worker_rep = await login("member.wrk1")
    status, body = await cast(worker_rep, motion["id"], otp, "against", opinion="مبلغ ثابت نشده")
    assert status == 201, body
    receipt = body["receipt"]
    assert len(receipt) == 64 and body["motion_state"] == "open"

    status, found = await worker_rep.get(f"/api/v1/receipts/{receipt}")
    assert status == 200, found
    assert found["choice"] == "against"
    assert found["member"]["id"] == worker_rep.person.id
    assert found["motion"]["id"] == motion["id"]
    assert found["in_chain"] is True
    # Another member (or anyone else) cannot read it: it is not theirs.
    chair = await login("member.gov1")
    status, _ = await chair.get(f"/api/v1/receipts/{receipt}")
    assert status == 404
    status, _ = await worker_rep.get(f"/api/v1/receipts/{'0' * 64}")
    assert status == 404

    # While open, the room sees who has voted, not how.
    status, seen = await chair.get(f"/api/v1/motions/{motion['id']}")
    assert status == 200
    voted = {m["member_id"]: m["voted"] for m in seen["members"]}
    assert voted[worker_rep.person.id] is True and voted[chair.person.id] is False
    assert "ballots" not in seen and "my_ballot" not in seen and "result" not in seen
    assert "against" not in str(seen)


async def test_receipt_is_not_in_chain_once_the_ballot_row_is_altered(
    db: Any, login: Login, otp: OtpSource
) -> None:
    arranged = await arrange_voting(db)
    motion = await open_motion(await login("secretary"), arranged)
    member = await login("member.emp1")
    _, body = await cast(member, motion["id"], otp, "for")
    async with db.transaction() as session:
        await session.execute(
            update(Ballot).where(Ballot.receipt == body["receipt"]).values(choice="against")
        )
    status, found = await member.get(f"/api/v1/receipts/{body['receipt']}")
    assert status == 200
    assert found["in_chain"] is False


async def test_a_code_is_accepted_once_and_a_ballot_is_final(
    db: Any, login: Login, otp: OtpSource
) -> None:
    arranged = await arrange_voting(
        db, claims=[(ClaimKind.UNPAID_WAGES, 10), (ClaimKind.OVERTIME, 5)]
    )
    secretary = await login("secretary")
    first = await open_motion(secretary, arranged, claim=0)
    second = await open_motion(secretary, arranged, claim=1)
    member = await login("member.wrk1")
    code = otp.code(member.person.totp_secret)
    status, _ = await cast(member, first["id"], otp, code=code)
    assert status == 201
    # The same code on another motion: a replay.
    status, body = await cast(member, second["id"], otp, code=code)
    assert status == 422 and body["error"]["code"] == "otp_reused", body
    # The same motion again, with a fresh code: already voted.
    status, body = await cast(member, first["id"], otp, "against")
    assert status == 409
    assert body["error"] == {
        "code": "already_voted",
        "message": "شما قبلاً در این رأی‌گیری رأی داده‌اید.",  # the member's locale
    }
    mine = (Ballot.member_id == member.person.id, Ballot.motion_id.in_([first["id"], second["id"]]))
    assert await _count(db, Ballot, *mine) == 1


async def test_five_wrong_codes_lock_voting_and_every_attempt_is_audited(
    db: Any, login: Login, otp: OtpSource
) -> None:
    arranged = await arrange_voting(db)
    motion = await open_motion(await login("secretary"), arranged)
    member = await login("member.emp1")
    right = otp.code(member.person.totp_secret)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        status, body = await cast(member, motion["id"], otp, code=wrong)
        assert status == 422 and body["error"]["code"] == "otp_invalid"
    status, body = await cast(member, motion["id"], otp, code=right)
    assert status == 423 and body["error"]["code"] == "otp_locked"
    assert await _count(db, Ballot, Ballot.motion_id == motion["id"]) == 0
    failed = await _count(
        db, AuditEvent, AuditEvent.action == "otp.failed", AuditEvent.actor_id == member.person.id
    )
    assert failed == 5
    locked = (AuditEvent.action == "otp.locked", AuditEvent.actor_id == member.person.id)
    assert await _count(db, AuditEvent, *locked) == 1


async def test_last_ballot_closes_the_vote_and_decides_the_case(
    db: Any, login: Login, otp: OtpSource
) -> None:
    arranged = await arrange_voting(db)
    motion = await open_motion(await login("secretary"), arranged)
    members = [await login(u) for u in ("member.gov1", "member.wrk1", "member.emp1")]
    answers = []
    for member, choice in zip(members, ["for", "for", "against"], strict=True):
        status, body = await cast(member, motion["id"], otp, choice)
        assert status == 201, body
        answers.append(body)
    assert [a["closed"] for a in answers] == [False, False, True]
    assert answers[-1]["outcome"] == "passed"

    status, seen = await members[0].get(f"/api/v1/motions/{motion['id']}")
    assert seen["state"] == "closed" and seen["outcome"] == "passed"
    assert seen["result"]["votes_for"] == 2 and seen["result"]["votes_against"] == 1
    assert {b["choice"] for b in seen["ballots"]} == {"for", "against"}
    async with db.transaction(write=False) as session:
        closed_event = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "motion.closed", AuditEvent.subject_id == str(motion["id"])
            )
        )
        stored = await session.get(Motion, motion["id"])
        case = await session.get(Case, arranged.case_id)
        transition = await session.scalar(
            select(CaseTransition).where(CaseTransition.case_id == arranged.case_id)
        )
        report = await verify_chain(session)
    assert closed_event is not None and stored is not None and case is not None
    assert stored.chain_head_at_close == closed_event.hash
    assert case.status == CaseStatus.DECIDED
    assert transition is not None and transition.to_status == "decided"
    assert report.ok
    # The chair (member.gov1) cannot close it again.
    status, body = await members[0].post(f"/api/v1/motions/{motion['id']}/close")
    assert status == 409 and body["error"]["code"] == "vote_closed"


async def test_settlement_board_no_majority_requires_a_rehearing(
    db: Any, login: Login, otp: OtpSource, settings: Any
) -> None:
    arranged = await arrange_voting(db, board_type=BoardType.SETTLEMENT)
    secretary = await login("secretary")
    motion = await open_motion(secretary, arranged)
    choices = ["for", "for", "for", "for", "against", "against", "against"]
    for username, choice in zip(SETTLEMENT, choices, strict=False):
        status, body = await cast(await login(username), motion["id"], otp, choice)
        assert status == 201, body
    status, closed = await secretary.post(f"/api/v1/motions/{motion['id']}/close")
    assert status == 200, closed
    assert closed["outcome"] == "no_majority"
    assert closed["rehearing_required"] is True
    assert closed["result"]["votes_for"] == 4 and closed["result"]["not_voted"] == 2
    async with db.transaction(write=False) as session:
        case = await session.get(Case, arranged.case_id)
    assert case is not None and case.status == CaseStatus.IN_HEARING
    # The secretary's vote page offers the scheduling form of the board.
    response = await secretary.client.get(f"/hearings/{arranged.hearing_id}/vote")
    page = await response.get_data(as_text=True)
    async with db.transaction(write=False) as session:
        hearing = await session.get(Hearing, arranged.hearing_id)
    assert hearing is not None
    assert f'href="/boards/{hearing.board_id}/hearings/new"' in page

    # The secretary closes the room: the case goes back to the queue, to be reheard.
    async with db.transaction() as session:
        secretary_user = await user_named(session, "secretary")
        ctx = RoomContext(
            sid="-",
            user=secretary_user,
            hearing_id=arranged.hearing_id,
            role="secretary",
            locale="en",
            settings=settings,
        )
        await do_set_phase(session, ctx, "closed")
    async with db.transaction(write=False) as session:
        case = await session.get(Case, arranged.case_id)
        queue = await accepted_cases(session, hearing.board_id)
        back = await session.scalar(
            select(CaseTransition)
            .where(CaseTransition.case_id == arranged.case_id)
            .order_by(CaseTransition.id.desc())
        )
    assert case is not None and case.status == CaseStatus.ACCEPTED
    assert arranged.case_id in [c.id for c in queue]
    assert back is not None and back.from_status == "in_hearing"
    assert "reheard" in (back.reason or "")
    # The worker is told it will be heard again (not that it was "accepted" once more).
    async with db.transaction(write=False) as session:
        told = list(
            await session.scalars(
                select(OutboxMessage.body).where(
                    OutboxMessage.dedupe_key.startswith(f"case:{arranged.case_id}:{back.id}:")
                )
            )
        )
    assert told and all("جلسهٔ دیگری" in body for body in told)


async def test_settlement_board_five_in_favour_pass(db: Any, login: Login, otp: OtpSource) -> None:
    arranged = await arrange_voting(db, board_type=BoardType.SETTLEMENT, present=SETTLEMENT[:7])
    secretary = await login("secretary")
    motion = await open_motion(secretary, arranged)
    assert motion["eligible_count"] == 7
    for username in SETTLEMENT[:5]:
        status, _ = await cast(await login(username), motion["id"], otp, "for")
        assert status == 201
    status, closed = await secretary.post(f"/api/v1/motions/{motion['id']}/close")
    assert closed["outcome"] == "passed"


async def test_quorum_is_checked_when_the_vote_opens(db: Any, login: Login) -> None:
    secretary = await login("secretary")
    six = await arrange_voting(db, board_type=BoardType.SETTLEMENT, present=SETTLEMENT[:6])
    status, body = await secretary.post(
        f"/api/v1/hearings/{six.hearing_id}/motions",
        {"case_id": six.case_id, "kind": "reject", "text": "رد", "claim_id": six.claim_ids[0]},
    )
    assert status == 409 and body["error"]["code"] == "no_quorum"
    assert "۶ عضو حاضر" in body["error"]["message"]
    assert await _count(db, Motion, Motion.hearing_id == six.hearing_id) == 0


async def test_quorum_is_checked_again_when_the_vote_closes(
    db: Any, login: Login, otp: OtpSource
) -> None:
    arranged = await arrange_voting(db, board_type=BoardType.SETTLEMENT, present=SETTLEMENT[:7])
    secretary = await login("secretary")
    motion = await open_motion(secretary, arranged)
    for username in SETTLEMENT[:5]:
        await cast(await login(username), motion["id"], otp, "for")
    # Two members who had not voted leave the room before the close.
    async with db.transaction() as session:
        leaving = [p for p in SETTLEMENT[5:7]]
        from tests.factories import user_named

        ids = [(await user_named(session, u)).id for u in leaving]
        await session.execute(
            update(Attendance)
            .where(Attendance.hearing_id == arranged.hearing_id, Attendance.user_id.in_(ids))
            .values(left_at=utcnow())
        )
    status, closed = await secretary.post(f"/api/v1/motions/{motion['id']}/close")
    assert status == 200
    assert closed["outcome"] == "no_quorum"


async def test_recusal_is_recorded_and_stops_the_member_voting(
    db: Any, login: Login, otp: OtpSource, people: dict[str, Person]
) -> None:
    arranged = await arrange_voting(db, board_type=BoardType.SETTLEMENT)
    secretary = await login("secretary")
    motion = await open_motion(secretary, arranged)
    member = await login("member.emp4")
    status, body = await member.post(
        f"/api/v1/hearings/{arranged.hearing_id}/recusals",
        {"case_id": arranged.case_id, "reason": "خویشاوندی با کارفرما"},
    )
    assert status == 201, body
    status, body = await member.post(
        f"/api/v1/hearings/{arranged.hearing_id}/recusals",
        {"case_id": arranged.case_id, "reason": "again"},
    )
    assert status == 409
    status, body = await cast(member, motion["id"], otp)
    assert status == 403 and body["error"]["code"] == "recused"
    assert (
        await _count(
            db,
            AuditEvent,
            AuditEvent.action == "recusal.declared",
            AuditEvent.subject_id == str(arranged.case_id),
        )
        == 1
    )
    # The other eight voting closes the motion: the recused member is not waited for.
    last: Any = None
    for username in SETTLEMENT[:8]:
        status, last = await cast(await login(username), motion["id"], otp, "for")
        assert status == 201, last
    assert last["closed"] is True and last["outcome"] == "passed"
    status, seen = await secretary.get(f"/api/v1/motions/{motion['id']}")
    assert seen["result"]["recused"] == 1 and seen["result"]["eligible"] == 8


async def test_a_member_who_voted_cannot_recuse_from_the_open_motion(
    db: Any, login: Login, otp: OtpSource
) -> None:
    arranged = await arrange_voting(db)
    motion = await open_motion(await login("secretary"), arranged)
    member = await login("member.wrk1")
    await cast(member, motion["id"], otp)
    status, _body = await member.post(
        f"/api/v1/hearings/{arranged.hearing_id}/recusals",
        {"case_id": arranged.case_id, "reason": "conflict"},
    )
    assert status == 409
    assert (
        await _count(
            db,
            AuditEvent,
            AuditEvent.action == "recusal.declared",
            AuditEvent.subject_id == str(arranged.case_id),
        )
        == 0
    )


async def test_access_is_checked_on_every_call(db: Any, login: Login, otp: OtpSource) -> None:
    arranged = await arrange_voting(db)
    secretary = await login("secretary")
    motion = await open_motion(secretary, arranged)
    outsider = await login("member.gov2")  # a settlement board member, not on this panel
    worker = await login("worker")
    # Hidden, not forbidden: the one hearing rule answers 404 to whoever may not see it.
    status, _ = await outsider.get(f"/api/v1/hearings/{arranged.hearing_id}/motions")
    assert status == 404
    # A party is refused by the route itself (votes are the board's), whatever the hearing.
    status, _ = await worker.get(f"/api/v1/hearings/{arranged.hearing_id}/motions")
    assert status == 403
    status, body = await cast(outsider, motion["id"], otp)
    assert status == 403
    status, _ = await worker.post(
        f"/api/v1/motions/{motion['id']}/ballots", {"choice": "for", "otp": "1"}
    )
    assert status == 403
    # A panel member who is not the chair cannot open or close votes.
    member = await login("member.wrk1")
    status, _ = await member.post(f"/api/v1/motions/{motion['id']}/close")
    assert status == 403
    # The chair can.
    chair = await login("member.gov1")
    status, closed = await chair.post(f"/api/v1/motions/{motion['id']}/close")
    assert status == 200 and closed["outcome"] == "no_majority"
    status, body = await cast(member, motion["id"], otp)
    assert status == 409 and body["error"]["code"] == "vote_closed"
    # Without the CSRF header a ballot is refused.
    response = await member.client.post(
        f"/api/v1/motions/{motion['id']}/ballots", json={"choice": "for", "otp": "123456"}
    )
    assert response.status_code == 403


async def test_bad_input_is_a_clear_4xx_in_persian_and_writes_nothing(
    db: Any, login: Login, otp: OtpSource
) -> None:
    arranged = await arrange_voting(db)
    secretary = await login("secretary")
    motion = await open_motion(secretary, arranged)
    member = await login("member.wrk1")
    response = await member.client.post(
        f"/api/v1/motions/{motion['id']}/ballots",
        json={"choice": "maybe", "otp": otp.code(member.person.totp_secret)},
        headers={"X-CSRF-Token": member.csrf, "Accept-Language": "fa"},
    )
    body = await response.get_json()
    assert response.status_code == 422
    assert body["error"]["field"] == "choice"
    assert body["error"]["message"] == "یکی از گزینه‌های موافق، مخالف یا ممتنع را انتخاب کنید."
    status, body = await member.post(f"/api/v1/motions/{motion['id']}/ballots", {"choice": "for"})
    assert status == 422
    status, body = await secretary.post(
        f"/api/v1/hearings/{arranged.hearing_id}/motions",
        {
            "case_id": arranged.case_id,
            "kind": "partly_accept",
            "text": " ",
            "claim_id": arranged.claim_ids[0],
            "amount": 0,
        },
    )
    assert status == 422
    assert set(body["error"]["fields"]) == {"text", "amount"}
    status, _ = await member.post("/api/v1/motions/999999/ballots", {"choice": "for", "otp": "1"})
    assert status == 404
    assert await _count(db, Ballot, Ballot.motion_id == motion["id"]) == 0
    assert await _count(db, Motion, Motion.hearing_id == arranged.hearing_id) == 1


async def test_a_vote_opens_only_in_the_voting_phase(db: Any, login: Login) -> None:
    from hearing_server.scheduling.models import RoomPhase

    arranged = await arrange_voting(db, phase=RoomPhase.DELIBERATION)
    secretary = await login("secretary")
    status, _body = await secretary.post(
        f"/api/v1/hearings/{arranged.hearing_id}/motions",
        {
            "case_id": arranged.case_id,
            "kind": "accept",
            "text": "x",
            "claim_id": arranged.claim_ids[0],
        },
    )
    assert status == 409
    assert await _count(db, Motion, Motion.hearing_id == arranged.hearing_id) == 0


async def test_a_ballot_racing_the_close_is_counted_or_refused_never_half_recorded(
    db: Any, login: Login, otp: OtpSource
) -> None:
    rounds = 4
    arranged = await arrange_voting(
        db, claims=[(ClaimKind.UNPAID_WAGES, 1000 + i) for i in range(rounds)]
    )
    secretary = await login("secretary")
    members = [await login(u) for u in ("member.gov1", "member.wrk1", "member.emp1")]
    seen = set()
    for round_ in range(rounds):
        motion = await open_motion(secretary, arranged, claim=round_)
        for member in members[:2]:
            status, _ = await cast(member, motion["id"], otp, "for")
            assert status == 201
        last = members[2]
        code = otp.code(last.person.totp_secret)
        ballot_task = cast(last, motion["id"], otp, "against", code=code)
        close_task = secretary.post(f"/api/v1/motions/{motion['id']}/close")
        if round_ % 2:
            (b_status, b_body), (c_status, _) = await asyncio.gather(ballot_task, close_task)
        else:
            (c_status, _), (b_status, b_body) = await asyncio.gather(close_task, ballot_task)
        async with db.transaction(write=False) as session:
            stored = await session.get(Motion, motion["id"])
            rows = list(
                await session.scalars(select(Ballot).where(Ballot.motion_id == motion["id"]))
            )
            cast_events = await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.action == "ballot.cast", AuditEvent.subject_id == str(motion["id"])
                )
            )
        assert stored is not None and stored.state == "closed"
        assert stored.result is not None
        counted = {b["member_id"] for b in stored.result["ballots"]}
        assert counted == {r.member_id for r in rows}
        assert cast_events == len(rows)
        if b_status == 201:
            seen.add("counted")
            assert last.person.id in counted and len(rows) == 3
            assert stored.result["votes_against"] == 1
            assert c_status in (200, 409)
        else:
            seen.add("refused")
            assert b_status == 409 and b_body["error"]["code"] == "vote_closed"
            assert len(rows) == 2 and c_status == 200
            assert stored.result["not_voted"] == 1
    assert seen  # every round ended in one of the two allowed ways


async def test_rules_are_published_by_an_admin_and_a_vote_keeps_its_version(
    db: Any, login: Login, otp: OtpSource
) -> None:
    arranged = await arrange_voting(db)
    secretary = await login("secretary")
    motion = await open_motion(secretary, arranged)
    admin = await login("admin")
    bad = {
        "seats": {"worker": 1, "employer": 1, "government": 1},
        "quorum": 4,
        "threshold": "simple_majority_of_present",
    }
    response = await admin.client.post(
        "/api/v1/admin/board-rules",
        json={"board_type": "diagnosis", "rules": bad},
        headers={"X-CSRF-Token": admin.csrf, "Accept-Language": "fa"},
    )
    body = await response.get_json()
    assert response.status_code == 422
    assert body["error"]["message"].startswith("این قواعد قابل اجرا نیست")
    status, _ = await secretary.post(
        "/api/v1/admin/board-rules", {"board_type": "diagnosis", "rules": bad}
    )
    assert status == 403
    looser = {**bad, "quorum": 2}
    status, published = await admin.post(
        "/api/v1/admin/board-rules", {"board_type": "diagnosis", "rules": looser}
    )
    assert status == 201, published
    assert published["version"] == 2 and published["rules"]["quorum"] == 2
    # Two vote for, the third member leaves: under version 1 (quorum 3 of 3) there is no
    # quorum at the close, although version 2 would have passed it.
    for username in ("member.gov1", "member.wrk1"):
        await cast(await login(username), motion["id"], otp, "for")
    async with db.transaction() as session:
        from tests.factories import user_named

        emp = await user_named(session, "member.emp1")
        await session.execute(
            update(Attendance).where(Attendance.user_id == emp.id).values(left_at=utcnow())
        )
    status, closed = await secretary.post(f"/api/v1/motions/{motion['id']}/close")
    assert closed["rules_version_id"] == motion["rules_version_id"]
    assert closed["outcome"] == "no_quorum"
    # A vote opened now uses version 2.
    async with db.transaction() as session:
        await session.execute(update(Attendance).values(left_at=None))
    second = await open_motion(secretary, arranged, kind="free_text", text="هزینه دادرسی")
    assert second["rules_version_id"] == published["id"]


async def test_a_receipt_lookup_reads_a_few_rows_and_says_when_a_checkpoint_anchors_it(
    db: Any, login: Login, otp: OtpSource, settings: Any
) -> None:
    """A receipt is found by its index; the lookup never walks the chain (whatever its
    length it loads a couple of audit rows), and ``chain_verified`` says whether a sealed
    checkpoint covers the ballot's event. Editing the event itself is still caught."""
    from sqlalchemy import event as sa_event

    from hearing_server.audit.checkpoints import make_checkpoint
    from hearing_server.audit.services import do_record

    arranged = await arrange_voting(db)
    motion = await open_motion(await login("secretary"), arranged)
    member = await login("member.emp1")
    _, body = await cast(member, motion["id"], otp, "for")
    async with db.transaction() as session:  # a long chain after the ballot
        for i in range(300):
            await do_record(session, actor_id=None, action="test.filler", payload={"i": i})

    loaded: list[int] = []

    def on_load(target: Any, _context: Any) -> None:
        loaded.append(target.seq)

    sa_event.listen(AuditEvent, "load", on_load)
    try:
        status, found = await member.get(f"/api/v1/receipts/{body['receipt']}")
    finally:
        sa_event.remove(AuditEvent, "load", on_load)
    assert status == 200 and found["in_chain"] is True
    assert len(loaded) <= 2, f"the lookup loaded {len(loaded)} audit rows"
    assert found["chain_verified"] is False and found["checkpoint_seq"] is None

    sealed = await make_checkpoint(db, settings)
    assert sealed is not None
    status, found = await member.get(f"/api/v1/receipts/{body['receipt']}")
    assert found["in_chain"] is True and found["chain_verified"] is True
    assert found["checkpoint_seq"] == sealed.seq

    # The ballot's own event rewritten (its hash no longer holds): not in the chain.
    async with db.transaction() as session:
        await session.execute(
            update(AuditEvent).where(AuditEvent.seq == found["audit_seq"]).values(actor_id=None)
        )
    status, found = await member.get(f"/api/v1/receipts/{body['receipt']}")
    assert found["in_chain"] is False and found["chain_verified"] is False
