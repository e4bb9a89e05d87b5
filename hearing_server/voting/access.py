"""Who may see a hearing's votes and who may run them (the hearing, its panel and chair)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.accounts.models import Role, User
from hearing_server.errors import Forbidden, NotFound
from hearing_server.scheduling.models import Hearing, PanelSeat


async def require_hearing(session: AsyncSession, hearing_id: int, *, lock: bool = False) -> Hearing:
    """The hearing with its panel and agenda. ``lock`` takes its row lock first (PostgreSQL),
    the same order the room's writers use (hearing row, then the audit chain's lock)."""
    query = (
        select(Hearing)
        .options(selectinload(Hearing.panel), selectinload(Hearing.agenda))
        .where(Hearing.id == hearing_id)
        .execution_options(populate_existing=True)
    )
    hearing = await session.scalar(query.with_for_update(of=Hearing) if lock else query)
    if hearing is None:
        raise NotFound("No such hearing.")
    return hearing


def panel_seat(hearing: Hearing, user_id: int) -> PanelSeat | None:
    return next((seat for seat in hearing.panel if seat.member_id == user_id), None)


def is_chair(hearing: Hearing, user: User) -> bool:
    seat = panel_seat(hearing, user.id)
    return seat is not None and seat.is_chair


def check_can_see_hearing(actor: User, hearing: Hearing) -> None:
    """The secretary, and the members seated on this hearing's panel."""
    if actor.role == Role.SECRETARY:
        return
    if actor.role == Role.MEMBER and panel_seat(hearing, actor.id) is not None:
        return
    raise Forbidden("You do not have access to this hearing.")


def check_can_run_vote(actor: User, hearing: Hearing) -> None:
    """Open and close votes: the secretary, or the chair of this hearing's panel."""
    if actor.role == Role.SECRETARY or is_chair(hearing, actor):
        return
    raise Forbidden("Only the secretary or the chair can open or close a vote.")
