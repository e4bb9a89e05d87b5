"""Remote voting: motions, eligibility, OTP-verified named ballots, receipts, recusals,
the close and its tally, and the board rules versions an admin publishes.

Every function takes the session first and flushes, never commits; the boundary (an
HTTP request or a socket event) owns the transaction and emits room events after the
commit (:mod:`hearing_server.voting.room_events` registers them with ``after_commit``).

Concurrency. Every write on a motion (a ballot, the close, a recusal) first locks the
motion row: ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the write transaction
already holds the database's write lock (``BEGIN IMMEDIATE``). So a ballot and the
close of the same motion are serialised: the ballot either commits before the close
and is counted, or finds the motion closed and is refused; it cannot be half-recorded.
The lock order is always motion row(s) first, then the audit chain's lock (taken by
``verify_otp``/``do_record``), so two writers never wait on each other in a circle.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import join as orm_join
from sqlalchemy.orm import outerjoin, selectinload

from hearing_server.accounts.models import Role, ThrottleHit, TotpCredential, User
from hearing_server.accounts.services import check_throttle, verify_otp
from hearing_server.audit.models import AuditEvent
from hearing_server.audit.services import do_record, get_chain_tip, verify_chain
from hearing_server.boards.models import Board, BoardRulesVersion
from hearing_server.cases.models import Case, CaseStatus, Claim
from hearing_server.cases.services import do_transition
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import table_of
from hearing_server.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TooManyRequests,
    ValidationErrors,
)
from hearing_server.law.rules import (
    BoardRules,
    BoardType,
    Choice,
    Outcome,
    SeatGroup,
    Tally,
    quorum_status,
    tally,
)
from hearing_server.rooms.models import Attendance
from hearing_server.scheduling.models import Hearing, PanelSeat, RoomPhase
from hearing_server.text import normalize_persian
from hearing_server.voting import room_events
from hearing_server.voting.models import Ballot, Motion, MotionKind, MotionState, Recusal

MAX_TEXT = 4000
MAX_OPINION = 10000
MAX_REASON = 2000
VOTE_ATTEMPTS_PER_MINUTE = 20
THROTTLE_WINDOW = timedelta(minutes=1)
THROTTLE_KEEP = timedelta(days=1)  # as accounts.do_count_attempt
RESOLVED = {Outcome.PASSED.value, Outcome.FAILED.value}
RECEIPT_VERSION = 1


# ------------------------------------------------------------------ look-ups


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


async def current_rules_version(
    session: AsyncSession, board_type: BoardType | str
) -> BoardRulesVersion:
    row = await session.scalar(
        select(BoardRulesVersion)
        .where(BoardRulesVersion.board_type == BoardType(board_type))
        .order_by(BoardRulesVersion.version.desc())
        .limit(1)
    )
    if row is None:
        raise Conflict("No rules are published for this board type.")
    return row


def eligible_ids(motion: Motion) -> list[int]:
    return [int(item["member_id"]) for item in motion.eligible]


# ------------------------------------------------------------------ motions


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
    hearing = await require_hearing(session, hearing_id, lock=True)
    check_can_run_vote(actor, hearing)
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


# ------------------------------------------------------------------ ballots


@dataclass(frozen=True)
class CastResult:
    ballot: Ballot
    motion: Motion
    closed: bool


def make_receipt(
    *,
    motion_id: int,
    member_id: int,
    choice: str,
    opinion: str | None,
    cast_at: datetime,
    otp_step: int,
    chain_head: str,
) -> str:
    """A hash over the ballot's canonical content and the audit chain head at cast time."""
    body = {
        "v": RECEIPT_VERSION,
        "motion_id": motion_id,
        "member_id": member_id,
        "choice": choice,
        "opinion": opinion,
        "cast_at": cast_at.isoformat(timespec="microseconds"),
        "otp_step": otp_step,
        "chain_head": chain_head,
    }
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def _parse_choice(choice: str) -> Choice:
    try:
        return Choice(str(choice).strip().lower())
    except ValueError:
        raise Invalid("Choose for, against or abstain.", field="choice") from None


