"""Who may read a case: one rule, used by every page, API call and query.

A user may read a case when they are
- a party of it (``CaseParty.user_id``) or a party's representative
  (``CaseParty.representative_user_id``);
- given access to it in ``CaseAccess`` (the counter-office clerk who filed it);
- a secretary or an admin (staff of the labour office; this installation has one
  office per deployment, users carry no office of their own);
- a member holding, today, a seat on the case's board.
Members of another board, other parties and other clerks are refused. A case
that may not be read is reported as not found, so its existence does not leak.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.accounts.models import Role, User
from hearing_server.boards.models import Seat, SeatTerm
from hearing_server.cases.models import Case, CaseAccess, CaseParty
from hearing_server.clock import utcnow
from hearing_server.errors import NotFound
from rulings.persian import to_tehran


def is_staff(user: User) -> bool:
    return user.role in (Role.SECRETARY, Role.ADMIN)


def readable_clause(user: User) -> ColumnElement[bool]:
    """A WHERE condition on ``Case`` selecting exactly the cases ``user`` may read."""
    if is_staff(user):
        return true()
    if user.role == Role.MEMBER:
        today = to_tehran(utcnow()).date()
        return exists(
            select(SeatTerm.id)
            .join(Seat, Seat.id == SeatTerm.seat_id)
            .where(
                Seat.board_id == Case.board_id,
                SeatTerm.member_id == user.id,
                SeatTerm.starts_on <= today,
                or_(SeatTerm.ends_on.is_(None), SeatTerm.ends_on >= today),
            )
        )
    party = exists(
        select(CaseParty.id).where(
            CaseParty.case_id == Case.id,
            or_(CaseParty.user_id == user.id, CaseParty.representative_user_id == user.id),
        )
    )
    granted = exists(
        select(CaseAccess.id).where(
            CaseAccess.case_id == Case.id,
            CaseAccess.user_id == user.id,
            CaseAccess.active.is_(True),
        )
    )
    if user.role == Role.PARTY:
        return or_(party, granted)
    if user.role == Role.CLERK:
        return granted
    return false()


def is_party_clause(user: User) -> ColumnElement[bool]:
    return exists(
        select(CaseParty.id).where(
            CaseParty.case_id == Case.id,
            or_(CaseParty.user_id == user.id, CaseParty.representative_user_id == user.id),
        )
    )


async def can_read(session: AsyncSession, user: User, case_id: int) -> bool:
    found = await session.scalar(
        select(Case.id).where(and_(Case.id == case_id, readable_clause(user)))
    )
    return found is not None


async def require_readable_case(
    session: AsyncSession, user: User, case_id: int, *, full: bool = False
) -> Case:
    """The case with its parties and claims loaded, or NotFound if ``user`` may not read it."""
    query = select(Case).where(Case.id == case_id, readable_clause(user))
    if full:
        query = query.options(selectinload(Case.parties), selectinload(Case.claims))
    case = await session.scalar(query)
    if case is None:
        raise NotFound("No such case.")
    return case


async def is_party(session: AsyncSession, user: User, case_id: int) -> bool:
    found = await session.scalar(select(Case.id).where(Case.id == case_id, is_party_clause(user)))
    return found is not None


async def sees_board_documents(session: AsyncSession, user: User, case: Case) -> bool:
    """Staff and the board's members see board-only and withdrawn documents."""
    if is_staff(user):
        return True
    if user.role != Role.MEMBER:
        return False
    return await can_read(session, user, case.id)
