"""Case numbers and tracking codes: the office's gap-free yearly counter (1405-000123)
and the code a worker tracks a case by, ten letters and digits that cannot be misread.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from persiantools.jdatetime import JalaliDate
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.cases.models import Case, CaseNumberCounter
from hearing_server.text import normalize_digits
from rulings.persian import to_tehran

TRACKING_ALPHABET = "ACDEFHJKMNPQRTUVWXY34679"  # no 0/O, 1/I/L, 2/Z, 5/S, 8/B, 6/G
TRACKING_LENGTH = 10


def new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


def format_tracking_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}" if len(code) == TRACKING_LENGTH else code


def normalize_tracking_code(text: str) -> str:
    return "".join(c for c in normalize_digits(text).upper() if c.isalnum())


def jalali_year(moment: datetime) -> int:
    return int(JalaliDate(to_tehran(moment).date()).year)  # type: ignore[no-untyped-call]  # persiantools is untyped


async def do_take_case_number(session: AsyncSession, office_id: int, moment: datetime) -> str:
    """The next number of ``office_id`` for the Jalali year of ``moment``: 1405-000123.

    Gap-free and collision-free: the counter row is incremented by a conditional
    UPDATE ... RETURNING that takes its row lock (PostgreSQL) inside the caller's
    write transaction (BEGIN IMMEDIATE on SQLite); a rolled-back filing rolls the
    increment back with it.
    """
    year = jalali_year(moment)
    bump = (
        update(CaseNumberCounter)
        .where(CaseNumberCounter.office_id == office_id, CaseNumberCounter.jalali_year == year)
        .values(last_value=CaseNumberCounter.last_value + 1)
        .returning(CaseNumberCounter.last_value)
        .execution_options(synchronize_session=False)
    )
    value = (await session.execute(bump)).scalar_one_or_none()
    if value is None:
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]  # same API on both dialects
        await session.execute(
            dialect_insert(CaseNumberCounter)
            .values(office_id=office_id, jalali_year=year, last_value=0)
            .on_conflict_do_nothing()
        )
        value = (await session.execute(bump)).scalar_one()
    return f"{year}-{value:06d}"


async def do_take_tracking_code(session: AsyncSession) -> str:
    """A fresh tracking code that no case has yet."""
    while True:
        code = new_tracking_code()
        taken = await session.scalar(select(Case.id).where(Case.tracking_code == code))
        if taken is None:
            return code
