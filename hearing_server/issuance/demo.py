"""The demo's ruled case: one diagnosis-board case carried through a whole hearing
(attendance, statements, three motions with named ballots and a dissent), the ruling
approved by the members and issued as a real signed PDF, and the minutes signed.

Rows are written as the hearing, room and voting services leave them; the ruling is
drafted, issued and the minutes signed by this part's own services. Idempotent: the
case is found by its tracking code on a second run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.audit.services import do_record, get_chain_head
from hearing_server.boards.models import Board, BoardRulesVersion, Seat, SeatTerm
from hearing_server.cases.models import Case, CaseParty, CaseStatus, Claim, ClaimKind, PartyRole
from hearing_server.cases.numbers import do_take_case_number
from hearing_server.cases.reasons import system_reason
from hearing_server.cases.workflow import do_transition
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.issuance.compose import member_ids, text_digest
from hearing_server.issuance.minutes import do_issue_minutes
from hearing_server.issuance.models import Approval, Ruling, RulingState
from hearing_server.issuance.rulings import do_draft_ruling, do_issue_ruling
from hearing_server.law.rules import BoardType
from hearing_server.rooms.models import Attendance, Statement
from hearing_server.scheduling.models import (
    AgendaItem,
    Hearing,
    HearingStatus,
    PanelAnswer,
    PanelSeat,
    RoomPhase,
    Summons,
)
from hearing_server.voting.ballots import do_record_ballot
from hearing_server.voting.models import Motion, MotionKind, MotionState

TRACKING_CODE = "DEMO-RULED"


async def _user(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise RuntimeError(f"the demo user {username} is missing")
    return user


async def ruled_case_summary(session: AsyncSession) -> dict[str, Any] | None:
    case = await session.scalar(select(Case).where(Case.tracking_code == TRACKING_CODE))
    if case is None:
        return None
    ruling = await session.scalar(
        select(Ruling)
        .where(Ruling.case_id == case.id, Ruling.state != RulingState.DRAFT)
        .order_by(Ruling.version.desc())
        .limit(1)
    )
    return {
        "case_number": case.number,
        "case_id": case.id,
        "ruling_number": ruling.number if ruling else None,
        "verification_code": ruling.verification_code if ruling else None,
        "state": ruling.state.value if ruling else None,
    }


async def do_seed_ruled_case(session: AsyncSession, settings: Settings) -> dict[str, Any] | None:
    """Create (once) the demo case with its hearing, votes, approvals, ruling and minutes."""
    existing = await ruled_case_summary(session)
    if existing is not None:
        return existing
    board = await session.scalar(
        select(Board).where(Board.type == BoardType.DIAGNOSIS).order_by(Board.id).limit(1)
    )
    rules = await session.scalar(
        select(BoardRulesVersion)
        .where(BoardRulesVersion.board_type == BoardType.DIAGNOSIS)
        .order_by(BoardRulesVersion.version.desc())
        .limit(1)
    )
    if board is None or rules is None:
        raise RuntimeError("the demo boards must be seeded first")
    secretary = await _user(session, "secretary")
    worker = await _user(session, "worker")
    employer = await _user(session, "employer")
    now = utcnow()
    start = now - timedelta(hours=2)

    case = Case(
        office_id=board.office_id,
        board_id=board.id,
        number=await do_take_case_number(session, board.office_id, now),
        tracking_code=TRACKING_CODE,
        status=CaseStatus.IN_HEARING,
        created_by_id=worker.id,
        created_at=start - timedelta(days=30),
        filed_at=start - timedelta(days=30),
        workshop_name="شرکت صنایع نمونه",
        workshop_address="تهران، خیابان آزادی، پلاک ۱۰",
        last_monthly_wage=150_000_000,
        description="سه ماه مزد و حق سنوات پرداخت نشده است.",
    )
    session.add(case)
    await session.flush()
    session.add_all(
        [
            CaseParty(
                case_id=case.id,
                role=PartyRole.CLAIMANT,
                user_id=worker.id,
                full_name=worker.full_name,
                national_id=worker.national_id,
                mobile=worker.mobile,
            ),
            CaseParty(
                case_id=case.id,
                role=PartyRole.RESPONDENT,
                user_id=employer.id,
                full_name=employer.full_name,
                national_id=employer.national_id,
                mobile=employer.mobile,
                representative_name="مینا کاظمی (وکیل)",
            ),
        ]
    )
    claims = [
        Claim(case_id=case.id, position=1, kind=ClaimKind.UNPAID_WAGES, amount=450_000_000),
        Claim(case_id=case.id, position=2, kind=ClaimKind.SEVERANCE, amount=300_000_000),
        Claim(case_id=case.id, position=3, kind=ClaimKind.OVERTIME, amount=80_000_000),
    ]
    session.add_all(claims)
    hearing = Hearing(
        board_id=board.id,
        starts_at=start,
        duration_minutes=60,
        status=HearingStatus.HELD,
        rules_version_id=rules.id,
        created_by_id=secretary.id,
        created_at=start - timedelta(days=10),
        phase=RoomPhase.CLOSED,
        current_case_id=case.id,
    )
    session.add(hearing)
    await session.flush()
    session.add(
        AgendaItem(hearing_id=hearing.id, case_id=case.id, position=1, starts_at=start, minutes=60)
    )
    seats = list(await session.scalars(select(Seat).where(Seat.board_id == board.id)))
    members: dict[str, int] = {}
    for seat in seats:
        term = await session.scalar(select(SeatTerm).where(SeatTerm.seat_id == seat.id))
        if term is None:
            continue
        members[seat.group.value] = term.member_id
        session.add(
            PanelSeat(
                hearing_id=hearing.id,
                seat_id=seat.id,
                member_id=term.member_id,
                group=seat.group,
                is_chair=seat.is_chair,
                answer=PanelAnswer.ATTENDING,
                answered_at=start - timedelta(days=2),
            )
        )
    for party_user, role in ((worker, "claimant"), (employer, "respondent")):
        session.add(
            Summons(
                hearing_id=hearing.id,
                case_id=case.id,
                user_id=party_user.id,
                role=role,
                sent_at=start - timedelta(days=7),
                attended=True,
            )
        )
    gov, wrk, emp = members["government"], members["worker"], members["employer"]
    for user_id, role, minutes_in, minutes_out in (
        (secretary.id, "secretary", -5, 65),
        (gov, "member", -3, 64),
        (wrk, "member", -2, 64),
        (emp, "member", 0, 64),
        (worker.id, "claimant", 2, 30),
        (employer.id, "respondent", 4, 30),
    ):
        session.add(
            Attendance(
                hearing_id=hearing.id,
                user_id=user_id,
                role=role,
                joined_at=start + timedelta(minutes=minutes_in),
                left_at=start + timedelta(minutes=minutes_out),
                admitted=True,
            )
        )
    for minute, author, body in (
        (8, worker.id, "سه ماه است که مزدم پرداخت نشده و فیش‌های حقوقی را بارگذاری کرده‌ام."),
        (15, employer.id, "شرکت با مشکل نقدینگی روبه‌رو بوده و اضافه‌کاری انجام نشده است."),
        (22, gov, "طرفین برای بیان آخرین دفاع فرصت داشتند؛ جلسه وارد شور می‌شود."),
    ):
        session.add(
            Statement(
                hearing_id=hearing.id,
                case_id=case.id,
                author_id=author,
                kind="statement",
                phase="hearing",
                body=body,
                at=start + timedelta(minutes=minute),
            )
        )
    await session.flush()

    eligible = [
        {"member_id": gov, "group": "government"},
        {"member_id": wrk, "group": "worker"},
        {"member_id": emp, "group": "employer"},
    ]
    Plan = tuple[
        Claim, MotionKind, str, int | None, str, str, str, dict[int, tuple[str, str | None]]
    ]
    plan: list[Plan] = [
        (
            claims[0],
            MotionKind.ACCEPT,
            "پذیرش مطالبات مزد معوق به مبلغ ۴۵۰٬۰۰۰٬۰۰۰ ریال",
            None,
            "فیش‌های حقوقی و گواهی بانک پرداخت نشدن مزد سه ماه را نشان می‌دهد.",
            "مواد ۳۵ و ۳۷ قانون کار",
            "passed",
            {
                gov: ("for", None),
                wrk: ("for", None),
                emp: ("against", "به نظر اینجانب بخشی از مزد نقدی پرداخت شده است."),
            },
        ),
        (
            claims[1],
            MotionKind.PARTLY_ACCEPT,
            "پذیرش بخشی از حق سنوات به مبلغ ۲۰۰٬۰۰۰٬۰۰۰ ریال",
            200_000_000,
            "سابقه‌ی کار دو سال ثابت شد، نه سه سال.",
            "ماده ۲۴ قانون کار",
            "passed",
            {gov: ("for", None), wrk: ("for", None), emp: ("for", None)},
        ),
        (
            claims[2],
            MotionKind.ACCEPT,
            "پذیرش اضافه‌کاری",
            None,
            "دلیلی بر انجام اضافه‌کاری ارائه نشد.",
            "ماده ۵۹ قانون کار",
            "failed",
            {
                gov: ("against", None),
                wrk: ("for", "گواهی همکاران انجام اضافه‌کاری را نشان می‌دهد."),
                emp: ("against", None),
            },
        ),
    ]
    minute = 30
    for claim, kind, text, amount, reasoning, basis, outcome, ballots in plan:
        opened = start + timedelta(minutes=minute)
        motion = Motion(
            hearing_id=hearing.id,
            case_id=case.id,
            claim_id=claim.id,
            kind=kind,
            text=text,
            amount=amount,
            reasoning=reasoning,
            legal_basis=basis,
            rules_version_id=rules.id,
            state=MotionState.OPEN,
            opened_by_id=gov,
            opened_at=opened,
            eligible=eligible,
        )
        session.add(motion)
        await session.flush()
        for i, (member_id, (choice, opinion)) in enumerate(ballots.items()):
            # Through the voting part's own recording: a real receipt, linked in the chain.
            cast_at = opened + timedelta(minutes=1 + i)
            await do_record_ballot(
                session,
                motion_id=motion.id,
                member_id=member_id,
                choice=choice,
                opinion=opinion,
                cast_at=cast_at,
                otp_step=int(cast_at.timestamp()) // 30,
            )
        votes_for = sum(1 for c, _o in ballots.values() if c == "for")
        motion.state = MotionState.CLOSED
        motion.closed_at = opened + timedelta(minutes=5)
        motion.closed_by_id = gov
        motion.outcome = outcome
        motion.result = {
            "outcome": outcome,
            "for": votes_for,
            "against": len(ballots) - votes_for,
            "abstain": 0,
            "eligible": len(ballots),
            "votes_needed": 2,
        }
        await do_record(
            session,
            actor_id=gov,
            action="motion.closed",
            subject_type="motion",
            subject_id=motion.id,
            payload={"outcome": outcome},
        )
        motion.chain_head_at_close = await get_chain_head(session)
        minute += 8
    chair = await session.get(User, gov)
    assert chair is not None  # noqa: S101  # seeded just above
    await do_transition(
        session, case, CaseStatus.DECIDED, actor=chair, reason=system_reason("voted")
    )
    await session.flush()

    ruling = await do_draft_ruling(session, settings, actor=secretary, case_id=case.id)
    for member_id in member_ids(ruling):
        session.add(Approval(ruling_id=ruling.id, member_id=member_id, approved=True, at=utcnow()))
        await do_record(
            session,
            actor_id=member_id,
            action="ruling.approved",
            subject_type="ruling",
            subject_id=ruling.id,
            payload={"text_sha256": text_digest(ruling.content), "demo": True},
        )
    await session.flush()
    await do_issue_ruling(session, settings, actor=secretary, ruling_id=ruling.id)
    await do_issue_minutes(session, settings, actor=secretary, hearing_id=hearing.id)
    return await ruled_case_summary(session)