def _cast_facts(*, with_hearing: bool) -> Any:
    """The cast's one read (built once; bind parameters ``motion``, ``actor``, ``key`` and
    ``since``): the motion, the member's authenticator, whether they are seated and present,
    their attempts in the throttle window and their oldest hit (and, on SQLite, the hearing)."""
    seated = exists().where(
        PanelSeat.hearing_id == Motion.hearing_id, PanelSeat.member_id == bindparam("actor")
    )
    present = exists().where(
        Attendance.hearing_id == Motion.hearing_id,
        Attendance.user_id == bindparam("actor"),
        Attendance.left_at.is_(None),
    )
    attempts = (
        select(func.count())
        .select_from(ThrottleHit)
        .where(ThrottleHit.key == bindparam("key"), ThrottleHit.at >= bindparam("since"))
        .scalar_subquery()
    )
    oldest = (
        select(func.min(ThrottleHit.at))
        .where(ThrottleHit.key == bindparam("key"))
        .scalar_subquery()
    )
    columns: list[Any] = [Motion, TotpCredential, seated, present, attempts, oldest]
    source: Any = Motion
    if with_hearing:
        columns.append(Hearing)
        source = orm_join(Motion, Hearing, Hearing.id == Motion.hearing_id)
    return (
        select(*columns)
        .select_from(
            outerjoin(source, TotpCredential, TotpCredential.user_id == bindparam("actor"))
        )
        .where(Motion.id == bindparam("motion"))
        .execution_options(populate_existing=True)
    )


_CAST_FACTS_WITH_HEARING = _cast_facts(with_hearing=True)
_CAST_FACTS_LOCKED = _cast_facts(with_hearing=False).with_for_update(of=Motion)
_HEARING_OF_MOTION_LOCKED = (
    select(Hearing)
    .where(
        Hearing.id
        == select(Motion.hearing_id).where(Motion.id == bindparam("motion")).scalar_subquery()
    )
    .with_for_update(of=Hearing)
    .execution_options(populate_existing=True)
)

# The cast's two inserts, built once (Core: the row's values as parameters, no unit of work).
_THROTTLE_HIT = insert(table_of(ThrottleHit))
_BALLOTS = table_of(Ballot)
_BALLOT_INSERT = insert(_BALLOTS).returning(_BALLOTS.c.id)


async def do_cast_ballot(
    session: AsyncSession,
    settings: Settings,
    *,
    actor: User,
    motion_id: int,
    choice: str,
    code: str,
    opinion: str | None = None,
    hearing_id: int | None = None,
) -> CastResult:
    """Record ``actor``'s named, final ballot after a fresh authenticator code.

    Refusals, in order: not a member (403), too many attempts (429), no such motion (404;
    also when ``hearing_id`` is given and the motion is of another hearing), not on the
    panel (403), bad choice or opinion (422), already voted (409), vote closed (409), not
    eligible / recused / not in the room (403), then the code (422, or 423 when locked;
    the code's bookkeeping is committed). The last eligible ballot closes the vote in the
    same transaction.

    The hot path (a socket event in the room) keeps its round trips few: one read of the
    motion with its hearing, the member's authenticator, seat, presence and throttle count
    (on PostgreSQL the hearing row is locked by a read of its own first), one read of who
    has voted and who is recused (reused for the progress event), the throttle hit, the
    code's claim and audit row, the ballot and its audit row.
    """
    if actor.role != Role.MEMBER:
        raise Forbidden("Only board members can vote.")
    key = f"vote:user:{actor.id}"
    now = utcnow()
    params = {"motion": motion_id, "actor": actor.id, "key": key, "since": now - THROTTLE_WINDOW}
    row: Any
    hearing: Hearing | None
    if session.get_bind().dialect.name == "postgresql":
        # Row locks in the order every writer takes them: hearing, motion (then the chain).
        hearing = await session.scalar(_HEARING_OF_MOTION_LOCKED, {"motion": motion_id})
        row = None
        if hearing is not None:
            row = (await session.execute(_CAST_FACTS_LOCKED, params)).one_or_none()
    else:
        # SQLite: BEGIN IMMEDIATE already holds the database's write lock; one read.
        row = (await session.execute(_CAST_FACTS_WITH_HEARING, params)).one_or_none()
        hearing = row[-1] if row is not None else None
    if row is None or hearing is None or (hearing_id is not None and hearing.id != hearing_id):
        await check_throttle(session, [key], limit=VOTE_ATTEMPTS_PER_MINUTE, window=THROTTLE_WINDOW)
        raise NotFound("No such motion.")
    motion, credential, is_seated, is_present, tries, first_hit = row[:6]
    if (tries or 0) >= VOTE_ATTEMPTS_PER_MINUTE:
        raise TooManyRequests("Too many attempts. Please wait a few minutes and try again.")
    if not is_seated:
        raise Forbidden("You do not have access to this hearing.")
    picked = _parse_choice(choice)
    written = normalize_persian(opinion or "").strip() or None
    if written is not None and len(written) > MAX_OPINION:
        raise Invalid(
            "The opinion is too long (at most {max} characters).", field="opinion", max=MAX_OPINION
        )
    voted, recused = await _voters_and_recused(session, motion)
    if actor.id in voted:
        raise Conflict("You have already voted on this motion.", code="already_voted")
    if motion.state != MotionState.OPEN:
        raise Conflict("This vote is closed; no more ballots are accepted.", code="vote_closed")
    if actor.id not in eligible_ids(motion):
        raise Forbidden(
            "You cannot vote on this motion: you were not in the room when the vote opened.",
            code="not_eligible",
        )
    if actor.id in recused:
        raise Forbidden("You have recused yourself from this case.", code="recused")
    if not is_present:
        raise Forbidden("Join the hearing room to vote.", code="not_present")
    # The attempt is counted (committed even when the code is refused); this key's hits
    # older than a day are dropped when there are any (the same bookkeeping as
    # accounts.do_count_attempt, without scanning every key's hits on every ballot).
    await session.execute(_THROTTLE_HIT, {"key": key, "at": now})
    if first_hit is not None and first_hit < now - THROTTLE_KEEP:
        await session.execute(
            delete(ThrottleHit).where(ThrottleHit.key == key, ThrottleHit.at < now - THROTTLE_KEEP)
        )
    step = await verify_otp(session, settings, actor, code, purpose="vote", credential=credential)

    cast_at = utcnow()
    # The chain is locked by verify_otp's audit row; its tip is that row.
    head_seq, head = await get_chain_tip(session)
    receipt = make_receipt(
        motion_id=motion.id,
        member_id=actor.id,
        choice=picked.value,
        opinion=written,
        cast_at=cast_at,
        otp_step=step,
        chain_head=head,
    )
    values = {
        "motion_id": motion.id,
        "member_id": actor.id,
        "choice": picked.value,
        "opinion": written,
        "cast_at": cast_at,
        "otp_step": step,
        # The ballot's own audit row comes next in the chain (still locked by us).
        "audit_seq": head_seq + 1,
        "receipt": receipt,
    }
    try:
        ballot_id = (await session.execute(_BALLOT_INSERT, values)).scalar_one()
    except IntegrityError:
        # The unique (motion, member) constraint; the transaction is rolled back.
        raise Conflict("You have already voted on this motion.", code="already_voted") from None
    ballot = Ballot(id=ballot_id, **values)
    event = await do_record(
        session,
        actor_id=actor.id,
        action="ballot.cast",
        subject_type="motion",
        subject_id=motion.id,
        payload={
            "ballot_id": ballot_id,
            "member_id": actor.id,
            "choice": picked.value,
            "opinion_sha256": (
                hashlib.sha256(written.encode()).hexdigest() if written is not None else None
            ),
            "receipt": receipt,
        },
    )
    if event.seq != head_seq + 1:  # cannot happen while the chain's lock is held
        raise RuntimeError("the audit chain moved during a ballot")
    voted.add(actor.id)
    waiting = set(eligible_ids(motion)) - recused
    if waiting <= voted:
        await _close(session, motion, hearing, closed_by=None)
        return CastResult(ballot=ballot, motion=motion, closed=True)
    await room_events.notify_progress(session, hearing, motion, voted=voted, recused=recused)
    return CastResult(ballot=ballot, motion=motion, closed=False)


