"""Who may see a hearing's votes and who may run them: the hearing's one access rule
(:func:`hearing_server.scheduling.access.access_hearing`), asked for what voting needs."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.errors import Forbidden, NotFound
from hearing_server.scheduling.access import HearingStanding, access_hearing, get_standing
from hearing_server.scheduling.models import Hearing
from hearing_server.voting.models import Motion


async def access_votes(
    session: AsyncSession, actor: User, hearing_id: int, *, lock: bool = False
) -> tuple[Hearing, HearingStanding]:
    """The hearing and the viewer's standing when they may see its votes (the secretary
    and the panel); everyone else is told the hearing does not exist."""
    hearing, standing = await access_hearing(session, actor, hearing_id, lock=lock)
    if not standing.sees_votes:
        raise NotFound("No such hearing.")
    return hearing, standing


async def access_vote_running(
    session: AsyncSession, actor: User, hearing_id: int
) -> tuple[Hearing, HearingStanding]:
    """The hearing, locked, when ``actor`` may open and close its votes (secretary, chair)."""
    hearing, standing = await access_votes(session, actor, hearing_id, lock=True)
    if not standing.may_run_vote:
        raise Forbidden("Only the secretary or the chair can open or close a vote.")
    return hearing, standing


async def check_may_run_vote(session: AsyncSession, actor: User, hearing: Hearing) -> None:
    """For a hearing already read under its lock (closing a motion): the same rule."""
    standing = await get_standing(session, actor, hearing)
    if standing is None or not standing.sees_votes:
        raise NotFound("No such hearing.")
    if not standing.may_run_vote:
        raise Forbidden("Only the secretary or the chair can open or close a vote.")


async def access_motion(
    session: AsyncSession, actor: User, motion_id: int
) -> tuple[Motion, Hearing, HearingStanding]:
    """A motion, its hearing and the viewer's standing, when the viewer may see the
    hearing's votes; otherwise ``NotFound`` (missing or hidden alike)."""
    motion = await session.get(Motion, motion_id)
    if motion is None:
        raise NotFound("No such motion.")
    try:
        hearing, standing = await access_votes(session, actor, motion.hearing_id)
    except NotFound:
        raise NotFound("No such motion.") from None
    return motion, hearing, standing
