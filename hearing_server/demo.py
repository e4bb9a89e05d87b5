"""``heyat demo``: two labour offices in two provinces (Tehran, Isfahan), each with both
boards fully seated and its own secretary, a counter office serving both with its clerk,
and the people of a Monday morning. Idempotent: a second run finds what the first made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts import services as accounts
from hearing_server.accounts.models import Role, TotpCredential, User
from hearing_server.accounts.security import SecretBox
from hearing_server.boards.models import (
    Board,
    BoardRulesVersion,
    CounterOffice,
    LabourOffice,
    Province,
    Seat,
    SeatTerm,
    counter_office_serves,
)
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.law.rules import BoardType, SeatGroup, default_rules
from hearing_server.text import make_national_id

DEMO_PASSWORD = "heyat-demo-1405"  # noqa: S105  # published demo password, printed by `heyat demo --json`


@dataclass(frozen=True)
class DemoPerson:
    username: str
    full_name: str
    role: Role
    nid_prefix: str | None = None
    mobile: str | None = None
    office: str | None = None  # the labour office's code (staff)
    counter: str | None = None  # the counter office's code (clerks)


TEHRAN = "THR"
ISFAHAN = "ISF"
COUNTER = "PK-1001"

PEOPLE = [
    # The national admin: no office, manages the offices.
    DemoPerson("admin", "مدیر سامانه", Role.ADMIN),
    DemoPerson("secretary", "مریم احمدی", Role.SECRETARY, "001234567", "09121000001", TEHRAN),
    DemoPerson("clerk", "رضا کریمی", Role.CLERK, "001234568", "09121000002", counter=COUNTER),
    DemoPerson("worker", "علی رضایی", Role.PARTY, "001234569", "09121000003"),
    DemoPerson("employer", "شرکت صنایع نمونه (حسن مرادی)", Role.PARTY, "001234570", "09121000004"),
    # Isfahan: its own secretary and office admin.
    DemoPerson(
        "secretary.isf", "نرگس اصفهانی", Role.SECRETARY, "001234571", "09131000001", ISFAHAN
    ),
    DemoPerson("admin.isf", "مدیر اداره کار اصفهان", Role.ADMIN, office=ISFAHAN),
]
# Diagnosis board: chair (government), worker rep, employer rep.
DIAGNOSIS_MEMBERS = [
    ("member.gov1", "دکتر فاطمه حسینی", SeatGroup.GOVERNMENT, True),
    ("member.wrk1", "محمد صادقی", SeatGroup.WORKER, False),
    ("member.emp1", "زهرا نوری", SeatGroup.EMPLOYER, False),
]
ISFAHAN_DIAGNOSIS_MEMBERS = [
    ("member.isf.gov1", "کاوه امینی", SeatGroup.GOVERNMENT, True),
    ("member.isf.wrk1", "بهرام صفایی", SeatGroup.WORKER, False),
    ("member.isf.emp1", "مینا طاهری", SeatGroup.EMPLOYER, False),
]
ISFAHAN_SETTLEMENT_MEMBERS = [
    ("member.isf.gov2", "پرویز نادری", SeatGroup.GOVERNMENT, True),
    ("member.isf.gov3", "شهره فاضلی", SeatGroup.GOVERNMENT, False),
    ("member.isf.gov4", "رامین توکلی", SeatGroup.GOVERNMENT, False),
    ("member.isf.wrk2", "یوسف کرمانی", SeatGroup.WORKER, False),
    ("member.isf.wrk3", "الهام رستمی", SeatGroup.WORKER, False),
    ("member.isf.wrk4", "داوود بهرامی", SeatGroup.WORKER, False),
    ("member.isf.emp2", "فرزانه ملکی", SeatGroup.EMPLOYER, False),
    ("member.isf.emp3", "مسعود زارعی", SeatGroup.EMPLOYER, False),
    ("member.isf.emp4", "آزاده نیک‌نام", SeatGroup.EMPLOYER, False),
]
SETTLEMENT_MEMBERS = [
    ("member.gov2", "حمید رحیمی", SeatGroup.GOVERNMENT, True),
    ("member.gov3", "لیلا مرادی", SeatGroup.GOVERNMENT, False),
    ("member.gov4", "سعید کاظمی", SeatGroup.GOVERNMENT, False),
    ("member.wrk2", "اکبر جعفری", SeatGroup.WORKER, False),
    ("member.wrk3", "نرگس عباسی", SeatGroup.WORKER, False),
    ("member.wrk4", "جواد قاسمی", SeatGroup.WORKER, False),
    ("member.emp2", "پروین یوسفی", SeatGroup.EMPLOYER, False),
    ("member.emp3", "مهدی شریفی", SeatGroup.EMPLOYER, False),
    ("member.emp4", "سارا حیدری", SeatGroup.EMPLOYER, False),
]


async def _ensure_user(
    session: AsyncSession,
    settings: Settings,
    username: str,
    full_name: str,
    role: Role,
    national_id: str | None,
    mobile: str | None,
    office_id: int | None = None,
    counter_office_id: int | None = None,
) -> User:
    user = await accounts.get_user_by_username(session, username)
    if user is None:
        user = await accounts.do_create_user(
            session,
            username=username,
            full_name=full_name,
            password=DEMO_PASSWORD,
            role=role,
            national_id=national_id,
            mobile=mobile,
            office_id=office_id,
            counter_office_id=counter_office_id,
        )
    cred = await session.get(TotpCredential, user.id)
    if cred is None:
        box = SecretBox(settings.totp_keys)
        session.add(
            TotpCredential(
                user_id=user.id,
                secret_encrypted=box.seal(pyotp.random_base32()),
                activated_at=utcnow(),
            )
        )
        await session.flush()
    return user


async def ensure_rules(session: AsyncSession) -> None:
    for board_type in BoardType:
        exists = await session.scalar(
            select(BoardRulesVersion.id).where(BoardRulesVersion.board_type == board_type)
        )
        if exists is None:
            session.add(
                BoardRulesVersion(
                    board_type=board_type, version=1, rules_json=default_rules(board_type).to_dict()
                )
            )
    await session.flush()


async def _ensure_board(
    session: AsyncSession,
    settings: Settings,
    office: LabourOffice,
    board_type: BoardType,
    name_fa: str,
    name_en: str,
    members: list[tuple[str, str, SeatGroup, bool]],
    nid_base: int,
) -> Board:
    board = await session.scalar(
        select(Board).where(Board.office_id == office.id, Board.type == board_type)
    )
    if board is None:
        board = Board(office_id=office.id, type=board_type, name_fa=name_fa, name_en=name_en)
        session.add(board)
        await session.flush()
    positions: dict[SeatGroup, int] = {}
    for i, (username, full_name, group, chair) in enumerate(members):
        positions[group] = positions.get(group, 0) + 1
        user = await _ensure_user(
            session,
            settings,
            username,
            full_name,
            Role.MEMBER,
            make_national_id(f"{nid_base + i:09d}"),
            f"0912200{nid_base % 100:02d}{i:02d}",
            office_id=office.id,
        )
        seat = await session.scalar(
            select(Seat).where(
                Seat.board_id == board.id, Seat.group == group, Seat.position == positions[group]
            )
        )
        if seat is None:
            seat = Seat(board_id=board.id, group=group, position=positions[group], is_chair=chair)
            session.add(seat)
            await session.flush()
            session.add(SeatTerm(seat_id=seat.id, member_id=user.id, starts_on=date(2025, 3, 21)))
    await session.flush()
    return board


async def _ensure_province(
    session: AsyncSession, code: str, name_fa: str, name_en: str
) -> Province:
    province = await session.scalar(select(Province).where(Province.code == code))
    if province is None:
        province = Province(code=code, name_fa=name_fa, name_en=name_en)
        session.add(province)
        await session.flush()
    return province


async def _ensure_office(
    session: AsyncSession, province: Province, code: str, name_fa: str, name_en: str
) -> LabourOffice:
    office = await session.scalar(select(LabourOffice).where(LabourOffice.code == code))
    if office is None:
        office = LabourOffice(province_id=province.id, code=code, name_fa=name_fa, name_en=name_en)
        session.add(office)
        await session.flush()
    return office


async def _ensure_counter_office(
    session: AsyncSession, province: Province, serves: list[LabourOffice]
) -> CounterOffice:
    counter = await session.scalar(select(CounterOffice).where(CounterOffice.code == COUNTER))
    if counter is None:
        counter = CounterOffice(
            province_id=province.id,
            code=COUNTER,
            name_fa="دفتر پیشخوان دولت شماره ۱۰۰۱",
            name_en="Government Counter Office No. 1001",
        )
        session.add(counter)
        await session.flush()
    served = set(
        await session.scalars(
            select(counter_office_serves.c.office_id).where(
                counter_office_serves.c.counter_office_id == counter.id
            )
        )
    )
    for office in serves:
        if office.id not in served:
            await session.execute(
                counter_office_serves.insert().values(
                    counter_office_id=counter.id, office_id=office.id
                )
            )
    return counter


async def do_seed_demo(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    await ensure_rules(session)
    tehran = await _ensure_province(session, "THR", "تهران", "Tehran")
    isfahan = await _ensure_province(session, "ISF", "اصفهان", "Isfahan")
    office = await _ensure_office(
        session,
        tehran,
        TEHRAN,
        "اداره تعاون، کار و رفاه اجتماعی شهرستان تهران",
        "Tehran Labour Office",
    )
    office_b = await _ensure_office(
        session,
        isfahan,
        ISFAHAN,
        "اداره تعاون، کار و رفاه اجتماعی شهرستان اصفهان",
        "Isfahan Labour Office",
    )
    counter = await _ensure_counter_office(session, tehran, [office, office_b])
    offices = {TEHRAN: office.id, ISFAHAN: office_b.id}
    for person in PEOPLE:
        await _ensure_user(
            session,
            settings,
            person.username,
            person.full_name,
            person.role,
            make_national_id(person.nid_prefix) if person.nid_prefix else None,
            person.mobile,
            office_id=offices[person.office] if person.office else None,
            counter_office_id=counter.id if person.counter else None,
        )
    await _ensure_board(
        session,
        settings,
        office,
        BoardType.DIAGNOSIS,
        "هیأت تشخیص شماره ۱ تهران",
        "Tehran Diagnosis Board No. 1",
        DIAGNOSIS_MEMBERS,
        1200100,
    )
    await _ensure_board(
        session,
        settings,
        office,
        BoardType.SETTLEMENT,
        "هیأت حل اختلاف تهران",
        "Tehran Dispute Settlement Board",
        SETTLEMENT_MEMBERS,
        1200200,
    )
    await _ensure_board(
        session,
        settings,
        office_b,
        BoardType.DIAGNOSIS,
        "هیأت تشخیص شماره ۱ اصفهان",
        "Isfahan Diagnosis Board No. 1",
        ISFAHAN_DIAGNOSIS_MEMBERS,
        1200300,
    )
    await _ensure_board(
        session,
        settings,
        office_b,
        BoardType.SETTLEMENT,
        "هیأت حل اختلاف اصفهان",
        "Isfahan Dispute Settlement Board",
        ISFAHAN_SETTLEMENT_MEMBERS,
        1200400,
    )
    from hearing_server.cases.demo import seed_demo_cases

    await seed_demo_cases(session, settings)
    # The ruled case needs the board's signing certificate (idempotent: kept if present).
    from hearing_server.issuance.demo import do_seed_ruled_case
    from rulings.pki import init_pki

    init_pki(settings.pki_dir)
    await do_seed_ruled_case(session, settings)
    return await demo_summary(session, settings)


def demo_usernames() -> list[str]:
    """The people the demo lists, then the party accounts its counter filings make."""
    from hearing_server.cases.demo import counter_usernames

    return [p.username for p in PEOPLE] + _member_usernames() + counter_usernames()


def _member_usernames() -> list[str]:
    return [
        m[0]
        for m in DIAGNOSIS_MEMBERS
        + SETTLEMENT_MEMBERS
        + ISFAHAN_DIAGNOSIS_MEMBERS
        + ISFAHAN_SETTLEMENT_MEMBERS
    ]


async def other_usernames(session: AsyncSession, limit: int = 5) -> list[str]:
    """Up to ``limit`` users the demo did not make: a database in real use. The demo adds
    people with a published password and prints their authenticator secrets, so it
    refuses such a database unless forced."""
    found = await session.scalars(
        select(User.username)
        .where(User.username.not_in(demo_usernames()))
        .order_by(User.id)
        .limit(limit)
    )
    return list(found)


async def demo_summary(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    box = SecretBox(settings.totp_keys)
    usernames = [p.username for p in PEOPLE] + _member_usernames()
    users = []
    for username in usernames:
        user = await accounts.get_user_by_username(session, username)
        if user is None:
            continue
        cred = await session.get(TotpCredential, user.id)
        users.append(
            {
                "username": user.username,
                "password": DEMO_PASSWORD,
                "role": user.role.value,
                "full_name": user.full_name,
                "national_id": user.national_id,
                "totp_secret": box.open(cred.secret_encrypted) if cred else None,
            }
        )
    from hearing_server.issuance.demo import ruled_case_summary

    return {
        "base_url": settings.base_url,
        "users": users,
        "ruled_case": await ruled_case_summary(session),
    }
