"""Casting a ballot: a member's named, final choice after a fresh authenticator code, its
receipt (a hash over the ballot and the audit chain head), and checking a receipt later.

A ballot locks its motion as every writer on a motion does (the concurrency note in
:mod:`hearing_server.voting.motions`); the last eligible ballot closes the vote in the
same transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import join as orm_join
from sqlalchemy.orm import outerjoin

from hearing_server.accounts.models import Role, ThrottleHit, TotpCredential, User
from hearing_server.accounts.services import verify_otp
from hearing_server.accounts.throttle import check_throttle
from hearing_server.audit.checkpoints import covering_checkpoint
from hearing_server.audit.models import AuditEvent
from hearing_server.audit.services import compute_hash, do_record, get_chain_tip
from hearing_server.cases.models import Case
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import table_of
from hearing_server.errors import Conflict, Forbidden, Invalid, NotFound, TooManyRequests
from hearing_server.law.rules import Choice
from hearing_server.rooms.models import Attendance
from hearing_server.scheduling.models import Hearing, PanelSeat
from hearing_server.scheduling.timing import check_started
from hearing_server.text import normalize_persian
from hearing_server.voting import room_events
from hearing_server.voting.models import Ballot, Motion, MotionState, Recusal
from hearing_server.voting.motions import do_close_locked_motion
from hearing_server.voting.queries import eligible_ids

MAX_OPINION = 10000
VOTE_ATTEMPTS_PER_MINUTE = 20
THROTTLE_WINDOW = timedelta(minutes=1)
THROTTLE_KEEP = timedelta(days=1)  # as accounts.do_count_attempt
RECEIPT_VERSION = 1


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
        raise TooManyRequests(
            "Too many attempts. Please wait a few minutes and try again.",
            retry_after=int(THROTTLE_WINDOW.total_seconds()),  # at most a window
        )
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
    check_started(hearing)
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

    # The chain is locked by verify_otp's audit row; its tip is that row.
    ballot = await do_record_ballot(
        session,
        motion_id=motion.id,
        member_id=actor.id,
        choice=picked.value,
        opinion=written,
        cast_at=utcnow(),
        otp_step=step,
    )
    voted.add(actor.id)
    waiting = set(eligible_ids(motion)) - recused
    if waiting <= voted:
        await do_close_locked_motion(session, motion, hearing, closed_by=None)
        return CastResult(ballot=ballot, motion=motion, closed=True)
    await room_events.notify_progress(session, hearing, motion, voted=voted, recused=recused)
    return CastResult(ballot=ballot, motion=motion, closed=False)


async def do_record_ballot(
    session: AsyncSession,
    *,
    motion_id: int,
    member_id: int,
    choice: str,
    opinion: str | None,
    cast_at: datetime,
    otp_step: int,
) -> Ballot:
    """Write a ballot whose checks were made: its receipt (over the ballot and the audit
    chain's head), the row, and its ``ballot.cast`` audit row right after that head, as
    :func:`check_receipt` verifies them. The caller holds the chain's lock (an audit row
    of its own in this transaction, as :func:`do_cast_ballot`), or nothing else writes
    (the demo's seed)."""
    head_seq, head = await get_chain_tip(session)
    receipt = make_receipt(
        motion_id=motion_id,
        member_id=member_id,
        choice=choice,
        opinion=opinion,
        cast_at=cast_at,
        otp_step=otp_step,
        chain_head=head,
    )
    values = {
        "motion_id": motion_id,
        "member_id": member_id,
        "choice": choice,
        "opinion": opinion,
        "cast_at": cast_at,
        "otp_step": otp_step,
        # The ballot's own audit row comes next in the chain.
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
        actor_id=member_id,
        action="ballot.cast",
        subject_type="motion",
        subject_id=motion_id,
        payload={
            "ballot_id": ballot_id,
            "member_id": member_id,
            "choice": choice,
            "opinion_sha256": (
                hashlib.sha256(opinion.encode()).hexdigest() if opinion is not None else None
            ),
            "receipt": receipt,
        },
    )
    if event.seq != head_seq + 1:  # cannot happen while the chain's lock is held
        raise RuntimeError("the audit chain moved during a ballot")
    return ballot


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


# ------------------------------------------------------------------ receipts


@dataclass(frozen=True)
class ReceiptCheck:
    ballot: Ballot
    motion: Motion
    case_number: str | None
    member_name: str
    in_chain: bool
    chain_ok: bool
    checkpoint_seq: int | None = None


async def check_receipt(session: AsyncSession, *, actor: User, receipt: str) -> ReceiptCheck:
    """Look a receipt up for the member who cast it (anyone else: not found).

    ``in_chain`` holds when the ballot's audit event carries this receipt, the receipt
    recomputes from the stored ballot and the head the event links to, the event's own
    hash holds, and the next event links to it (or it is the newest). ``chain_ok`` holds
    when a sealed checkpoint at or after the event still names its row unchanged: the
    rows in between are verified when a checkpoint is made and by ``heyat audit verify``,
    so a lookup reads a few rows by index and never walks the chain.
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
        and compute_hash(event) == event.hash
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
    checkpoint = None
    if event is not None and linked:
        successor = await session.scalar(
            select(AuditEvent.prev_hash).where(AuditEvent.seq == event.seq + 1)
        )
        linked = successor is None or successor == event.hash
        checkpoint = await covering_checkpoint(session, event.seq)
    case_number = await session.scalar(select(Case.number).where(Case.id == motion.case_id))
    return ReceiptCheck(
        ballot=ballot,
        motion=motion,
        case_number=case_number,
        member_name=actor.full_name,
        in_chain=bool(linked),
        chain_ok=bool(linked and checkpoint is not None),
        checkpoint_seq=checkpoint.seq if checkpoint is not None else None,
    )
