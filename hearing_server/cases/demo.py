"""Demo cases for `heyat demo`: one filed by the worker online (waiting in the inbox),
one filed at the counter office and accepted, one returned with a reason.
Idempotent: a case already made (found by its workshop name) is not made again."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.cases import filing
from hearing_server.cases.models import Case
from hearing_server.cases.petition import ClaimInput, PetitionInput
from hearing_server.config import Settings
from hearing_server.text import make_national_id

WORKER_CASE = "کارگاه ریسندگی نمونه"
CLERK_ACCEPTED = "نانوایی سنگکی بهار"
CLERK_RETURNED = "تعمیرگاه خودرو امید"


COUNTER_FILINGS = (
    (CLERK_ACCEPTED, "001300101", "حسین محمدی", "09121000021", "accept"),
    (CLERK_RETURNED, "001300102", "نسرین کاظمی", "09121000022", "return"),
)


def counter_usernames() -> list[str]:
    """The party accounts filing at the counter makes for the demo's workers
    (``filing._link_party_users``: ``p`` and the national ID)."""
    return [f"p{make_national_id(prefix)}" for _w, prefix, _n, _m, _o in COUNTER_FILINGS]


async def _user(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def _exists(session: AsyncSession, workshop: str) -> bool:
    return (await session.scalar(select(Case.id).where(Case.workshop_name == workshop))) is not None


async def seed_demo_cases(session: AsyncSession, settings: Settings) -> list[int]:
    """Make the demo cases that are missing; return the ids made now."""
    worker = await _user(session, "worker")
    clerk = await _user(session, "clerk")
    secretary = await _user(session, "secretary")
    employer = await _user(session, "employer")
    if worker is None or clerk is None or secretary is None:
        return []
    made: list[int] = []
    if not await _exists(session, WORKER_CASE):
        case = await filing.do_file(
            session,
            actor=worker,
            data=PetitionInput(
                employer_name=employer.full_name if employer else "شرکت صنایع نمونه",
                employer_national_id=employer.national_id if employer else None,
                workshop_name=WORKER_CASE,
                workshop_address="تهران، جاده ساوه، کوچه صنعت ۴",
                employment_start="1399/02/01",
                employment_end="1404/11/30",
                last_monthly_wage="۱۵۰٬۰۰۰٬۰۰۰",
                claims=[
                    ClaimInput("unpaid_wages", "450000000", "1404/09/01", "1404/11/30"),
                    ClaimInput("year_end_bonus", "300000000", "1404/01/01", "1404/11/30"),
                    ClaimInput("severance", "750000000"),
                ],
                description="سه ماه مزد پرداخت نشده و عیدی سال ۱۴۰۴.",
            ),
        )
        made.append(case.id)
    for workshop, nid_prefix, name, mobile, outcome in COUNTER_FILINGS:
        if await _exists(session, workshop):
            continue
        case = await filing.do_file(
            session,
            actor=clerk,
            data=PetitionInput(
                claimant_name=name,
                claimant_national_id=make_national_id(nid_prefix),
                claimant_mobile=mobile,
                employer_name="اکبر توکلی",
                employer_registration_number="45821",
                workshop_name=workshop,
                workshop_address="تهران، خیابان انقلاب، پلاک ۱۲",
                employment_start="1401/06/15",
                employment_end="1404/10/01",
                last_monthly_wage="120000000",
                claims=[
                    ClaimInput("reinstatement"),
                    ClaimInput("overtime", "80000000", "1404/01/01", "1404/10/01"),
                ],
            ),
        )
        if outcome == "accept":
            await filing.do_accept(session, actor=secretary, case_id=case.id)
        else:
            await filing.do_return(
                session,
                actor=secretary,
                case_id=case.id,
                reason="تصویر قرارداد کار و فیش‌های حقوقی پیوست نشده است.",
            )
        made.append(case.id)
    return made
