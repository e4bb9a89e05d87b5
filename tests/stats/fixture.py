"""A hand-computed fixture: one labour office of its own (so the demo's rows stay out of
its numbers), with cases, hearings, rulings, objections and attendance at known dates.

All times are 08:00 UTC (11:30 in Tehran, the same day). Jalali months: 2025-09-23 is
1 Mehr 1404 (``1404-07``), 2025-10-23 is 1 Aban 1404 (``1404-08``).

- A1..A10, first-instance cases at the diagnosis board, filed ``A_DAYS`` days before
  2025-10-01; all on the agenda of H4 (2025-09-25, failed for quorum, so not their first
  hearing) and of H1 (2025-10-01, held). Rulings: A1..A6 issued 2025-10-15, A7..A10 on
  2025-10-25. Claims in the rulings: unpaid wages accepted (A1..A7) or rejected (A8..A10);
  overtime partly accepted (A1..A5).
- B1..B3, filed 2025-10-20, first held hearing H2 (2025-11-05): a small cell.
- Four more held hearings in Mehr (2025-10-02..05), six postponed in Aban (2025-11-01..06).
- Parties objected to A1..A8's rulings: appeal cases P1..P8 at the settlement board;
  P1..P6 decided at H5 (2025-11-10, held): P1..P5 reverse the unpaid-wages decision, P6
  confirms it.
- Panels: H1, H4, H2 seat three members of the diagnosis board (H1 all attend, H4 one,
  H2 two: 6 of 9); H5 seats three of the settlement board, all attend (3 of 3).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import Role, User
from hearing_server.boards.models import Board, BoardRulesVersion, LabourOffice, Province, Seat
from hearing_server.cases.models import Case, CaseParty, CaseStatus, PartyRole
from hearing_server.issuance.models import Objection, Ruling, RulingState
from hearing_server.law.rules import BoardType, SeatGroup
from hearing_server.rooms.models import Attendance
from hearing_server.scheduling.models import AgendaItem, Hearing, HearingStatus, PanelSeat

A_DAYS = [10, 12, 14, 20, 30, 40, 41, 42, 43, 45]


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=8, tzinfo=UTC)


@dataclass
class Fixture:
    office_id: int
    diagnosis_id: int
    settlement_id: int
    cases: dict[str, int] = field(default_factory=dict)


async def build(session: AsyncSession) -> Fixture:
    code = secrets.token_hex(3).upper()
    province = Province(code=f"SP{code}", name_fa="استان آزمون", name_en="Test Province")
    session.add(province)
    await session.flush()
    office = LabourOffice(
        province_id=province.id,
        code=f"ST{code}",
        name_fa="اداره کار آزمون",
        name_en="Test Labour Office",
    )
    session.add(office)
    await session.flush()
    diagnosis = Board(
        office_id=office.id,
        type=BoardType.DIAGNOSIS,
        name_fa="هیأت تشخیص آزمون",
        name_en="Test Diagnosis Board",
    )
    settlement = Board(
        office_id=office.id,
        type=BoardType.SETTLEMENT,
        name_fa="هیأت حل اختلاف آزمون",
        name_en="Test Settlement Board",
    )
    session.add_all([diagnosis, settlement])
    await session.flush()
    seats: dict[int, list[Seat]] = {}
    for board in (diagnosis, settlement):
        seats[board.id] = [
            Seat(board_id=board.id, group=g, position=i, is_chair=i == 1)
            for i, g in enumerate((SeatGroup.GOVERNMENT, SeatGroup.WORKER, SeatGroup.EMPLOYER), 1)
        ]
        session.add_all(seats[board.id])
    members = list(
        await session.scalars(select(User).where(User.role == Role.MEMBER).order_by(User.id))
    )[:6]
    worker = await session.scalar(select(User).where(User.username == "worker"))
    secretary = await session.scalar(select(User).where(User.username == "secretary"))
    assert worker is not None and secretary is not None and len(members) == 6
    rules: dict[BoardType, int] = {}
    for kind in (BoardType.DIAGNOSIS, BoardType.SETTLEMENT):
        rid = await session.scalar(
            select(BoardRulesVersion.id)
            .where(BoardRulesVersion.board_type == kind)
            .order_by(BoardRulesVersion.version.desc())
            .limit(1)
        )
        assert rid is not None
        rules[kind] = rid
    await session.flush()
    fx = Fixture(office.id, diagnosis.id, settlement.id)
    parties: dict[str, int] = {}

    async def case(name: str, board: Board, filed: datetime, appeal_of: str | None = None) -> Case:
        made = Case(
            office_id=office.id,
            board_id=board.id,
            number=f"ST{code}{name}",
            status=CaseStatus.ACCEPTED,
            created_by_id=worker.id,
            filed_at=filed,
            appeal_of_id=fx.cases[appeal_of] if appeal_of else None,
        )
        session.add(made)
        await session.flush()
        party = CaseParty(
            case_id=made.id, role=PartyRole.CLAIMANT, user_id=worker.id, full_name="کارگر"
        )
        session.add(party)
        await session.flush()
        fx.cases[name] = made.id
        parties[name] = party.id
        return made

    async def hearing(
        board: Board,
        when: datetime,
        status: HearingStatus,
        agenda: list[str] = (),  # type: ignore[assignment]  # a tuple default
    ) -> Hearing:
        made = Hearing(
            board_id=board.id,
            starts_at=when,
            duration_minutes=60,
            status=status,
            rules_version_id=rules[board.type],
            created_by_id=secretary.id,
        )
        session.add(made)
        await session.flush()
        for position, name in enumerate(agenda, 1):
            session.add(
                AgendaItem(
                    hearing_id=made.id,
                    case_id=fx.cases[name],
                    position=position,
                    starts_at=when,
                    minutes=5,
                )
            )
        return made

    def panel(made: Hearing, board: Board, who: list[User], present: list[User]) -> None:
        for seat, member in zip(seats[board.id], who, strict=True):
            session.add(
                PanelSeat(
                    hearing_id=made.id,
                    seat_id=seat.id,
                    member_id=member.id,
                    group=seat.group,
                    is_chair=seat.is_chair,
                )
            )
        for member in present:
            session.add(
                Attendance(
                    hearing_id=made.id, user_id=member.id, role="member", joined_at=made.starts_at
                )
            )

    def ruling(name: str, made: Hearing, issued: datetime, claims: list[tuple[str, str]]) -> Ruling:
        r = Ruling(
            case_id=fx.cases[name],
            hearing_id=made.id,
            version=1,
            number=f"R{code}{name}",
            verification_code=secrets.token_hex(8),
            state=RulingState.ISSUED,
            content={
                "kind": "ruling",
                "claims": [{"kind": k, "decision": d, "awarded_rials": None} for k, d in claims],
            },
            issued_at=issued,
        )
        session.add(r)
        return r

    a_names = [f"A{i}" for i in range(1, 11)]
    for name, days in zip(a_names, A_DAYS, strict=True):
        await case(name, diagnosis, at("2025-10-01") - timedelta(days=days))
    for name in ("B1", "B2", "B3"):
        await case(name, diagnosis, at("2025-10-20"))
    d_members, s_members = members[:3], members[3:]
    h4 = await hearing(diagnosis, at("2025-09-25"), HearingStatus.FAILED_QUORUM, a_names)
    panel(h4, diagnosis, d_members, d_members[:1])
    h1 = await hearing(diagnosis, at("2025-10-01"), HearingStatus.HELD, a_names)
    panel(h1, diagnosis, d_members, d_members)
    for day in ("2025-10-02", "2025-10-03", "2025-10-04", "2025-10-05"):
        await hearing(diagnosis, at(day), HearingStatus.HELD)
    h2 = await hearing(diagnosis, at("2025-11-05"), HearingStatus.HELD, ["B1", "B2", "B3"])
    panel(h2, diagnosis, d_members, d_members[:2])
    for day in range(1, 7):
        await hearing(diagnosis, at(f"2025-11-0{day}"), HearingStatus.POSTPONED)
    rulings: dict[str, Ruling] = {}
    for i, name in enumerate(a_names, 1):
        claims = [("unpaid_wages", "accepted" if i <= 7 else "rejected")]
        if i <= 5:
            claims.append(("overtime", "partly_accepted"))
        issued = at("2025-10-15") if i <= 6 else at("2025-10-25")
        rulings[name] = ruling(name, h1, issued, claims)
    await session.flush()
    h5 = await hearing(settlement, at("2025-11-10"), HearingStatus.HELD)
    panel(h5, settlement, s_members, s_members)
    for i, name in enumerate(a_names[:8], 1):
        appeal = f"P{i}"
        await case(appeal, settlement, at("2025-10-28"), appeal_of=name)
        session.add(
            Objection(
                ruling_id=rulings[name].id,
                party_id=parties[name],
                user_id=worker.id,
                text="اعتراض",
                at=at("2025-10-28"),
                appeal_case_id=fx.cases[appeal],
            )
        )
        if i <= 6:
            original = rulings[name].content["claims"]
            changed = [dict(c) for c in original]
            if i <= 5:
                changed[0]["decision"] = "rejected"
            ruling(appeal, h5, at("2025-11-12"), [(c["kind"], c["decision"]) for c in changed])
            rulings[name].state = RulingState.APPEALED
    await session.flush()
    return fx
