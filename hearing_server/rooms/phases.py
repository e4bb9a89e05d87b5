"""The room's phases: lobby → hearing of the parties ⇄ deliberation ⇄ voting → closed.

Only the secretary or the chair moves the room (the ``phase.set`` action checks that);
each move is guarded by :data:`PHASE_NEXT`, audited, and told to everyone. Leaving the
public phases removes the parties in the same step; opening the hearing puts its cases
in hearing, and closing the room sends the undecided ones back to the board's queue.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.audit.services import do_record
from hearing_server.cases.models import Case, CaseStatus
from hearing_server.cases.reasons import system_reason
from hearing_server.cases.workflow import do_transition
from hearing_server.clock import utcnow
from hearing_server.errors import Conflict
from hearing_server.i18n import lazy
from hearing_server.rooms import events as ev
from hearing_server.rooms.access import hearing_case_ids, panel_seats, require_hearing
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.log import PUBLIC_PHASES, do_append_event
from hearing_server.rooms.models import Attendance, RaisedHand
from hearing_server.scheduling.models import Hearing, HearingStatus, RoomPhase, Summons
from hearing_server.scheduling.timing import check_started

PHASE_LABELS = {
    RoomPhase.LOBBY: lazy("the lobby"),
    RoomPhase.HEARING: lazy("the hearing of the parties"),
    RoomPhase.DELIBERATION: lazy("deliberation"),
    RoomPhase.VOTING: lazy("voting"),
    RoomPhase.CLOSED: lazy("the end of the session"),
}

# Which phase may follow which. Deliberation and voting alternate (one motion per claim).
# From deliberation the board may call the parties back (→ hearing: they may enter again,
# admitted, and the minutes record the call-back), then deliberate again without them.
PHASE_NEXT: dict[RoomPhase, frozenset[RoomPhase]] = {
    RoomPhase.LOBBY: frozenset({RoomPhase.HEARING, RoomPhase.CLOSED}),
    RoomPhase.HEARING: frozenset({RoomPhase.DELIBERATION, RoomPhase.CLOSED}),
    RoomPhase.DELIBERATION: frozenset({RoomPhase.HEARING, RoomPhase.VOTING, RoomPhase.CLOSED}),
    RoomPhase.VOTING: frozenset({RoomPhase.DELIBERATION, RoomPhase.CLOSED}),
    RoomPhase.CLOSED: frozenset(),
}


async def do_set_phase(session: AsyncSession, ctx: RoomContext, phase: str) -> Hearing:
    """Move the room to ``phase`` (the caller checked that ``ctx`` moderates)."""
    hearing = await require_hearing(session, ctx.hearing_id, lock=True)
    target = RoomPhase(phase)
    current = hearing.phase
    if target not in PHASE_NEXT[current]:
        raise Conflict(
            "The room cannot move from {current} to {target}.",
            code="bad_phase",
            current=PHASE_LABELS[current],
            target=PHASE_LABELS[target],
        )
    # A hearing happens at its time: the session does not begin (or end) before its start.
    check_started(hearing)
    if hearing.status == HearingStatus.MISSED:
        raise Conflict(
            "This hearing was not opened in its time and was marked missed.",
            code="hearing_unavailable",
        )
    hearing.phase = target
    if target == RoomPhase.HEARING:
        if hearing.status == HearingStatus.SCHEDULED:
            hearing.status = HearingStatus.IN_PROGRESS
        await _mark_cases_in_hearing(session, hearing, ctx.user)
    if target == RoomPhase.CLOSED and hearing.status == HearingStatus.IN_PROGRESS:
        hearing.status = HearingStatus.HELD
    if target == RoomPhase.CLOSED:
        await _return_undecided_cases(session, hearing, ctx)
    removed: list[str] = []
    if target not in PUBLIC_PHASES:
        removed = await _remove_parties(session, hearing)
    party_ids = await summoned_party_ids(session, hearing.id)
    await session.flush()
    await do_record(
        session,
        actor_id=ctx.user.id,
        action="room.phase",
        subject_type="hearing",
        subject_id=hearing.id,
        payload={"from": current.value, "to": target.value},
    )
    # Everyone learns the phase, parties included: it tells them why they are leaving.
    await do_append_event(
        session,
        hearing,
        "phase",
        "set",
        {"phase": target.value, "from": current.value},
        ev.AUDIENCE_ALL,
        actor_id=ctx.user.id,
    )
    # The media server cuts the parties' audio/video in the same step, just before their
    # sockets are closed (and opens or destroys the hearing's video room).
    ev.media_after_commit(session, ctx.media, hearing.id, target.value, party_ids)
    ev.disconnect_after_commit(session, removed)
    return hearing


async def summoned_party_ids(session: AsyncSession, hearing_id: int) -> set[int]:
    """The parties summoned to the hearing (people with an account, not on its panel)."""
    summoned = set(
        await session.scalars(
            select(Summons.user_id).where(
                Summons.hearing_id == hearing_id, Summons.user_id.is_not(None)
            )
        )
    )
    panel = {seat.member_id for seat in await panel_seats(session, hearing_id)}
    return {uid for uid in summoned - panel if uid is not None}


async def _mark_cases_in_hearing(session: AsyncSession, hearing: Hearing, actor: User) -> None:
    """scheduled → in_hearing for the hearing's cases, through the case state machine."""
    case_ids = await hearing_case_ids(session, hearing.id)
    if not case_ids:
        return
    for case in await session.scalars(select(Case).where(Case.id.in_(case_ids))):
        if case.status == CaseStatus.SCHEDULED:
            await do_transition(
                session,
                case,
                CaseStatus.IN_HEARING,
                actor=actor,
                reason=system_reason("heard", hearing=hearing.id),
            )


