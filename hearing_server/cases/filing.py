"""A complaint from draft to the board's queue: the petition saved as a draft (or
corrected after a return), submitted with its number and tracking code, then accepted
or returned by the secretary. Submitting links the claimant's account (made from the
national ID when there is none) and indexes the names the secretary searches by.
"""

from __future__ import annotations

import secrets

from sqlalchemy import ColumnElement, delete, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.accounts import services as accounts
from hearing_server.accounts.models import Role, User
from hearing_server.accounts.security import unusable_password_hash
from hearing_server.boards.models import Board
from hearing_server.cases.access import (
    access_case,
    boards_clause,
    is_staff,
    readable_clause,
    served_offices_clause,
)
from hearing_server.cases.models import (
    Case,
    CaseAccess,
    CaseParty,
    CaseStatus,
    Claim,
    FiledVia,
    PartyRole,
)
from hearing_server.cases.numbers import do_take_case_number, do_take_tracking_code
from hearing_server.cases.petition import PetitionInput, clean_petition, input_from_case
from hearing_server.cases.presentation import case_label, status_text
from hearing_server.cases.search import do_index_search_terms
from hearing_server.cases.workflow import do_refer_to_settlement, do_transition
from hearing_server.clock import utcnow
from hearing_server.errors import Conflict, Forbidden, NotFound, ValidationErrors
from hearing_server.i18n import lazy
from hearing_server.law.rules import BoardType

STAFF_ONLY = "Only the board secretary may do this."


async def require_case(session: AsyncSession, case_id: int) -> Case:
    """The case with its parties and claims, read afresh. No access check: the caller's."""
    case = await session.scalar(
        select(Case)
        .options(selectinload(Case.parties), selectinload(Case.claims))
        .where(Case.id == case_id)
        .execution_options(populate_existing=True)
    )
    if case is None:
        raise NotFound("No such case.")
    return case


async def require_editable_case(session: AsyncSession, *, actor: User, case_id: int) -> Case:
    """A draft or returned case that ``actor`` filed (or staff), with parties and claims."""
    case = await session.scalar(
        select(Case)
        .options(selectinload(Case.parties), selectinload(Case.claims))
        .where(Case.id == case_id, readable_clause(actor))
    )
    if case is None:
        raise NotFound("No such case.")
    if case.created_by_id != actor.id and not is_staff(actor):
        raise Forbidden("Only the person who filed this complaint may change it.")
    if case.status not in (CaseStatus.DRAFT, CaseStatus.RETURNED):
        raise Conflict(
            "Cannot change the petition of case {number}, because it is {status}.",
            number=case_label(case),
            status=status_text(case.status),
        )
    return case


def _filed_via(actor: User) -> FiledVia:
    if actor.role == Role.PARTY:
        return FiledVia.SELF
    if actor.role == Role.CLERK:
        return FiledVia.CLERK
    if is_staff(actor):
        return FiledVia.SECRETARY
    raise Forbidden("You may not file complaints.")


# The law's first instance: the settlement board hears a case only on appeal of a diagnosis
# ruling (issuance.objections) or when the secretary refers it (do_refer).
NOT_FIRST_INSTANCE = lazy(
    "A new complaint is filed at a diagnosis board. The dispute settlement board receives a "
    "case only on appeal of a diagnosis ruling, or when the secretary refers it."
)


def _require_first_instance(board: Board) -> None:
    if board.type != BoardType.DIAGNOSIS:
        raise ValidationErrors({"board_id": (NOT_FIRST_INSTANCE, {})})


NOT_SERVED = lazy(
    "Your counter office does not file complaints for this board's labour office. "
    "Choose a board from the list."
)


def fileable_clause(actor: User) -> ColumnElement[bool]:
    """A WHERE condition on ``Board``: the boards ``actor`` may file a complaint to. Staff:
    their office's boards; a clerk: the boards of the labour offices their counter office
    serves; a worker filing for themself: any board."""
    if actor.role == Role.CLERK:
        return served_offices_clause(actor, Board.office_id)
    if is_staff(actor):
        return boards_clause(actor)
    return true()


