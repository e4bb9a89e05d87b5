"""Reading votes: the motions of a hearing, what a viewer may see of one, the claims still
to be put to the vote, and who is present, recused or has voted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.accounts.models import User
from hearing_server.cases.models import Case, CaseStatus
from hearing_server.law.rules import Outcome
from hearing_server.rooms.models import Attendance
from hearing_server.scheduling.models import Hearing
from hearing_server.voting.access import access_motion, access_votes
from hearing_server.voting.models import Ballot, Motion, MotionState, Recusal


async def present_member_ids(session: AsyncSession, hearing_id: int) -> set[int]:
    """Users in the room now: an attendance row without a leaving time."""
    rows = await session.scalars(
        select(Attendance.user_id).where(
            Attendance.hearing_id == hearing_id, Attendance.left_at.is_(None)
        )
    )
    return set(rows)


async def recused_member_ids(session: AsyncSession, hearing_id: int, case_id: int) -> set[int]:
    rows = await session.scalars(
        select(Recusal.member_id).where(
            Recusal.hearing_id == hearing_id, Recusal.case_id == case_id
        )
    )
    return set(rows)


async def ballots_of(session: AsyncSession, motion_id: int) -> list[Ballot]:
    rows = await session.scalars(
        select(Ballot).where(Ballot.motion_id == motion_id).order_by(Ballot.id)
    )
    return list(rows)


def eligible_ids(motion: Motion) -> list[int]:
    return [int(item["member_id"]) for item in motion.eligible]


async def claims_to_vote_on(session: AsyncSession, hearing: Hearing) -> list[dict[str, Any]]:
    """For the secretary's vote page: each claim of the hearing's cases in hearing that has
    no open or passed/failed motion yet (a no-majority motion may be put again)."""
    case_ids = [item.case_id for item in hearing.agenda]
    if not case_ids:
        return []
    cases = await session.scalars(
        select(Case)
        .options(selectinload(Case.claims))
        .where(Case.id.in_(case_ids), Case.status == CaseStatus.IN_HEARING)
    )
    settled = set(
        await session.scalars(
            select(Motion.claim_id).where(
                Motion.hearing_id == hearing.id,
                Motion.claim_id.is_not(None),
                (Motion.state == MotionState.OPEN) | Motion.outcome.in_(["passed", "failed"]),
            )
        )
    )
    return [
        {"case_id": case.id, "case_number": case.number, "claim": claim}
        for case in cases
        for claim in case.claims
        if claim.id not in settled
    ]


async def list_motions(session: AsyncSession, *, actor: User, hearing_id: int) -> list[Motion]:
    hearing, _standing = await access_votes(session, actor, hearing_id)
    rows = await session.scalars(
        select(Motion).where(Motion.hearing_id == hearing.id).order_by(Motion.id)
    )
    return list(rows)


async def require_motion_for(session: AsyncSession, *, actor: User, motion_id: int) -> Motion:
    motion, _hearing, _standing = await access_motion(session, actor, motion_id)
    return motion


async def motion_view(session: AsyncSession, motion: Motion, *, viewer: User) -> dict[str, Any]:
    """What a viewer may see of a motion: while open, who has voted but not how (and the
    viewer's own ballot); once closed, the tally and every named ballot with opinions."""
    ballots = await ballots_of(session, motion.id)
    recused = await recused_member_ids(session, motion.hearing_id, motion.case_id)
    snapshot = eligible_ids(motion)
    member_ids = set(snapshot) | {b.member_id for b in ballots}
    rows = await session.execute(select(User.id, User.full_name).where(User.id.in_(member_ids)))
    names = {row.id: row.full_name for row in rows}
    groups = {int(item["member_id"]): item["group"] for item in motion.eligible}
    voted = {b.member_id for b in ballots}
    case_number = await session.scalar(select(Case.number).where(Case.id == motion.case_id))
    body: dict[str, Any] = {
        "id": motion.id,
        "hearing_id": motion.hearing_id,
        "case_id": motion.case_id,
        "case_number": case_number,
        "claim_id": motion.claim_id,
        "kind": motion.kind.value,
        "text": motion.text,
        "amount": motion.amount,
        "reasoning": motion.reasoning,
        "legal_basis": motion.legal_basis,
        "rules_version_id": motion.rules_version_id,
        "state": motion.state.value,
        "opened_at": motion.opened_at.isoformat(),
        "members": [
            {
                "member_id": member_id,
                "full_name": names.get(member_id),
                "group": groups.get(member_id),
                "voted": member_id in voted,
                "recused": member_id in recused,
            }
            for member_id in snapshot
        ],
        "voted_count": len(voted),
        "eligible_count": len(set(snapshot) - recused),
    }
    mine = next((b for b in ballots if b.member_id == viewer.id), None)
    if mine is not None:
        body["my_ballot"] = {
            "choice": mine.choice,
            "opinion": mine.opinion,
            "receipt": mine.receipt,
            "cast_at": mine.cast_at.isoformat(),
        }
    if motion.state == MotionState.CLOSED:
        result = motion.result or {}
        body.update(
            closed_at=motion.closed_at.isoformat() if motion.closed_at else None,
            outcome=motion.outcome,
            result=result,
            chain_head_at_close=motion.chain_head_at_close,
            rehearing_required=motion.outcome == Outcome.NO_MAJORITY.value,
            revote_required=motion.outcome == Outcome.NO_QUORUM.value,
            ballots=[
                {
                    "member_id": b.member_id,
                    "full_name": names.get(b.member_id),
                    "group": groups.get(b.member_id),
                    "choice": b.choice,
                    "opinion": b.opinion,
                    "cast_at": b.cast_at.isoformat(),
                }
                for b in ballots
            ],
        )
    return body


async def open_motions_for_member(
    session: AsyncSession, *, actor: User, hearing_id: int
) -> tuple[Hearing, list[Motion]]:
    hearing, _standing = await access_votes(session, actor, hearing_id)
    rows = await session.scalars(
        select(Motion)
        .where(Motion.hearing_id == hearing.id, Motion.state == MotionState.OPEN)
        .order_by(Motion.id)
    )
    return hearing, list(rows)


async def open_vote_case_ids(session: AsyncSession, hearing_id: int) -> frozenset[int]:
    """The hearing's cases with a vote still open (the room asks when it closes, through
    ``rt.rooms.open_vote_cases``, so such a case is not sent back to the queue)."""
    rows = await session.scalars(
        select(Motion.case_id).where(
            Motion.hearing_id == hearing_id, Motion.state == MotionState.OPEN
        )
    )
    return frozenset(rows)
