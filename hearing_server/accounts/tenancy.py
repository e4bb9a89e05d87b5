"""Tenancy at the accounts' level: which labour office's work a user reaches
(:func:`office_clause`, the one office rule every part's access functions build on), and
whom an administrator manages (the national admin: everyone; an office admin: the staff
of their office). Offices themselves are the boards part's; here they are only ids.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, column, false, select, table, true
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import Role, User
from hearing_server.errors import Forbidden, NotFound, ValidationErrors
from hearing_server.i18n import lazy

NATIONAL_ONLY = lazy("Only the national administrator manages offices.")
STAFF_ROLES = (Role.SECRETARY, Role.MEMBER, Role.ADMIN)

_LABOUR_OFFICES = table("labour_offices", column("id"))
_COUNTER_OFFICES = table("counter_offices", column("id"))


def office_clause(user: User, office_id: Any) -> ColumnElement[bool]:
    """A WHERE condition keeping ``office_id`` (a column holding a labour office's id) to
    the offices ``user`` works in: every office for the national admin; their own office
    for other staff and members (a secretary with no office sees none; a member with no
    office is kept to their seats by the seat rule alone); nothing for anyone else."""
    if user.role == Role.ADMIN and user.office_id is None:
        return true()
    if user.role in (Role.ADMIN, Role.SECRETARY, Role.MEMBER) and user.office_id is not None:
        return office_id == user.office_id  # type: ignore[no-any-return]  # a column comparison
    if user.role == Role.MEMBER:
        return true()
    return false()


def in_office(user: User, office_id: int) -> bool:
    """:func:`office_clause` for an office id in hand."""
    if user.role == Role.ADMIN and user.office_id is None:
        return True
    if user.role in (Role.ADMIN, Role.SECRETARY, Role.MEMBER) and user.office_id is not None:
        return office_id == user.office_id
    return user.role == Role.MEMBER


def check_national_admin(actor: User) -> None:
    if not actor.is_national_admin:
        raise Forbidden(NATIONAL_ONLY)


def manageable_users_clause(actor: User) -> ColumnElement[bool]:
    """A WHERE condition on ``User``: whom ``actor`` manages. The national admin: everyone;
    an office admin: the staff of their office; anyone else: no one."""
    if actor.is_national_admin:
        return true()
    if actor.role == Role.ADMIN and actor.office_id is not None:
        return User.office_id == actor.office_id
    return false()


async def require_manageable_user(session: AsyncSession, actor: User, user_id: int) -> User:
    user = await session.scalar(
        select(User).where(User.id == user_id, manageable_users_clause(actor))
    )
    if user is None:
        raise NotFound("No such user.")
    return user


async def _exists(session: AsyncSession, offices: Any, office_id: int | None) -> bool:
    if office_id is None:
        return False
    found = await session.scalar(select(offices.c.id).where(offices.c.id == office_id))
    return found is not None


async def placement_for_new_user(
    session: AsyncSession,
    actor: User,
    role: Role,
    office_id: int | None,
    counter_office_id: int | None,
) -> tuple[int | None, int | None]:
    """Where a user ``actor`` creates is placed: an office admin's users join their office
    (staff roles only); the national admin's go where chosen (a clerk to a counter
    office, staff to a labour office — an admin with none is a national admin)."""
    if actor.is_national_admin:
        if role == Role.PARTY:
            return None, None
        if role == Role.CLERK:
            if counter_office_id is not None and not await _exists(
                session, _COUNTER_OFFICES, counter_office_id
            ):
                raise ValidationErrors(
                    {"counter_office_id": (lazy("Choose a counter office from the list."), {})}
                )
            return None, counter_office_id
        if office_id is not None and not await _exists(session, _LABOUR_OFFICES, office_id):
            raise ValidationErrors(
                {"office_id": (lazy("Choose a labour office from the list."), {})}
            )
        return office_id, None
    if actor.role == Role.ADMIN and actor.office_id is not None:
        if role not in STAFF_ROLES:
            raise ValidationErrors(
                {
                    "role": (
                        lazy("An office administrator creates secretaries, members and admins."),
                        {},
                    )
                }
            )
        return actor.office_id, None
    raise Forbidden(NATIONAL_ONLY)