async def fileable_boards(session: AsyncSession, actor: User) -> list[Board]:
    """The diagnosis boards ``actor`` may file a new complaint to, in order."""
    return list(
        await session.scalars(
            select(Board)
            .where(Board.type == BoardType.DIAGNOSIS, fileable_clause(actor))
            .order_by(Board.id)
        )
    )


async def _default_board(
    session: AsyncSession, board_id: int | None, actor: User | None = None
) -> Board:
    """The board chosen (``actor``: one they may file to), or ``actor``'s first diagnosis
    board when none is chosen. A board the actor may not file to is refused as not in
    the list (for a clerk: saying their counter office does not serve its office)."""
    allowed = fileable_clause(actor) if actor is not None else true()
    if board_id is not None:
        board = await session.scalar(select(Board).where(Board.id == board_id, allowed))
        if board is None:
            if actor is not None and actor.role == Role.CLERK:
                exists_ = await session.get(Board, board_id)
                if exists_ is not None:
                    raise ValidationErrors({"board_id": (NOT_SERVED, {})})
            raise ValidationErrors({"board_id": ("Choose a board from the list.", {})})
        return board
    board = await session.scalar(
        select(Board).where(Board.type == BoardType.DIAGNOSIS, allowed).order_by(Board.id).limit(1)
    )
    if board is None:
        raise Conflict("No diagnosis board is set up yet. Ask the administrator.")
    return board


async def do_save_petition(
    session: AsyncSession,
    *,
    actor: User,
    data: PetitionInput,
    case_id: int | None = None,
    complete: bool = False,
) -> Case:
    """Create or update a draft (or a returned case being corrected). Nothing is filed yet."""
    via = _filed_via(actor)
    if via == FiledVia.SELF:
        if not actor.national_id:
            raise ValidationErrors(
                {
                    "claimant_national_id": (
                        "Your account has no national ID. Ask the labour office to add it.",
                        {},
                    )
                }
            )
        data.claimant_name = actor.full_name
        data.claimant_national_id = actor.national_id
        data.claimant_mobile = data.claimant_mobile or actor.mobile
    clean = clean_petition(data, complete=complete)
    board = await _default_board(session, clean.board_id, actor)
    if case_id is None:
        _require_first_instance(board)
        case = Case(
            office_id=board.office_id,
            board_id=board.id,
            status=CaseStatus.DRAFT,
            filed_via=via,
            created_by_id=actor.id,
            counter_office_id=actor.counter_office_id if via == FiledVia.CLERK else None,
            created_at=utcnow(),
        )
        session.add(case)
        await session.flush()
        if via == FiledVia.CLERK:
            session.add(CaseAccess(case_id=case.id, user_id=actor.id, reason="filed"))
    else:
        case = await require_editable_case(session, actor=actor, case_id=case_id)
        if case.status == CaseStatus.RETURNED and case.board_id != board.id:
            # A returned case stays at its board (referred or appealed ones included).
            board = await _default_board(session, case.board_id)
        elif case.appeal_of_id is None:
            _require_first_instance(board)
        await session.execute(delete(CaseParty).where(CaseParty.case_id == case.id))
        await session.execute(delete(Claim).where(Claim.case_id == case.id))
        session.expire(case, ["parties", "claims"])
    case.board_id = board.id
    case.office_id = board.office_id
    case.workshop_name = clean.workshop_name
    case.workshop_address = clean.workshop_address
    case.employment_start = clean.employment_start
    case.employment_end = clean.employment_end
    case.last_monthly_wage = clean.last_monthly_wage
    case.description = clean.description
    session.add(
        CaseParty(
            case_id=case.id,
            role=PartyRole.CLAIMANT,
            user_id=actor.id if via == FiledVia.SELF else None,
            full_name=clean.claimant_name or "",
            national_id=clean.claimant_national_id,
            mobile=clean.claimant_mobile,
            address=clean.claimant_address,
        )
    )
    if clean.employer_name or clean.employer_national_id or clean.employer_registration_number:
        session.add(
            CaseParty(
                case_id=case.id,
                role=PartyRole.RESPONDENT,
                full_name=clean.employer_name or "",
                national_id=clean.employer_national_id,
                registration_number=clean.employer_registration_number,
                mobile=clean.employer_mobile,
                address=clean.workshop_address,
            )
        )
    for claim in clean.claims:
        claim.case_id = case.id
        session.add(claim)
    await session.flush()
    return await require_case(session, case.id)


