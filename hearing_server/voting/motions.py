"""Motions: opening a vote (quorum, who may vote), closing it and its tally, deciding the
case once every motion is resolved, and a member's recusal.

Every function takes the session first and flushes, never commits; room events go out
after the commit (:mod:`hearing_server.voting.room_events`).

Concurrency. Every write on a motion (a ballot, the close, a recusal) first locks the
motion's hearing row, then the motion row: ``SELECT … FOR UPDATE`` on PostgreSQL; on
SQLite the write transaction already holds the database's write lock (``BEGIN
IMMEDIATE``). So a ballot and the close of the same motion are serialised: the ballot
either commits before the close and is counted, or finds the motion closed and is
refused; it cannot be half-recorded. The lock order is always hearing and motion rows
first, then the audit chain's lock (taken by ``verify_otp``/``do_record``), so two
writers never wait on each other in a circle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.accounts.models import User
from hearing_server.audit.services import do_record
from hearing_server.boards.models import Board, BoardRulesVersion
from hearing_server.cases.models import Case, CaseStatus, Claim
from hearing_server.cases.reasons import system_reason
from hearing_server.cases.workflow import do_transition
from hearing_server.clock import utcnow
from hearing_server.errors import Conflict, Forbidden, Invalid, NotFound, ValidationErrors
from hearing_server.law.rules import (
    BoardRules,
    Choice,
    Outcome,
    SeatGroup,
    Tally,
    quorum_status,
    tally,
)
from hearing_server.scheduling.access import access_hearing, require_hearing
from hearing_server.scheduling.models import Hearing, RoomPhase
from hearing_server.scheduling.timing import check_started
from hearing_server.text import normalize_persian
from hearing_server.voting import room_events
from hearing_server.voting.access import access_vote_running, check_may_run_vote
from hearing_server.voting.models import Ballot, Motion, MotionKind, MotionState, Recusal
from hearing_server.voting.queries import (
    ballots_of,
    eligible_ids,
    present_member_ids,
    recused_member_ids,
)
from hearing_server.voting.rules_versions import current_rules_version

MAX_TEXT = 4000
MAX_REASON = 2000
RESOLVED = {Outcome.PASSED.value, Outcome.FAILED.value}


# ------------------------------------------------------------------ opening


async def do_open_motion(
    session: AsyncSession,
    *,
    actor: User,
    hearing_id: int,
    case_id: int,
    kind: MotionKind | str,
    text: str,
    claim_id: int | None = None,
    amount: int | None = None,
    reasoning: str | None = None,
    legal_basis: str | None = None,
) -> Motion:
    """Open a vote in the voting phase; quorum is checked and the eligible members
    (seated on the panel, present, not recused) are recorded on the motion."""
    hearing, _standing = await access_vote_running(session, actor, hearing_id)
    check_started(hearing)
    if hearing.phase != RoomPhase.VOTING:
        raise Conflict("A vote can be opened only in the voting phase of the hearing.")
    if all(item.case_id != case_id for item in hearing.agenda):
        raise NotFound("This case is not on the hearing's agenda.")
    case = await session.scalar(
        select(Case).options(selectinload(Case.claims)).where(Case.id == case_id)
    )
    if case is None:
        raise NotFound("This case is not on the hearing's agenda.")
    if case.status != CaseStatus.IN_HEARING:
        raise Conflict(
            "Cannot open a vote on case {number}: the case is not being heard.",
            number=case.number or case.id,
        )

    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    try:
        motion_kind = MotionKind(kind)
    except ValueError:
        errors["kind"] = ("Choose what the motion proposes.", {})
        motion_kind = MotionKind.FREE_TEXT
    statement = normalize_persian(text or "").strip()
    if not statement:
        errors["text"] = ("Enter the text of the motion.", {})
    elif len(statement) > MAX_TEXT:
        errors["text"] = ("The text is too long (at most {max} characters).", {"max": MAX_TEXT})
    claim: Claim | None = None
    if claim_id is not None:
        claim = next((c for c in case.claims if c.id == claim_id), None)
        if claim is None:
            errors["claim_id"] = ("Choose a claim of this case.", {})
    elif motion_kind != MotionKind.FREE_TEXT:
        errors["claim_id"] = ("Choose a claim of this case.", {})
    award: int | None = None
    if motion_kind == MotionKind.PARTLY_ACCEPT:
        ceiling = claim.amount if claim is not None else None
        if amount is None or amount <= 0 or (ceiling is not None and amount >= ceiling):
            errors["amount"] = (
                "For a partial award enter an amount in rials above zero and below the claim.",
                {},
            )
        award = amount
    elif motion_kind == MotionKind.ACCEPT:
        award = claim.amount if claim is not None else None
    elif motion_kind == MotionKind.FREE_TEXT and amount is not None:
        if amount <= 0:
            errors["amount"] = ("An amount must be above zero.", {})
        award = amount
    reasons = {
        "reasoning": normalize_persian(reasoning or "").strip() or None,
        "legal_basis": normalize_persian(legal_basis or "").strip() or None,
    }
    for name, value in reasons.items():
        if value is not None and len(value) > MAX_TEXT:
            errors[name] = ("The text is too long (at most {max} characters).", {"max": MAX_TEXT})
    if errors:
        raise ValidationErrors(errors)
    if claim is not None:
        already = await session.scalar(
            select(Motion.id).where(
                Motion.claim_id == claim.id,
                Motion.hearing_id == hearing.id,
                Motion.state == MotionState.OPEN,
            )
        )
        if already is not None:
            raise Conflict("A vote on this claim is already open.")

    board_type = (
        await session.execute(select(Board.type).where(Board.id == hearing.board_id))
    ).scalar_one()
    version = await current_rules_version(session, board_type)
    rules = version.rules
    present = await present_member_ids(session, hearing.id)
    recused = await recused_member_ids(session, hearing.id, case.id)
    eligible = [
        {"member_id": seat.member_id, "group": seat.group.value, "is_chair": seat.is_chair}
        for seat in hearing.panel
        if seat.member_id in present and seat.member_id not in recused
    ]
    status = _quorum(rules, eligible)
    if not status.met:
        raise Conflict(
            "No quorum to open the vote: {present} present and not recused, {required} required.",
            code="no_quorum",
            present=status.present,
            required=status.required,
        )
    motion = Motion(
        hearing_id=hearing.id,
        case_id=case.id,
        claim_id=claim.id if claim is not None else None,
        kind=motion_kind,
        text=statement,
        amount=award,
        reasoning=reasons["reasoning"],
        legal_basis=reasons["legal_basis"],
        rules_version_id=version.id,
        state=MotionState.OPEN,
        opened_by_id=actor.id,
        opened_at=utcnow(),
        eligible=eligible,
    )
    session.add(motion)
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="motion.opened",
        subject_type="motion",
        subject_id=motion.id,
        payload={
            "hearing_id": hearing.id,
            "case_id": case.id,
            "claim_id": motion.claim_id,
            "kind": motion_kind.value,
            "amount": award,
            "rules_version_id": version.id,
            "eligible": [item["member_id"] for item in eligible],
        },
    )
    await room_events.notify_motion_opened(session, hearing, motion)
    return motion


def _quorum(rules: BoardRules, eligible: Sequence[Mapping[str, Any]]) -> Any:
    counts: dict[SeatGroup, int] = {}
    for item in eligible:
        group = SeatGroup(item["group"])
        counts[group] = counts.get(group, 0) + 1
    try:
        return quorum_status(rules, counts)
    except ValueError:
        raise Conflict(
            "The hearing's panel has more members in a seat group than the rules allow."
        ) from None


# ------------------------------------------------------------------ closing


async def _maybe_auto_close(session: AsyncSession, motion: Motion, hearing: Hearing) -> bool:
    """Close ``motion`` when every eligible, not recused member has voted."""
    if motion.state != MotionState.OPEN:
        return False
    recused = await recused_member_ids(session, hearing.id, motion.case_id)
    waiting = set(eligible_ids(motion)) - recused
    voted = {b.member_id for b in await ballots_of(session, motion.id)}
    if not waiting <= voted:
        return False
    await do_close_locked_motion(session, motion, hearing, closed_by=None)
    return True


async def _lock_motion(session: AsyncSession, motion_id: int) -> tuple[Motion, Hearing]:
    """Lock the motion's hearing row, then the motion row (SELECT … FOR UPDATE on
    PostgreSQL; SQLite's write transaction holds the database lock already)."""
    hearing_id = await session.scalar(select(Motion.hearing_id).where(Motion.id == motion_id))
    if hearing_id is None:
        raise NotFound("No such motion.")
    hearing = await require_hearing(session, hearing_id, lock=True)
    motion = await session.scalar(
        select(Motion)
        .where(Motion.id == motion_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if motion is None:
        raise NotFound("No such motion.")
    return motion, hearing


async def do_close_motion(session: AsyncSession, *, actor: User, motion_id: int) -> Motion:
    """The secretary or the chair closes the vote; the tally follows the motion's rules."""
    motion, hearing = await _lock_motion(session, motion_id)
    await check_may_run_vote(session, actor, hearing)
    if motion.state != MotionState.OPEN:
        raise Conflict("This vote is already closed.", code="vote_closed")
    await do_close_locked_motion(session, motion, hearing, closed_by=actor)
    return motion


async def count_motion(session: AsyncSession, motion: Motion, hearing: Hearing) -> Tally:
    """The tally of ``motion`` now, under the rules version it opened with.

    Present at the count: the members eligible at opening who voted or are still in the
    room (quorum is checked again at the close). Recused: those among them who declared
    a conflict of interest after the vote opened.
    """
    version = await session.get_one(BoardRulesVersion, motion.rules_version_id)
    rules = version.rules
    ballots = {b.member_id: Choice(b.choice) for b in await ballots_of(session, motion.id)}
    in_room = await present_member_ids(session, hearing.id)
    snapshot = {int(item["member_id"]): item for item in motion.eligible}
    present = {
        member_id: SeatGroup(item["group"])
        for member_id, item in snapshot.items()
        if member_id in ballots or member_id in in_room
    }
    recused = (await recused_member_ids(session, hearing.id, motion.case_id)) & set(snapshot)
    chair = next(
        (
            member_id
            for member_id, item in snapshot.items()
            if item.get("is_chair") and SeatGroup(item["group"]) == rules.chair_group
        ),
        None,
    )
    return tally(rules, present=present, ballots=ballots, recused=recused, chair_id=chair)


async def do_close_locked_motion(
    session: AsyncSession, motion: Motion, hearing: Hearing, *, closed_by: User | None
) -> None:
    """Close ``motion``, store its tally and named ballots, and decide the case when this
    was its last open question. The caller holds the motion's lock (see the module's
    concurrency note); ``closed_by`` None is the close after the last eligible ballot."""
    result = await count_motion(session, motion, hearing)
    ballots = await ballots_of(session, motion.id)
    now = utcnow()
    motion.state = MotionState.CLOSED
    motion.closed_at = now
    motion.closed_by_id = closed_by.id if closed_by is not None else None
    motion.outcome = result.outcome.value
    motion.result = {
        **result.to_dict(),
        "explanation": {"fa": result.explain("fa"), "en": result.explain("en")},
        "ballots": [
            {"member_id": b.member_id, "choice": b.choice, "receipt": b.receipt} for b in ballots
        ],
        "auto_closed": closed_by is None,
    }
    event = await do_record(
        session,
        actor_id=closed_by.id if closed_by is not None else None,
        action="motion.closed",
        subject_type="motion",
        subject_id=motion.id,
        payload={
            "outcome": result.outcome.value,
            "reason": result.reason,
            "votes_for": result.votes_for,
            "votes_against": result.votes_against,
            "abstentions": result.abstentions,
            "not_voted": result.not_voted,
            "ballots": {str(b.member_id): b.choice for b in ballots},
            "auto_closed": closed_by is None,
        },
    )
    motion.chain_head_at_close = event.hash
    await session.flush()
    await room_events.notify_motion_closed(session, hearing, motion)
    await _maybe_decide_case(session, motion.case_id, closed_by)


async def _maybe_decide_case(session: AsyncSession, case_id: int, actor: User | None) -> None:
    """in_hearing → decided once every motion of the case is resolved (passed or failed):
    nothing open, the latest motion on each claim (and on free text) resolved, and every
    claim of the case voted on. A no-majority or no-quorum result leaves the case open."""
    motions = list(
        await session.scalars(select(Motion).where(Motion.case_id == case_id).order_by(Motion.id))
    )
    if not motions or any(m.state == MotionState.OPEN for m in motions):
        return
    latest: dict[int | None, Motion] = {}
    for motion in motions:
        latest[motion.claim_id] = motion
    if any(m.outcome not in RESOLVED for m in latest.values()):
        return
    claims = set(await session.scalars(select(Claim.id).where(Claim.case_id == case_id)))
    if not claims <= {k for k in latest if k is not None}:
        return
    case = await session.scalar(
        select(Case)
        .where(Case.id == case_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if case is None or case.status != CaseStatus.IN_HEARING:
        return
    await _transition_case_decided(session, case, actor)


async def _transition_case_decided(session: AsyncSession, case: Case, actor: User | None) -> None:
    """Through the cases part's guarded transition (CaseTransition + audit + notices). The
    vote decided it, so the system is the actor; who closed the vote is in the audit chain."""
    del actor
    await do_transition(
        session, case, CaseStatus.DECIDED, actor=None, reason=system_reason("voted")
    )


# ------------------------------------------------------------------ recusal


async def do_declare_recusal(
    session: AsyncSession, *, actor: User, hearing_id: int, case_id: int, reason: str
) -> Recusal:
    """A panel member stands aside from a case for a conflict of interest. Refused after
    they have voted on an open motion of that case (a ballot is final)."""
    hearing, standing = await access_hearing(session, actor, hearing_id, lock=True)
    if not standing.on_panel:
        raise Forbidden("Only a member seated on this hearing's panel can recuse.")
    if all(item.case_id != case_id for item in hearing.agenda):
        raise NotFound("This case is not on the hearing's agenda.")
    text = normalize_persian(reason or "").strip()
    if not text:
        raise Invalid("Give the reason for the recusal.", field="reason")
    if len(text) > MAX_REASON:
        raise Invalid(
            "The text is too long (at most {max} characters).", field="reason", max=MAX_REASON
        )
    open_motions = list(
        await session.scalars(
            select(Motion)
            .where(
                Motion.hearing_id == hearing.id,
                Motion.case_id == case_id,
                Motion.state == MotionState.OPEN,
            )
            .order_by(Motion.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    if open_motions:
        voted = await session.scalar(
            select(Ballot.id).where(
                Ballot.member_id == actor.id,
                Ballot.motion_id.in_([m.id for m in open_motions]),
            )
        )
        if voted is not None:
            raise Conflict(
                "You have already voted on an open motion of this case; a ballot is final."
            )
    recusal = Recusal(
        hearing_id=hearing.id, case_id=case_id, member_id=actor.id, reason=text, at=utcnow()
    )
    try:
        async with session.begin_nested():
            session.add(recusal)
            await session.flush()
    except IntegrityError:
        raise Conflict("You have already recused yourself from this case.") from None
    await do_record(
        session,
        actor_id=actor.id,
        action="recusal.declared",
        subject_type="case",
        subject_id=case_id,
        payload={"hearing_id": hearing.id, "member_id": actor.id, "reason": text},
    )
    for motion in open_motions:
        if not await _maybe_auto_close(session, motion, hearing):
            await room_events.notify_progress(session, hearing, motion)
    return recusal
