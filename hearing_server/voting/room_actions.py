"""What a member does about votes from the hearing room's socket: ``vote.cast``, one room
action declared like the rooms part's own (``rooms.registry``) and added to the app's
registry in ``create_app``. It calls the same service as the HTTP ballot route; the
acknowledgement goes out after the commit, and so does the room's progress event."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.registry import Permission, RoomAction, room_action
from hearing_server.voting.ballots import do_cast_ballot

CAST_EVENT = "vote.cast"

VOTERS = Permission(
    frozenset({"chair", "member"}),  # the room's roles of panel members
    "Only board members can vote.",
    "not_a_voter",
)


class CastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    motion_id: int = Field(gt=0)
    choice: str = Field(min_length=1, max_length=16)
    otp: str = Field(min_length=1, max_length=32)
    opinion: str | None = Field(default=None, max_length=20_000)


@room_action(CAST_EVENT, schema=CastIn, permission=VOTERS)
async def cast(session: AsyncSession, ctx: RoomContext, p: CastIn) -> dict[str, Any]:
    """A ballot for a motion of this socket's hearing (a party's or the secretary's socket
    is refused before anything is read); guards and records are ``do_cast_ballot``'s."""
    result = await do_cast_ballot(
        session,
        ctx.settings,
        actor=ctx.user,
        motion_id=p.motion_id,
        choice=p.choice,
        code=p.otp,
        opinion=p.opinion,
        hearing_id=ctx.hearing_id,
    )
    return {
        "ballot_id": result.ballot.id,
        "motion_id": result.motion.id,
        "receipt": result.ballot.receipt,
        "cast_at": result.ballot.cast_at.isoformat(),
        "closed": result.closed,
        "outcome": result.motion.outcome,
    }


VOTING_ROOM_ACTIONS: tuple[RoomAction[Any], ...] = (cast,)
