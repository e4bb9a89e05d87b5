"""Voting in the hearing room: the events a vote sends, and the ``vote.cast`` socket event.

Events (type ``vote``, audience ``board``; sent after the transaction commits, numbered
in the room's log by the rooms part's ``do_append_event``):

* ``opened`` — the motion, its proposed reasoning and legal basis, who may vote;
* ``progress`` — who has voted and who has not, never how;
* ``closed`` — the tally, every named ballot and opinion, the chain head at close.

The payloads never carry a choice while the motion is open.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.scheduling.models import Hearing
from hearing_server.voting.models import Ballot, Motion

EVENT_TYPE = "vote"
AUDIENCE = "board"
CAST_EVENT = "vote.cast"


async def _append(
    session: AsyncSession, hearing: Hearing, op: str, payload: dict[str, Any]
) -> None:
    """Hand the event to the room log (which emits after the commit), when rooms is here."""
    try:
        rooms = importlib.import_module("hearing_server.rooms.services")
    except ImportError:
        return
    append = getattr(rooms, "do_append_event", None)
    if append is not None:
        await append(session, hearing, EVENT_TYPE, op, payload, AUDIENCE)


def opened_payload(motion: Motion) -> dict[str, Any]:
    return {
        "motion_id": motion.id,
        "case_id": motion.case_id,
        "claim_id": motion.claim_id,
        "kind": motion.kind.value,
        "text": motion.text,
        "amount": motion.amount,
        "reasoning": motion.reasoning,
        "legal_basis": motion.legal_basis,
        "eligible": [int(item["member_id"]) for item in motion.eligible],
    }


async def progress_payload(
    session: AsyncSession,
    motion: Motion,
    *,
    voted: set[int] | None = None,
    recused: set[int] | None = None,
) -> dict[str, Any]:
    """Who has voted, not how. ``voted`` and ``recused`` when the caller has just read them
    under the motion's lock (a ballot); otherwise they are read here."""
    from hearing_server.voting.queries import recused_member_ids

    if voted is None:
        voted = set(
            await session.scalars(select(Ballot.member_id).where(Ballot.motion_id == motion.id))
        )
    if recused is None:
        recused = await recused_member_ids(session, motion.hearing_id, motion.case_id)
    waiting = [int(i["member_id"]) for i in motion.eligible]
    return {
        "motion_id": motion.id,
        "voted": sorted(voted),
        "not_voted": [m for m in waiting if m not in voted and m not in recused],
        "recused": sorted(recused & set(waiting)),
        "voted_count": len(voted),
        "eligible_count": len(set(waiting) - recused),
    }


def closed_payload(motion: Motion) -> dict[str, Any]:
    result = motion.result or {}
    return {
        "motion_id": motion.id,
        "case_id": motion.case_id,
        "outcome": motion.outcome,
        "result": {k: v for k, v in result.items() if k != "ballots"},
        "ballots": result.get("ballots", []),
        "chain_head_at_close": motion.chain_head_at_close,
        "rehearing_required": motion.outcome == "no_majority",
    }


async def notify_motion_opened(session: AsyncSession, hearing: Hearing, motion: Motion) -> None:
    await _append(session, hearing, "opened", opened_payload(motion))


async def notify_progress(
    session: AsyncSession,
    hearing: Hearing,
    motion: Motion,
    *,
    voted: set[int] | None = None,
    recused: set[int] | None = None,
) -> None:
    payload = await progress_payload(session, motion, voted=voted, recused=recused)
    await _append(session, hearing, "progress", payload)


async def notify_motion_closed(session: AsyncSession, hearing: Hearing, motion: Motion) -> None:
    await _append(session, hearing, "closed", closed_payload(motion))


# ------------------------------------------------------------------ the socket cast event


class CastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    motion_id: int = Field(gt=0)
    choice: str = Field(min_length=1, max_length=16)
    otp: str = Field(min_length=1, max_length=32)
    opinion: str | None = Field(default=None, max_length=20_000)


VOTER_ROLES = frozenset({"chair", "member"})  # the room's roles of panel members


async def on_cast(session: AsyncSession, ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """``vote.cast`` from a member's socket in the hearing room: the same service as the
    HTTP POST, for a motion of this socket's hearing; the namespace acknowledges with this
    dict after the commit (and the room's progress event goes out after the commit too)."""
    from hearing_server.errors import Forbidden
    from hearing_server.voting.ballots import do_cast_ballot

    if ctx.role not in VOTER_ROLES:
        # A party's (or the secretary's) socket: refused before anything is read.
        raise Forbidden("Only board members can vote.", code="not_a_voter")
    result = await do_cast_ballot(
        session,
        ctx.settings,
        actor=ctx.user,
        motion_id=payload["motion_id"],
        choice=payload["choice"],
        code=payload["otp"],
        opinion=payload.get("opinion"),
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


def register_room_handlers() -> None:
    """Add ``vote.cast`` to the hearing room's handlers, once the rooms part offers them."""
    try:
        events = importlib.import_module("hearing_server.rooms.events")
    except ImportError:
        return
    register = getattr(events, "register_handler", None)
    if register is not None:
        register(CAST_EVENT, on_cast, schema=CastIn, write=True)