_VOTERS_AND_RECUSED = (
    select(Ballot.member_id, literal("b"))
    .where(Ballot.motion_id == bindparam("motion"))
    .union_all(
        select(Recusal.member_id, literal("r")).where(
            Recusal.hearing_id == bindparam("hearing"), Recusal.case_id == bindparam("case")
        )
    )
)


async def _voters_and_recused(session: AsyncSession, motion: Motion) -> tuple[set[int], set[int]]:
    """Who has voted on ``motion`` and who is recused from its case, in one round trip."""
    rows = await session.execute(
        _VOTERS_AND_RECUSED,
        {"motion": motion.id, "hearing": motion.hearing_id, "case": motion.case_id},
    )
    voted: set[int] = set()
    recused: set[int] = set()
    for member_id, kind in rows:
        (voted if kind == "b" else recused).add(int(member_id))
    return voted, recused


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
    await _close(session, motion, hearing, closed_by=None)
    return True


async def do_close_motion(session: AsyncSession, *, actor: User, motion_id: int) -> Motion:
    """The secretary or the chair closes the vote; the tally follows the motion's rules."""
    motion, hearing = await _lock_motion(session, motion_id)
    check_can_run_vote(actor, hearing)
    if motion.state != MotionState.OPEN:
        raise Conflict("This vote is already closed.", code="vote_closed")
    await _close(session, motion, hearing, closed_by=actor)
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


async def _close(
    session: AsyncSession, motion: Motion, hearing: Hearing, *, closed_by: User | None
) -> None:
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
        session, case, CaseStatus.DECIDED, actor=None, reason="every motion resolved by vote"
    )


# ------------------------------------------------------------------ recusal


async def do_declare_recusal(
    session: AsyncSession, *, actor: User, hearing_id: int, case_id: int, reason: str
) -> Recusal:
    """A panel member stands aside from a case for a conflict of interest. Refused after
    they have voted on an open motion of that case (a ballot is final)."""
    hearing = await require_hearing(session, hearing_id, lock=True)
    if actor.role != Role.MEMBER or panel_seat(hearing, actor.id) is None:
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


