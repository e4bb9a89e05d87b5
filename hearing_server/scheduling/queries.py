"""Reading hearings: a board's calendar, one's own hearings, one hearing as its viewer
may see it (and its invitation), what the scheduling form offers, a case's next hearing.

Nothing here writes. The functions taking ``actor`` check the reader with
:mod:`hearing_server.scheduling.access`; ``accepted_cases`` and ``next_hearing`` are
lookups for callers that have already decided who may see the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.accounts.models import Role, User
from hearing_server.boards.models import Board, Seat
from hearing_server.cases.access import boards_clause
from hearing_server.cases.models import Case, CaseParty, CaseStatus
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.law.rules import BoardRules, SeatGroup
from hearing_server.scheduling.access import (
    SCHEDULERS,
    HearingStanding,
    access_board,
    access_board_calendar,
    access_hearing,
    require_board,
    seated_board_ids,
)
from hearing_server.scheduling.forecast import Forecast, latest_rules, quorum_forecast, rules_of
from hearing_server.scheduling.models import (
    ACTIVE,
    AgendaItem,
    Hearing,
    HearingStatus,
    PanelSeat,
    Summons,
)
from hearing_server.scheduling.notices import hearing_ics
from hearing_server.scheduling.worktime import tehran_to_utc

# ---------------------------------------------------------------- lists


async def list_board_hearings(
    session: AsyncSession, *, actor: User, board_id: int, first: date, last: date
) -> tuple[Board, list[Hearing]]:
    """Hearings of a board whose Tehran date is within ``first``…``last``."""
    board = await access_board_calendar(session, actor, board_id)
    start = tehran_to_utc(first, time(0, 0))
    end = tehran_to_utc(last + timedelta(days=1), time(0, 0))
    hearings = list(
        await session.scalars(
            select(Hearing)
            .options(selectinload(Hearing.agenda), selectinload(Hearing.panel))
            .where(
                Hearing.board_id == board.id, Hearing.starts_at >= start, Hearing.starts_at < end
            )
            .order_by(Hearing.starts_at)
        )
    )
    return board, hearings


async def list_my_hearings(
    session: AsyncSession, *, actor: User, include_past: bool = False
) -> list[Hearing]:
    """Members: their own panels. Parties: hearings of their cases. Secretary/admin: all
    of their office's (the national admin: every office's)."""
    query = select(Hearing).options(selectinload(Hearing.agenda), selectinload(Hearing.panel))
    if actor.role in (Role.MEMBER, *SCHEDULERS):
        query = query.where(Hearing.board_id.in_(select(Board.id).where(boards_clause(actor))))
    if actor.role is Role.MEMBER:
        query = query.where(
            Hearing.id.in_(select(PanelSeat.hearing_id).where(PanelSeat.member_id == actor.id))
        )
    elif actor.role is Role.PARTY:
        own = select(CaseParty.case_id).where(
            or_(CaseParty.user_id == actor.id, CaseParty.representative_user_id == actor.id)
        )
        query = query.where(
            Hearing.id.in_(select(AgendaItem.hearing_id).where(AgendaItem.case_id.in_(own)))
        )
    elif actor.role not in SCHEDULERS:
        return []
    if not include_past:
        query = query.where(Hearing.starts_at >= utcnow() - timedelta(hours=12))
    return list(await session.scalars(query.order_by(Hearing.starts_at).limit(200)))


async def accepted_cases(session: AsyncSession, board_id: int) -> list[Case]:
    """The board's queue: accepted cases waiting for a hearing, first filed first (200 at most)."""
    return list(
        await session.scalars(
            select(Case)
            .where(Case.board_id == board_id, Case.status == CaseStatus.ACCEPTED)
            .order_by(Case.filed_at, Case.id)
            .limit(200)
        )
    )


async def boards_for(session: AsyncSession, user: User) -> list[Board]:
    """The boards whose calendars ``user`` may see: their office's (staff), those they
    are seated on today (members)."""
    if user.role in SCHEDULERS:
        return list(
            await session.scalars(select(Board).where(boards_clause(user)).order_by(Board.id))
        )
    if user.role is Role.MEMBER:
        ids = await seated_board_ids(session, user.id)
        return list(
            await session.scalars(
                select(Board).where(Board.id.in_(ids), boards_clause(user)).order_by(Board.id)
            )
        )
    return []


