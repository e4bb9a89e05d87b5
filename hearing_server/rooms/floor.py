"""The floor: raised hands, and who may speak. The secretary or the chair gives the floor
to someone in the room and takes it back; the speaker may yield it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.clock import utcnow
from hearing_server.errors import Conflict, Forbidden, Invalid
from hearing_server.rooms.access import get_participant, is_admitted, require_active
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.log import do_append_event, public_audience
from hearing_server.rooms.models import RaisedHand
from hearing_server.rooms.presence import present_user_ids
from hearing_server.scheduling.models import Hearing, RoomPhase


async def do_raise_hand(session: AsyncSession, ctx: RoomContext) -> None:
    hearing = await require_active(session, ctx)
    raised = await session.scalar(
        select(RaisedHand.id).where(
            RaisedHand.hearing_id == hearing.id, RaisedHand.user_id == ctx.user.id
        )
    )
    if raised is not None:
        raise Conflict("Your hand is already raised.", code="hand_raised")
    session.add(RaisedHand(hearing_id=hearing.id, user_id=ctx.user.id, at=utcnow()))
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "hand",
        "raise",
        {"user_id": ctx.user.id, "name": ctx.user.full_name},
        public_audience(hearing),
        actor_id=ctx.user.id,
    )


async def _lower(session: AsyncSession, hearing: Hearing, user_id: int) -> bool:
    hand = await session.scalar(
        select(RaisedHand).where(RaisedHand.hearing_id == hearing.id, RaisedHand.user_id == user_id)
    )
    if hand is None:
        return False
    await session.delete(hand)
    await session.flush()
    return True


async def do_lower_hand(session: AsyncSession, ctx: RoomContext) -> None:
    hearing = await require_active(session, ctx)
    if not await _lower(session, hearing, ctx.user.id):
        raise Conflict("Your hand is not raised.", code="hand_not_raised")
    await do_append_event(
        session,
        hearing,
        "hand",
        "lower",
        {"user_id": ctx.user.id},
        public_audience(hearing),
        actor_id=ctx.user.id,
    )


async def do_give_floor(session: AsyncSession, ctx: RoomContext, user_id: int) -> Hearing:
    """Give the floor to someone in the room, lowering their hand (the caller checked that
    ``ctx`` moderates). A party can have it only during the hearing, once admitted."""
    hearing = await require_active(session, ctx)
    present = await present_user_ids(session, hearing.id)
    target = await session.get(User, user_id)
    if target is None or user_id not in present:
        raise Invalid("The floor can be given only to someone in the room.", code="not_present")
    standing = await get_participant(session, target, hearing)
    if standing is None or (not standing.is_board and hearing.phase != RoomPhase.HEARING):
        raise Invalid("The floor can be given only to someone in the room.", code="not_present")
    if not standing.is_board and not await is_admitted(session, hearing.id, user_id):
        raise Invalid("The floor can be given only to someone in the room.", code="not_present")
    hearing.floor_user_id = user_id
    await _lower(session, hearing, user_id)
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "floor",
        "give",
        {"user_id": user_id, "name": target.full_name},
        public_audience(hearing),
        actor_id=ctx.user.id,
    )
    return hearing


async def do_take_floor(session: AsyncSession, ctx: RoomContext) -> Hearing:
    """The moderator takes the floor back; the speaker may also yield it."""
    hearing = await require_active(session, ctx)
    if not ctx.is_moderator and hearing.floor_user_id != ctx.user.id:
        raise Forbidden("Only the secretary or the chair may do this.", code="not_moderator")
    if hearing.floor_user_id is None:
        raise Conflict("Nobody has the floor.", code="no_floor")
    hearing.floor_user_id = None
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "floor",
        "take",
        {"user_id": None},
        public_audience(hearing),
        actor_id=ctx.user.id,
    )
    return hearing
