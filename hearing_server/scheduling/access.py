"""Who may see a hearing, and as whom: the one rule every page, API route and socket
event of every part asks (scheduling, rooms, voting, issuance's minutes).

:func:`access_hearing` returns the hearing and the viewer's :class:`HearingStanding`, or
raises ``NotFound`` whether the hearing is missing or hidden, so a stranger cannot tell
it exists. The standing says what the viewer is in this hearing:

- the secretary and the administrator of the hearing's labour office (and the national
  admin): staff, they see everything; staff of another office see nothing;
- a member (of the hearing's office) seated on this hearing's panel: chair or member
  (even after their seat's term ended — they sat on it);
- a member holding a seat on the hearing's board today, not on this panel: sees the
  hearing (its calendar and details), but is not summoned to its room nor its votes;
- a party (or a party's representative) of a case on the agenda, or a person summoned
  to it as a party: sees the hearing, and of its cases only their own;
- anyone else — a former member of the board, a member of another board, a clerk, a
  party of another case — nothing.

What each standing may do (enter the room, moderate it, run or see its votes) is read
from the standing's properties, never re-derived from roles by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.accounts.models import Role, User
from hearing_server.accounts.tenancy import in_office
from hearing_server.boards.models import Board, Seat, SeatTerm
from hearing_server.cases.access import office_visible
from hearing_server.cases.models import CaseParty, PartyRole
from hearing_server.clock import utcnow
from hearing_server.errors import Forbidden, NotFound
from hearing_server.law.rules import SeatGroup
from hearing_server.scheduling.models import Hearing, PanelSeat, Summons
from rulings.persian import to_tehran

SCHEDULERS = (Role.SECRETARY, Role.ADMIN)


class HearingRole(StrEnum):
    SECRETARY = "secretary"
    ADMIN = "admin"
    CHAIR = "chair"
    MEMBER = "member"
    BOARD_MEMBER = "board_member"  # seated on the board today, not on this panel
    CLAIMANT = "claimant"
    RESPONDENT = "respondent"
    REPRESENTATIVE = "representative"


STAFF_ROLES = frozenset({HearingRole.SECRETARY, HearingRole.ADMIN})
PANEL_ROLES = frozenset({HearingRole.CHAIR, HearingRole.MEMBER})
PARTY_ROLES = frozenset({HearingRole.CLAIMANT, HearingRole.RESPONDENT, HearingRole.REPRESENTATIVE})


@dataclass(frozen=True)
class HearingStanding:
    """The viewer's place in one hearing."""

    role: HearingRole
    group: SeatGroup | None = None
    case_ids: frozenset[int] = frozenset()  # a party's own cases in this hearing

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def on_panel(self) -> bool:
        return self.role in PANEL_ROLES

    @property
    def is_party(self) -> bool:
        return self.role in PARTY_ROLES

    @property
    def is_board(self) -> bool:
        """Staff and the panel: the people deliberation is for."""
        return self.is_staff or self.on_panel

    @property
    def sees_all(self) -> bool:
        """Every case on the agenda (a party sees only their own)."""
        return not self.is_party

    @property
    def may_enter_room(self) -> bool:
        return self.role is not HearingRole.BOARD_MEMBER

    @property
    def may_moderate(self) -> bool:
        """Run the room: phases, admission, presenter, floor."""
        return self.role in (HearingRole.SECRETARY, HearingRole.ADMIN, HearingRole.CHAIR)

    @property
    def may_run_vote(self) -> bool:
        return self.role in (HearingRole.SECRETARY, HearingRole.CHAIR)

    @property
    def sees_votes(self) -> bool:
        """The secretary and the panel (the administrator runs the installation, not votes)."""
        return self.role is HearingRole.SECRETARY or self.on_panel


def check_scheduler(actor: User) -> None:
    """``Forbidden`` unless ``actor`` is the board secretary or the administrator."""
    if actor.role not in SCHEDULERS:
        raise Forbidden("Only the board secretary or the administrator can do this.")


async def require_hearing(session: AsyncSession, hearing_id: int, *, lock: bool = False) -> Hearing:
    """The hearing with its agenda and panel loaded, fresh from the database, or ``NotFound``.
    ``lock`` takes its row lock (PostgreSQL) — the order every writer uses: hearing row
    first, then the audit chain's lock. Callers that act for a user use
    :func:`access_hearing`; this is for work that has already been authorised."""
    query = (
        select(Hearing)
        .options(selectinload(Hearing.agenda), selectinload(Hearing.panel))
        .where(Hearing.id == hearing_id)
        .execution_options(populate_existing=True)
    )
    hearing = await session.scalar(query.with_for_update(of=Hearing) if lock else query)
    if hearing is None:
        raise NotFound("No such hearing.")
    return hearing


def panel_seat(hearing: Hearing, user_id: int) -> PanelSeat | None:
    return next((seat for seat in hearing.panel if seat.member_id == user_id), None)


