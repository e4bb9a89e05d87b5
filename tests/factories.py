"""Direct-to-database builders for arranging tests, on top of the seeded demo.

They write rows as the services would leave them, so one part's tests do not depend on
another part's services. Use the services themselves when the behaviour under test is
theirs.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.accounts.models import User
from hearing_server.boards.models import Board, BoardRulesVersion, LabourOffice, Seat, SeatTerm
from hearing_server.cases.models import Case, CaseParty, CaseStatus, Claim, ClaimKind, PartyRole
from hearing_server.clock import utcnow
from hearing_server.law.rules import BoardType
from hearing_server.scheduling.models import AgendaItem, Hearing, PanelSeat, Summons

_counter = iter(range(1, 10**9))


TEHRAN = "THR"  # the demo's first labour office (office A), where the named people work
ISFAHAN = "ISF"  # its second (office B): secretary.isf, admin.isf, member.isf.*
SECRETARY_OF = {TEHRAN: "secretary", ISFAHAN: "secretary.isf"}


async def board_of(
    session: AsyncSession, board_type: BoardType = BoardType.DIAGNOSIS, office: str = TEHRAN
) -> Board:
    """The demo's board of ``board_type`` in the labour office coded ``office``."""
    board = await session.scalar(
        select(Board)
        .options(selectinload(Board.seats).selectinload(Seat.terms))
        .join(LabourOffice, LabourOffice.id == Board.office_id)
        .where(Board.type == board_type, LabourOffice.code == office)
    )
    assert board is not None, "the demo seeds both boards in both offices"
    return board


async def user_named(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    assert user is not None, username
    return user


async def make_case(
    session: AsyncSession,
    *,
    board_type: BoardType = BoardType.DIAGNOSIS,
    status: CaseStatus = CaseStatus.ACCEPTED,
    claimant: str = "worker",
    respondent: str | None = "employer",
    claims: list[tuple[ClaimKind, int | None]] | None = None,
    office: str = TEHRAN,
) -> Case:
    board = await board_of(session, board_type, office)
    worker = await user_named(session, claimant)
    n = next(_counter)
    case = Case(
        office_id=board.office_id,
        board_id=board.id,
        number=f"1405-9{n:05d}",
        tracking_code=secrets.token_hex(5).upper(),
        status=status,
        created_by_id=worker.id,
        filed_at=utcnow(),
        workshop_name="کارگاه نمونه",
        last_monthly_wage=150_000_000,
    )
    session.add(case)
    await session.flush()
    session.add(
        CaseParty(
            case_id=case.id,
            role=PartyRole.CLAIMANT,
            user_id=worker.id,
            full_name=worker.full_name,
            national_id=worker.national_id,
            mobile=worker.mobile,
        )
    )
    if respondent:
        employer = await user_named(session, respondent)
        session.add(
            CaseParty(
                case_id=case.id,
                role=PartyRole.RESPONDENT,
                user_id=employer.id,
                full_name=employer.full_name,
                national_id=employer.national_id,
                mobile=employer.mobile,
            )
        )
    for position, (kind, amount) in enumerate(
        claims or [(ClaimKind.UNPAID_WAGES, 450_000_000)], start=1
    ):
        session.add(Claim(case_id=case.id, position=position, kind=kind, amount=amount))
    await session.flush()
    return case


async def make_hearing(
    session: AsyncSession,
    *,
    cases: list[Case],
    board_type: BoardType = BoardType.DIAGNOSIS,
    starts_at: datetime | None = None,
    minutes: int = 60,
    panel_size: int | None = None,
    office: str = TEHRAN,
    **fields: Any,
) -> Hearing:
    """A scheduled hearing with the board's current seat holders as its panel and
    summonses for every party of its cases (at the board of the office coded ``office``)."""
    board = await board_of(session, board_type, office)
    rules = await session.scalar(
        select(BoardRulesVersion)
        .where(BoardRulesVersion.board_type == board_type)
        .order_by(BoardRulesVersion.version.desc())
        .limit(1)
    )
    assert rules is not None
    secretary = await user_named(session, SECRETARY_OF[office])
    # The test clock's now: a hearing's session may begin only at its start (#12 item 2).
    start = starts_at or utcnow()
    hearing = Hearing(
        board_id=board.id,
        starts_at=start,
        duration_minutes=minutes,
        rules_version_id=rules.id,
        created_by_id=secretary.id,
        **fields,
    )
    session.add(hearing)
    await session.flush()
    slot = minutes // max(1, len(cases))
    for position, case in enumerate(cases, start=1):
        session.add(
            AgendaItem(
                hearing_id=hearing.id,
                case_id=case.id,
                position=position,
                starts_at=start + timedelta(minutes=slot * (position - 1)),
                minutes=slot,
            )
        )
        case.status = CaseStatus.SCHEDULED
        parties = await session.scalars(select(CaseParty).where(CaseParty.case_id == case.id))
        for party in parties:
            session.add(
                Summons(
                    hearing_id=hearing.id,
                    case_id=case.id,
                    user_id=party.user_id,
                    party_id=party.id,
                    role=party.role.value,
                    sent_at=utcnow(),
                )
            )
    seats = board.seats[: panel_size or len(board.seats)]
    for seat in seats:
        term: SeatTerm = seat.terms[0]
        session.add(
            PanelSeat(
                hearing_id=hearing.id,
                seat_id=seat.id,
                member_id=term.member_id,
                group=seat.group,
                is_chair=seat.is_chair,
            )
        )
    await session.flush()
    return hearing