async def _return_undecided_cases(
    session: AsyncSession, hearing: Hearing, ctx: RoomContext
) -> None:
    """The room closed: a case still in hearing (its vote ended with no majority, or it was
    not voted on) goes back to the board's queue, accepted, to be reheard at a new session;
    the scheduling form offers it again. A case with a vote still open stays as it is (the
    voting part answers which: ``ctx.open_vote_cases``)."""
    case_ids = await hearing_case_ids(session, hearing.id)
    if not case_ids:
        return
    still_voting = set(await ctx.open_vote_cases(session, hearing.id))
    for case in await session.scalars(select(Case).where(Case.id.in_(case_ids))):
        if case.status == CaseStatus.IN_HEARING and case.id not in still_voting:
            await do_transition(
                session,
                case,
                CaseStatus.ACCEPTED,
                actor=ctx.user,
                reason=system_reason("reheard", hearing=hearing.id),
            )


async def _remove_parties(session: AsyncSession, hearing: Hearing) -> list[str]:
    """Close the parties' attendance and hands; give back a party's floor. Returns the
    socket ids to disconnect after the commit."""
    now = utcnow()
    rows = list(
        await session.scalars(
            select(Attendance).where(
                Attendance.hearing_id == hearing.id,
                Attendance.left_at.is_(None),
                Attendance.role.in_(sorted(ev.PARTY_ROLES)),
            )
        )
    )
    party_ids = {row.user_id for row in rows}
    for row in rows:
        row.left_at = now
    all_party_ids = set(
        await session.scalars(
            select(Summons.user_id).where(
                Summons.hearing_id == hearing.id, Summons.user_id.is_not(None)
            )
        )
    ) - {seat.member_id for seat in await panel_seats(session, hearing.id)}
    party_ids |= {uid for uid in all_party_ids if uid is not None}
    if party_ids:
        hands = await session.scalars(
            select(RaisedHand).where(
                RaisedHand.hearing_id == hearing.id, RaisedHand.user_id.in_(party_ids)
            )
        )
        for hand in hands:
            await session.delete(hand)
        if hearing.floor_user_id in party_ids:
            hearing.floor_user_id = None
    await session.flush()
    return [row.sid for row in rows if row.sid]