async def seated_board_ids(session: AsyncSession, user_id: int) -> set[int]:
    """Boards on which ``user_id`` holds a seat today (a former member holds none)."""
    today = to_tehran(utcnow()).date()
    rows = await session.scalars(
        select(Seat.board_id)
        .join(SeatTerm, SeatTerm.seat_id == Seat.id)
        .where(
            SeatTerm.member_id == user_id,
            SeatTerm.starts_on <= today,
            or_(SeatTerm.ends_on.is_(None), SeatTerm.ends_on >= today),
        )
    )
    return set(rows)


async def _party_standing(
    session: AsyncSession, user: User, hearing: Hearing
) -> HearingStanding | None:
    agenda = {item.case_id for item in hearing.agenda}
    roles: set[str] = set()
    case_ids: set[int] = set()
    if agenda:
        for party in await session.scalars(
            select(CaseParty).where(
                CaseParty.case_id.in_(agenda),
                or_(CaseParty.user_id == user.id, CaseParty.representative_user_id == user.id),
            )
        ):
            case_ids.add(party.case_id)
            roles.add(party.role.value if party.user_id == user.id else "representative")
    for summons in await session.scalars(
        select(Summons).where(Summons.hearing_id == hearing.id, Summons.user_id == user.id)
    ):
        if summons.role in PARTY_ROLES:
            roles.add(summons.role)
            if summons.case_id is not None:
                case_ids.add(summons.case_id)
    if not roles:
        return None
    role = next(
        (HearingRole(r) for r in (PartyRole.CLAIMANT, PartyRole.RESPONDENT) if r in roles),
        HearingRole.REPRESENTATIVE,
    )
    return HearingStanding(role, case_ids=frozenset(case_ids))


async def board_office_id(session: AsyncSession, board_id: int) -> int | None:
    """The labour office a board sits under."""
    return await session.scalar(select(Board.office_id).where(Board.id == board_id))


async def hearing_in_office(session: AsyncSession, user: User, hearing: Hearing) -> bool:
    """Whether ``hearing`` is of a labour office within ``user``'s reach (the office rule,
    ``cases.access.office_visible``); always for parties, whose standing is their cases'."""
    if user.role == Role.PARTY:
        return True
    office_id = await board_office_id(session, hearing.board_id)
    return office_id is not None and await office_visible(session, user, office_id)


async def get_standing(
    session: AsyncSession, user: User, hearing: Hearing
) -> HearingStanding | None:
    """``user``'s standing in ``hearing`` (its panel and agenda loaded), or None."""
    if user.role in (Role.SECRETARY, Role.ADMIN, Role.MEMBER) and not await hearing_in_office(
        session, user, hearing
    ):
        return None
    if user.role == Role.SECRETARY:
        return HearingStanding(HearingRole.SECRETARY)
    if user.role == Role.ADMIN:
        return HearingStanding(HearingRole.ADMIN)
    if user.role == Role.MEMBER:
        seat = panel_seat(hearing, user.id)
        if seat is not None:
            return HearingStanding(
                HearingRole.CHAIR if seat.is_chair else HearingRole.MEMBER, seat.group
            )
        if hearing.board_id in await seated_board_ids(session, user.id):
            return HearingStanding(HearingRole.BOARD_MEMBER)
        return None
    if user.role == Role.PARTY:
        return await _party_standing(session, user, hearing)
    return None


async def access_hearing(
    session: AsyncSession, user: User, hearing_id: int, *, lock: bool = False
) -> tuple[Hearing, HearingStanding]:
    """The hearing and ``user``'s standing in it, or ``NotFound`` (missing or hidden alike)."""
    hearing = await require_hearing(session, hearing_id, lock=lock)
    standing = await get_standing(session, user, hearing)
    if standing is None:
        raise NotFound("No such hearing.")
    return hearing, standing


async def require_board(session: AsyncSession, board_id: int) -> Board:
    """The board with its seats and their terms loaded, or ``NotFound``."""
    board = await session.scalar(
        select(Board)
        .options(selectinload(Board.seats).selectinload(Seat.terms))
        .where(Board.id == board_id)
    )
    if board is None:
        raise NotFound("No such board.")
    return board


async def access_board(session: AsyncSession, user: User, board_id: int) -> Board:
    """The board (seats and terms loaded), for a scheduler of its office: ``NotFound`` for
    a board of another office (as for a missing one), ``Forbidden`` for a non-scheduler."""
    check_scheduler(user)
    board = await require_board(session, board_id)
    if not in_office(user, board.office_id):
        raise NotFound("No such board.")
    return board


async def access_board_calendar(session: AsyncSession, user: User, board_id: int) -> Board:
    """A board's calendar: staff of its office, and the members seated on it today. A
    board of another office is not found, as a missing one."""
    board = await require_board(session, board_id)
    if not await office_visible(session, user, board.office_id):
        raise NotFound("No such board.")
    if user.role in SCHEDULERS:
        return board
    if user.role is Role.MEMBER and board_id in await seated_board_ids(session, user.id):
        return board
    raise Forbidden("You do not have access to this board's calendar.")
