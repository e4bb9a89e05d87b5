"""Who may schedule, and who may see a hearing or a board's calendar.

The secretary and the administrator schedule and see everything. A member sees the
hearings and calendars of the boards on which they hold (or held) a seat, and the
hearings whose panel they sit on. A party sees only the hearings of their own cases,
and of those only their own cases. A hearing someone may not see is reported as
missing, so a stranger cannot tell it exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.accounts.models import Role, User
from hearing_server.boards.models import Board, Seat, SeatTerm
from hearing_server.cases.models import CaseParty
from hearing_server.errors import Forbidden, NotFound
from hearing_server.scheduling.models import Hearing

SCHEDULERS = (Role.SECRETARY, Role.ADMIN)


def check_scheduler(actor: User) -> None:
    """``Forbidden`` unless ``actor`` is the board secretary or the administrator."""
    if actor.role not in SCHEDULERS:
        raise Forbidden("Only the board secretary or the administrator can do this.")


async def require_hearing(session: AsyncSession, hearing_id: int, *, lock: bool = False) -> Hearing:
    """The hearing with its agenda and panel loaded (``lock``: FOR UPDATE), or ``NotFound``."""
    query = (
        select(Hearing)
        .options(selectinload(Hearing.agenda), selectinload(Hearing.panel))
        .where(Hearing.id == hearing_id)
    )
    if lock:
        query = query.with_for_update()
    hearing = await session.scalar(query)
    if hearing is None:
        raise NotFound("No such hearing.")
    return hearing


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


async def member_board_ids(session: AsyncSession, user_id: int) -> set[int]:
    """Boards on which ``user_id`` holds (or held) a seat."""
    rows = await session.scalars(
        select(Seat.board_id)
        .join(SeatTerm, SeatTerm.seat_id == Seat.id)
        .where(SeatTerm.member_id == user_id)
    )
    return set(rows)


async def party_case_ids(session: AsyncSession, user_id: int) -> set[int]:
    """Cases in which ``user_id`` is a party or a party's representative."""
    rows = await session.scalars(
        select(CaseParty.case_id).where(
            or_(CaseParty.user_id == user_id, CaseParty.representative_user_id == user_id)
        )
    )
    return set(rows)


@dataclass
class HearingAccess:
    """What ``user`` may see of a hearing: all of it, or only their own cases."""

    full: bool
    case_ids: set[int] = field(default_factory=set)
    on_panel: bool = False


async def check_can_view(session: AsyncSession, user: User, hearing: Hearing) -> HearingAccess:
    on_panel = any(seat.member_id == user.id for seat in hearing.panel)
    if user.role in SCHEDULERS:
        return HearingAccess(full=True)
    if user.role is Role.MEMBER and (
        on_panel or hearing.board_id in await member_board_ids(session, user.id)
    ):
        return HearingAccess(full=True, on_panel=on_panel)
    if user.role is Role.PARTY:
        own = await party_case_ids(session, user.id) & {a.case_id for a in hearing.agenda}
        if own:
            return HearingAccess(full=False, case_ids=own)
    raise NotFound("No such hearing.")


async def check_can_view_board(session: AsyncSession, user: User, board_id: int) -> Board:
    board = await require_board(session, board_id)
    if user.role in SCHEDULERS:
        return board
    if user.role is Role.MEMBER and board_id in await member_board_ids(session, user.id):
        return board
    raise Forbidden("You do not have access to this board's calendar.")
