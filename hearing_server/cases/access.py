"""Who may read a case: one rule, used by every page, API call and query.

A user may read a case when they are
- a party of it (``CaseParty.user_id``) or a party's representative
  (``CaseParty.representative_user_id``);
- given access to it in ``CaseAccess`` (the counter-office clerk who filed it), or a
  clerk of the counter office it was filed through;
- a secretary or an office admin of the case's labour office, or the national admin
  (an admin with no office);
- a member of the case's office holding, today, a seat on the case's board.
Members of another board, staff of another office, other parties and other clerks are
refused. A case that may not be read is reported as not found, so its existence does
not leak.

The office rule (tenancy) is ``accounts.tenancy.office_clause``, the one condition that
keeps a member of staff to their own labour office; here it is applied to cases
(:func:`readable_clause`), boards (:func:`boards_clause`, for every list of boards and
hearings) and a clerk's counter office (:func:`served_offices_clause`,
:func:`office_visible`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.accounts.models import Role, User
from hearing_server.accounts.tenancy import in_office, office_clause
from hearing_server.boards.models import Board, Seat, SeatTerm, counter_office_serves
from hearing_server.cases.models import Case, CaseAccess, CaseParty, Document, DocumentVisibility
from hearing_server.clock import utcnow
from hearing_server.errors import Forbidden, NotFound
from rulings.persian import to_tehran


def is_staff(user: User) -> bool:
    return user.role in (Role.SECRETARY, Role.ADMIN)


async def office_visible(session: AsyncSession, user: User, office_id: int) -> bool:
    """Whether work of the labour office ``office_id`` (a hearing, a board's calendar) is
    within ``user``'s reach at all: :func:`in_office` for staff and members; for a clerk,
    an office their counter office serves; for a party, any (their standing is their
    cases'). Outside it, an object is reported as not found."""
    if user.role == Role.PARTY:
        return True
    if user.role == Role.CLERK:
        found = await session.scalar(
            select(counter_office_serves.c.office_id).where(
                counter_office_serves.c.office_id == office_id,
                served_offices_clause(user, counter_office_serves.c.office_id),
            )
        )
        return found is not None
    return in_office(user, office_id)


def boards_clause(user: User) -> ColumnElement[bool]:
    """A WHERE condition on ``Board``: the boards of the offices ``user`` works in."""
    return office_clause(user, Board.office_id)


def served_offices_clause(user: User, office_id: Any) -> ColumnElement[bool]:
    """``office_id`` is one of the labour offices a clerk's counter office serves."""
    if user.role != Role.CLERK or user.counter_office_id is None:
        return false()
    return office_id.in_(  # type: ignore[no-any-return]  # a column comparison
        select(counter_office_serves.c.office_id).where(
            counter_office_serves.c.counter_office_id == user.counter_office_id
        )
    )


def readable_clause(user: User) -> ColumnElement[bool]:
    """A WHERE condition on ``Case`` selecting exactly the cases ``user`` may read."""
    if is_staff(user):
        return office_clause(user, Case.office_id)
    if user.role == Role.MEMBER:
        today = to_tehran(utcnow()).date()
        seated = exists(
            select(SeatTerm.id)
            .join(Seat, Seat.id == SeatTerm.seat_id)
            .where(
                Seat.board_id == Case.board_id,
                SeatTerm.member_id == user.id,
                SeatTerm.starts_on <= today,
                or_(SeatTerm.ends_on.is_(None), SeatTerm.ends_on >= today),
            )
        )
        return and_(office_clause(user, Case.office_id), seated)
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
        if user.counter_office_id is None:
            return granted
        return or_(granted, Case.counter_office_id == user.counter_office_id)
    return false()


def is_party_clause(user: User) -> ColumnElement[bool]:
    return exists(
        select(CaseParty.id).where(
            CaseParty.case_id == Case.id,
            or_(CaseParty.user_id == user.id, CaseParty.representative_user_id == user.id),
        )
    )


class CaseStanding(StrEnum):
    """Why a viewer may read a case."""

    STAFF = "staff"  # the secretary, the administrator
    BOARD = "board"  # a member seated today on the case's board
    PARTY = "party"  # a party of the case or a party's representative
    FILER = "filer"  # given access in CaseAccess (the counter-office clerk who filed it)

    @property
    def sees_board_documents(self) -> bool:
        """Staff and the board see board-only and withdrawn documents."""
        return self in (CaseStanding.STAFF, CaseStanding.BOARD)


async def access_case(
    session: AsyncSession,
    user: User,
    case_id: int,
    *,
    full: bool = False,
    staff_only: str | None = None,
) -> tuple[Case, CaseStanding]:
    """The case (``full``: with its parties and claims loaded) and why ``user`` may read it,
    or ``NotFound`` whether it is missing or hidden. The one rule for a case, used by every
    page, API route and service that acts for a user.

    ``staff_only`` (the refusal's message): the action is the secretary's. Someone who may
    read the case is refused with 403 and that message; anyone else gets the same 404 as
    for a missing case, so a staff-only URL does not tell another party the case exists."""
    query = select(Case).where(Case.id == case_id, readable_clause(user))
    if full:
        query = query.options(selectinload(Case.parties), selectinload(Case.claims))
    case = await session.scalar(query)
    if case is None:
        raise NotFound("No such case.")
    if staff_only is not None and not is_staff(user):
        raise Forbidden(staff_only)
    if is_staff(user):
        return case, CaseStanding.STAFF
    if user.role == Role.MEMBER:
        return case, CaseStanding.BOARD
    party = await session.scalar(select(Case.id).where(Case.id == case.id, is_party_clause(user)))
    return case, CaseStanding.PARTY if party is not None else CaseStanding.FILER


def party_may_see(document: Document) -> bool:
    """What a party (or filer) may see of a readable case's documents, for a document in
    hand: shared with the parties and not withdrawn — :func:`visible_documents_clause`'s
    condition, in Python (the room uses it on its hot path)."""
    return document.visibility == DocumentVisibility.PARTIES and document.withdrawn_at is None


def visible_documents_clause(standing: CaseStanding) -> ColumnElement[bool]:
    """A WHERE condition on ``Document`` for what ``standing`` may see of a readable case."""
    if standing.sees_board_documents:
        return true()
    return and_(Document.visibility == DocumentVisibility.PARTIES, Document.withdrawn_at.is_(None))


async def access_document(
    session: AsyncSession, user: User, document_id: int, *, case_id: int | None = None
) -> tuple[Document, Case, CaseStanding]:
    """A document, its case and the viewer's standing, or ``NotFound`` (missing, of a case
    the viewer may not read, of another case than ``case_id``, board-only or withdrawn for
    a party — all alike)."""
    document = await session.get(Document, document_id)
    if document is None or (case_id is not None and document.case_id != case_id):
        raise NotFound("No such document.")
    try:
        case, standing = await access_case(session, user, document.case_id)
    except NotFound:
        raise NotFound("No such document.") from None
    visible = await session.scalar(
        select(Document.id).where(Document.id == document.id, visible_documents_clause(standing))
    )
    if visible is None:
        raise NotFound("No such document.")
    return document, case, standing
