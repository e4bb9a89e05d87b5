"""Managing the tenants: provinces, labour offices and counter offices (the national admin),
and who works where (the national admin places anyone; an office admin manages the users
of their own office only).

A user another admin may not manage is reported as not found, like every object out of
one's office.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import Role, User
from hearing_server.accounts.tenancy import (
    check_national_admin,
    require_manageable_user,
)
from hearing_server.audit.services import do_record
from hearing_server.boards.models import (
    CounterOffice,
    LabourOffice,
    Province,
    counter_office_serves,
)
from hearing_server.errors import NotFound, ValidationErrors
from hearing_server.i18n import lazy
from hearing_server.text import normalize_persian


@dataclass(frozen=True)
class NamedInput:
    code: str
    name_fa: str
    name_en: str


def _clean(data: NamedInput) -> NamedInput:
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    code = data.code.strip().upper()
    if (
        not code
        or len(code) > 16
        or not all(c.isascii() and (c.isalnum() or c == "-") for c in code)
    ):
        errors["code"] = (lazy("A code uses Latin letters, digits and dashes, at most 16."), {})
    name_fa = normalize_persian(data.name_fa or "").strip()
    name_en = " ".join((data.name_en or "").split())
    if not name_fa or len(name_fa) > 200:
        errors["name_fa"] = (lazy("Enter the Persian name (at most 200 characters)."), {})
    if not name_en or len(name_en) > 200:
        errors["name_en"] = (lazy("Enter the English name (at most 200 characters)."), {})
    if errors:
        raise ValidationErrors(errors)
    return NamedInput(code, name_fa, name_en)


async def _province(session: AsyncSession, province_id: int | None) -> Province:
    province = await session.get(Province, province_id) if province_id else None
    if province is None:
        raise ValidationErrors({"province_id": (lazy("Choose a province from the list."), {})})
    return province


def _taken() -> ValidationErrors:
    return ValidationErrors({"code": (lazy("This code is taken."), {})})


async def do_create_province(session: AsyncSession, *, actor: User, data: NamedInput) -> Province:
    check_national_admin(actor)
    clean = _clean(data)
    if await session.scalar(select(Province.id).where(Province.code == clean.code)):
        raise _taken()
    province = Province(code=clean.code, name_fa=clean.name_fa, name_en=clean.name_en)
    session.add(province)
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="province.created",
        subject_type="province",
        subject_id=province.id,
        payload={"code": province.code},
    )
    return province


async def do_create_office(
    session: AsyncSession, *, actor: User, province_id: int | None, data: NamedInput
) -> LabourOffice:
    check_national_admin(actor)
    clean = _clean(data)
    province = await _province(session, province_id)
    if await session.scalar(select(LabourOffice.id).where(LabourOffice.code == clean.code)):
        raise _taken()
    office = LabourOffice(
        province_id=province.id, code=clean.code, name_fa=clean.name_fa, name_en=clean.name_en
    )
    session.add(office)
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="office.created",
        subject_type="labour_office",
        subject_id=office.id,
        payload={"code": office.code, "province_id": province.id},
    )
    return office


async def do_create_counter_office(
    session: AsyncSession,
    *,
    actor: User,
    province_id: int | None,
    data: NamedInput,
    serves: list[int],
) -> CounterOffice:
    """A counter office and the labour offices it files for (at least one)."""
    check_national_admin(actor)
    clean = _clean(data)
    province = await _province(session, province_id)
    if await session.scalar(select(CounterOffice.id).where(CounterOffice.code == clean.code)):
        raise _taken()
    offices = await _offices(session, serves)
    counter = CounterOffice(
        province_id=province.id, code=clean.code, name_fa=clean.name_fa, name_en=clean.name_en
    )
    session.add(counter)
    await session.flush()
    await _set_serves(session, counter, offices)
    await do_record(
        session,
        actor_id=actor.id,
        action="counter_office.created",
        subject_type="counter_office",
        subject_id=counter.id,
        payload={"code": counter.code, "serves": offices},
    )
    return counter


async def _offices(session: AsyncSession, ids: list[int]) -> list[int]:
    wanted = sorted(set(ids))
    found = list(await session.scalars(select(LabourOffice.id).where(LabourOffice.id.in_(wanted))))
    if not wanted or len(found) != len(wanted):
        raise ValidationErrors(
            {"serves": (lazy("Choose the labour offices it serves from the list."), {})}
        )
    return sorted(found)


async def _set_serves(session: AsyncSession, counter: CounterOffice, offices: list[int]) -> None:
    await session.execute(
        delete(counter_office_serves).where(counter_office_serves.c.counter_office_id == counter.id)
    )
    for office_id in offices:
        await session.execute(
            counter_office_serves.insert().values(counter_office_id=counter.id, office_id=office_id)
        )


async def do_set_serves(
    session: AsyncSession, *, actor: User, counter_office_id: int, serves: list[int]
) -> CounterOffice:
    """Change which labour offices a counter office files for."""
    check_national_admin(actor)
    counter = await session.get(CounterOffice, counter_office_id)
    if counter is None:
        raise NotFound("No such counter office.")
    offices = await _offices(session, serves)
    await _set_serves(session, counter, offices)
    await do_record(
        session,
        actor_id=actor.id,
        action="counter_office.serves",
        subject_type="counter_office",
        subject_id=counter.id,
        payload={"serves": offices},
    )
    return counter


async def do_assign_user(
    session: AsyncSession,
    *,
    actor: User,
    user_id: int,
    office_id: int | None,
    counter_office_id: int | None,
) -> User:
    """Place a user: staff (secretary, member, admin) in a labour office — an admin with
    none is a national admin —, a clerk at a counter office. The national admin only."""
    check_national_admin(actor)
    user = await require_manageable_user(session, actor, user_id)
    if user.role == Role.PARTY:
        raise ValidationErrors({"office_id": (lazy("A party belongs to no office."), {})})
    if user.role == Role.CLERK:
        if counter_office_id is None or await session.get(CounterOffice, counter_office_id) is None:
            raise ValidationErrors(
                {"counter_office_id": (lazy("Choose a counter office from the list."), {})}
            )
        user.counter_office_id, user.office_id = counter_office_id, None
    else:
        if office_id is not None and await session.get(LabourOffice, office_id) is None:
            raise ValidationErrors(
                {"office_id": (lazy("Choose a labour office from the list."), {})}
            )
        if office_id is None and user.role != Role.ADMIN:
            raise ValidationErrors(
                {"office_id": (lazy("Choose a labour office from the list."), {})}
            )
        if user.id == actor.id and office_id is not None:
            raise ValidationErrors(
                {"office_id": (lazy("You cannot give up being the national administrator."), {})}
            )
        user.office_id, user.counter_office_id = office_id, None
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="user.assigned",
        subject_type="user",
        subject_id=user.id,
        payload={"office_id": user.office_id, "counter_office_id": user.counter_office_id},
    )
    return user