# ------------------------------------------------------------------ reading


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
    hearing = await require_hearing(session, hearing_id)
    check_can_see_hearing(actor, hearing)
    rows = await session.scalars(
        select(Motion).where(Motion.hearing_id == hearing.id).order_by(Motion.id)
    )
    return list(rows)


async def require_motion_for(session: AsyncSession, *, actor: User, motion_id: int) -> Motion:
    motion = await session.get(Motion, motion_id)
    if motion is None:
        raise NotFound("No such motion.")
    check_can_see_hearing(actor, await require_hearing(session, motion.hearing_id))
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


@dataclass(frozen=True)
class ReceiptCheck:
    ballot: Ballot
    motion: Motion
    case_number: str | None
    member_name: str
    in_chain: bool
    chain_ok: bool


async def check_receipt(session: AsyncSession, *, actor: User, receipt: str) -> ReceiptCheck:
    """Look a receipt up for the member who cast it (anyone else: not found).

    ``in_chain`` holds when the ballot's audit event carries this receipt, the receipt
    recomputes from the stored ballot and the head the event links to, and the whole
    chain verifies.
    """
    value = (receipt or "").strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise NotFound("No ballot has this receipt.")
    ballot = await session.scalar(select(Ballot).where(Ballot.receipt == value))
    if ballot is None or ballot.member_id != actor.id:
        raise NotFound("No ballot has this receipt.")
    motion = await session.get_one(Motion, ballot.motion_id)
    event = (
        await session.scalar(select(AuditEvent).where(AuditEvent.seq == ballot.audit_seq))
        if ballot.audit_seq is not None
        else None
    )
    linked = (
        event is not None
        and event.action == "ballot.cast"
        and event.payload.get("receipt") == value
        and make_receipt(
            motion_id=ballot.motion_id,
            member_id=ballot.member_id,
            choice=ballot.choice,
            opinion=ballot.opinion,
            cast_at=ballot.cast_at,
            otp_step=ballot.otp_step,
            chain_head=event.prev_hash,
        )
        == value
    )
    report = await verify_chain(session)
    case_number = await session.scalar(select(Case.number).where(Case.id == motion.case_id))
    return ReceiptCheck(
        ballot=ballot,
        motion=motion,
        case_number=case_number,
        member_name=actor.full_name,
        in_chain=bool(linked and report.ok),
        chain_ok=report.ok,
    )


async def open_motions_for_member(
    session: AsyncSession, *, actor: User, hearing_id: int
) -> tuple[Hearing, list[Motion]]:
    hearing = await require_hearing(session, hearing_id)
    check_can_see_hearing(actor, hearing)
    rows = await session.scalars(
        select(Motion)
        .where(Motion.hearing_id == hearing.id, Motion.state == MotionState.OPEN)
        .order_by(Motion.id)
    )
    return hearing, list(rows)


# ------------------------------------------------------------------ board rules


async def list_rules_versions(session: AsyncSession, *, actor: User) -> list[BoardRulesVersion]:
    if actor.role != Role.ADMIN:
        raise Forbidden("Only an administrator can manage board rules.")
    rows = await session.scalars(
        select(BoardRulesVersion).order_by(
            BoardRulesVersion.board_type, BoardRulesVersion.version.desc()
        )
    )
    return list(rows)


async def do_publish_rules(
    session: AsyncSession, *, actor: User, board_type: str, rules: Mapping[str, Any]
) -> BoardRulesVersion:
    """A new rules version for a board type; votes opened from now on are judged by it.
    Votes already open keep the version they opened with."""
    if actor.role != Role.ADMIN:
        raise Forbidden("Only an administrator can manage board rules.")
    try:
        kind = BoardType(board_type)
    except ValueError:
        raise Invalid("Unknown board type.", field="board_type") from None
    try:
        parsed = BoardRules.from_dict(rules)
    except (ValueError, TypeError) as exc:
        raise Invalid(
            "These rules cannot be applied: {detail}", field="rules", detail=str(exc)
        ) from None
    latest = await session.scalar(
        select(func.max(BoardRulesVersion.version)).where(BoardRulesVersion.board_type == kind)
    )
    row = BoardRulesVersion(
        board_type=kind,
        version=(latest or 0) + 1,
        rules_json=parsed.to_dict(),
        created_at=utcnow(),
        created_by_id=actor.id,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "Someone published rules for this board at the same time. Reload and try again."
        ) from None
    await do_record(
        session,
        actor_id=actor.id,
        action="board_rules.published",
        subject_type="board_rules",
        subject_id=row.id,
        payload={"board_type": kind.value, "version": row.version, "rules": row.rules_json},
    )
    return row