async def next_hearing(session: AsyncSession, case_id: int) -> datetime | None:
    """When ``case_id`` is next on the agenda of a scheduled hearing (None if it is not)."""
    return await session.scalar(
        select(AgendaItem.starts_at)
        .join(Hearing, Hearing.id == AgendaItem.hearing_id)
        .where(
            AgendaItem.case_id == case_id,
            AgendaItem.starts_at >= utcnow(),
            Hearing.status == HearingStatus.SCHEDULED,
        )
        .order_by(AgendaItem.starts_at)
        .limit(1)
    )


# ---------------------------------------------------------------- one hearing, as a viewer sees it


@dataclass
class HearingDetails:
    hearing: Hearing
    board: Board
    standing: HearingStanding
    agenda: list[tuple[AgendaItem, Case]]
    panel: list[tuple[PanelSeat, User]]
    forecast: Forecast | None
    summonses: list[Summons]
    my_seat: PanelSeat | None
    names: dict[int, str] = field(default_factory=dict)


async def hearing_details(session: AsyncSession, *, actor: User, hearing_id: int) -> HearingDetails:
    """The hearing as ``actor`` may see it: a party sees only their own cases on the agenda
    and their own summonses; the quorum forecast is for the board's side only."""
    hearing, standing = await access_hearing(session, actor, hearing_id)
    board = await require_board(session, hearing.board_id)
    agenda: list[tuple[AgendaItem, Case]] = []
    for item in hearing.agenda:
        if standing.sees_all or item.case_id in standing.case_ids:
            case = await session.get(Case, item.case_id)
            if case is not None:
                agenda.append((item, case))
    panel: list[tuple[PanelSeat, User]] = []
    for seat in hearing.panel:
        member = await session.get(User, seat.member_id)
        if member is not None:
            panel.append((seat, member))
    order = {SeatGroup.GOVERNMENT: 0, SeatGroup.WORKER: 1, SeatGroup.EMPLOYER: 2}
    panel.sort(key=lambda pair: (not pair[0].is_chair, order[pair[0].group], pair[0].seat_id))
    summons_query = select(Summons).where(Summons.hearing_id == hearing.id).order_by(Summons.id)
    if not standing.sees_all:
        summons_query = summons_query.where(Summons.user_id == actor.id)
    summonses = list(await session.scalars(summons_query))
    forecast = (
        quorum_forecast(await rules_of(session, hearing), hearing.panel)
        if standing.sees_all
        else None
    )
    my_seat = next((s for s in hearing.panel if s.member_id == actor.id), None)
    names: dict[int, str] = {}
    for summons in summonses:
        if summons.user_id is not None and summons.user_id not in names:
            person = await session.get(User, summons.user_id)
            names[summons.user_id] = person.full_name if person else str(summons.user_id)
    return HearingDetails(
        hearing, board, standing, agenda, panel, forecast, summonses, my_seat, names
    )


async def invitation_for(
    session: AsyncSession, *, actor: User, settings: Settings, hearing_id: int
) -> str:
    """The .ics a viewer can add to their calendar (cancelling when the hearing is off)."""
    details = await hearing_details(session, actor=actor, hearing_id=hearing_id)
    numbers = [case.number or str(case.id) for _item, case in details.agenda]
    attachment = hearing_ics(
        settings,
        details.hearing,
        details.board,
        numbers,
        actor.locale,
        cancelled=details.hearing.status not in ACTIVE,
    )
    return str(attachment["content"])


# ---------------------------------------------------------------- the scheduling form


@dataclass
class SeatOption:
    seat: Seat
    holders: list[User]


async def schedulable(
    session: AsyncSession, *, actor: User, board_id: int, day: date
) -> tuple[Board, BoardRules, list[Case], list[SeatOption]]:
    """What the scheduling form offers: accepted cases and each seat's holders on ``day``."""
    board = await access_board(session, actor, board_id)
    rules = (await latest_rules(session, board)).rules
    options: list[SeatOption] = []
    for seat in board.seats:
        holders = []
        for term in seat.terms:
            if term.covers(day):
                user = await session.get(User, term.member_id)
                if user is not None:
                    holders.append(user)
        options.append(SeatOption(seat, holders))
    return board, rules, await accepted_cases(session, board.id), options
