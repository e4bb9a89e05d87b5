"""Voting in the hearing room: the events a vote sends, and the ``vote.cast`` socket event.

Events (type ``vote``, audience ``board``; sent after the transaction commits, numbered
in the room's log by the rooms part's ``do_append_event``):

* ``opened`` — the motion, its proposed reasoning and legal basis, who may vote;
* ``progress`` — who has voted and who has not, never how;
* ``closed`` — the tally, every named ballot and opinion, the chain head at close.

The payloads never carry a choice while the motion is open.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.rooms.log import do_append_event
from hearing_server.scheduling.models import Hearing
from hearing_server.voting.models import Ballot, Motion
from hearing_server.voting.queries import recused_member_ids

EVENT_TYPE = "vote"
AUDIENCE = "board"


async def _append(
    session: AsyncSession, hearing: Hearing, op: str, payload: dict[str, Any]
) -> None:
    """Hand the event to the room log, which numbers it and emits it after the commit."""
    await do_append_event(session, hearing, EVENT_TYPE, op, payload, AUDIENCE)


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