async def _link_party_users(session: AsyncSession, case: Case) -> None:
    """Link the claimant (creating a party account keyed by national ID when there is
    none, so the worker can sign in later) and an employer who already has an account."""
    for party in case.parties:
        if party.user_id is not None or not party.national_id or len(party.national_id) != 10:
            continue
        user = await session.scalar(select(User).where(User.national_id == party.national_id))
        if user is None and party.role == PartyRole.CLAIMANT:
            user = await accounts.do_create_user(
                session,
                username=f"p{party.national_id}",
                full_name=party.full_name,
                password=secrets.token_urlsafe(24),
                # No one knows it, and argon2 never runs inside the filing's transaction.
                password_hash=unusable_password_hash(),
                role=Role.PARTY,
                national_id=party.national_id,
                mobile=party.mobile,
            )
            # Made for the worker, not by them: it waits for activation (cases.activation).
            user.activated_at = None
        if user is not None and user.role == Role.PARTY:
            party.user_id = user.id
    await session.flush()


async def _index_terms(session: AsyncSession, case: Case) -> None:
    await do_index_search_terms(
        session, case.id, [case.workshop_name, *(p.full_name for p in case.parties)]
    )


async def do_submit(session: AsyncSession, *, actor: User, case_id: int) -> Case:
    """File a draft, or resubmit a returned case: check it is complete, give it its
    number and tracking code (first filing only), and move it to ``filed``."""
    case = await require_editable_case(session, actor=actor, case_id=case_id)
    clean_petition(input_from_case(case), complete=True)
    if case.status == CaseStatus.DRAFT and case.appeal_of_id is None:
        board = await session.get(Board, case.board_id)
        if board is None:
            raise ValidationErrors({"board_id": ("Choose a board from the list.", {})})
        _require_first_instance(board)
    if case.status == CaseStatus.DRAFT:
        now = utcnow()
        case.number = await do_take_case_number(session, case.office_id, now)
        case.tracking_code = await do_take_tracking_code(session)
        case.filed_at = now
        await session.flush()
    await _link_party_users(session, case)
    await _index_terms(session, case)
    await do_transition(session, case, CaseStatus.FILED, actor=actor)
    return await require_case(session, case.id)


async def do_file(session: AsyncSession, *, actor: User, data: PetitionInput) -> Case:
    """Save and file in one go (one transaction: all of it or nothing)."""
    draft = await do_save_petition(session, actor=actor, data=data, complete=True)
    return await do_submit(session, actor=actor, case_id=draft.id)


async def do_accept(session: AsyncSession, *, actor: User, case_id: int) -> Case:
    """The secretary takes the filed case into the board's queue."""
    await access_case(session, actor, case_id, staff_only=STAFF_ONLY)
    case = await require_case(session, case_id)
    await do_transition(session, case, CaseStatus.ACCEPTED, actor=actor)
    return case


async def do_refer(session: AsyncSession, *, actor: User, case_id: int, reason: str) -> Case:
    """The secretary refers a case in the diagnosis board's queue to the settlement board."""
    await access_case(session, actor, case_id, staff_only=STAFF_ONLY)
    case = await require_case(session, case_id)
    await do_refer_to_settlement(session, case, actor=actor, reason=reason)
    return case


async def do_return(session: AsyncSession, *, actor: User, case_id: int, reason: str) -> Case:
    """The secretary sends the filed case back to the filer to correct, saying why."""
    await access_case(session, actor, case_id, staff_only=STAFF_ONLY)
    case = await require_case(session, case_id)
    await do_transition(session, case, CaseStatus.RETURNED, actor=actor, reason=reason)
    return case
