"""Presence in the room: sockets joining and leaving, the lobby's admissions, the live
quorum per seat group, and the attendance record for the minutes.

Joins and leaves are timestamped ``Attendance`` rows, one per socket; a party waits in
the lobby (``admitted`` false) until the secretary or chair admits them. The minutes list
each person once (:func:`attendance_by_person`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.boards.models import BoardRulesVersion
from hearing_server.clock import utcnow
from hearing_server.errors import Conflict, NotFound
from hearing_server.instances import DEAD_AFTER, dead_instances, do_forget
from hearing_server.law.rules import BoardRules, QuorumStatus, SeatGroup, quorum_status
from hearing_server.rooms import events as ev
from hearing_server.rooms.access import Participant, is_admitted, require_active, require_hearing
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.log import PUBLIC_PHASES, do_append_event, public_audience
from hearing_server.rooms.models import Attendance, RoomEvent
from hearing_server.scheduling.models import Hearing, PanelSeat, RoomPhase

log = logging.getLogger(__name__)


async def _rules_of(session: AsyncSession, hearing: Hearing) -> BoardRules:
    version = await session.get(BoardRulesVersion, hearing.rules_version_id)
    if version is None:  # the foreign key makes this impossible; say so if it happens
        raise NotFound("No such hearing.")
    return version.rules


async def present_user_ids(session: AsyncSession, hearing_id: int) -> set[int]:
    rows = await session.scalars(
        select(Attendance.user_id).where(
            Attendance.hearing_id == hearing_id, Attendance.left_at.is_(None)
        )
    )
    return set(rows)


async def get_quorum(session: AsyncSession, hearing: Hearing) -> QuorumStatus:
    """Live quorum from the panel members present now (open attendance rows)."""
    present = await present_user_ids(session, hearing.id)
    seats = await session.scalars(select(PanelSeat).where(PanelSeat.hearing_id == hearing.id))
    counts: dict[SeatGroup, int] = defaultdict(int)
    for seat in seats:
        if seat.member_id in present:
            counts[seat.group] += 1
    return quorum_status(await _rules_of(session, hearing), counts)


async def do_join(
    session: AsyncSession,
    hearing: Hearing,
    participant: Participant,
    sid: str,
    *,
    live_sids: Collection[str] = (),
    instance_id: str | None = None,
) -> Attendance:
    """Record a socket joining the room. A user's earlier rows still open on a socket that
    no longer exists (a killed server) are closed, so presence stays true; ``live_sids``
    are the sockets this process still holds (another tab of the same person), whose rows
    stay open. ``instance_id``: the server instance holding the socket."""
    user = participant.user
    now = utcnow()
    admitted = participant.is_board or await is_admitted(session, hearing.id, user.id)
    stale = [
        Attendance.hearing_id == hearing.id,
        Attendance.user_id == user.id,
        Attendance.left_at.is_(None),
    ]
    if live_sids:
        stale.append(or_(Attendance.sid.is_(None), Attendance.sid.not_in(sorted(live_sids))))
    await session.execute(
        update(Attendance)
        .where(*stale)
        .values(left_at=now)
        .execution_options(synchronize_session=False)
    )
    row = Attendance(
        hearing_id=hearing.id,
        user_id=user.id,
        role=participant.role,
        joined_at=now,
        sid=sid,
        admitted=admitted,
        instance_id=instance_id,
    )
    session.add(row)
    await session.flush()
    quorum = await get_quorum(session, hearing)
    await do_append_event(
        session,
        hearing,
        "presence",
        "join",
        {
            "user_id": user.id,
            "name": user.full_name,
            "role": participant.role,
            "group": participant.group.value if participant.group else None,
            "admitted": admitted,
            "quorum": quorum.to_dict(),
        },
        public_audience(hearing) if admitted else ev.AUDIENCE_BOARD,
        actor_id=user.id,
    )
    return row


async def do_leave(session: AsyncSession, hearing_id: int, sid: str) -> Attendance | None:
    """Record a socket leaving. Nothing is sent when the row was already closed."""
    row = await session.scalar(
        select(Attendance).where(
            Attendance.hearing_id == hearing_id,
            Attendance.sid == sid,
            Attendance.left_at.is_(None),
        )
    )
    if row is None:
        return None
    hearing = await require_hearing(session, hearing_id, lock=True)
    row.left_at = utcnow()
    await session.flush()
    quorum = await get_quorum(session, hearing)
    await do_append_event(
        session,
        hearing,
        "presence",
        "leave",
        {"user_id": row.user_id, "quorum": quorum.to_dict()},
        public_audience(hearing) if row.admitted else ev.AUDIENCE_BOARD,
        actor_id=row.user_id,
    )
    return row


async def do_close_instance_attendance(
    session: AsyncSession, instance_id: str, *, at: datetime | None = None
) -> int:
    """Close the open attendance rows of the sockets ``instance_id`` held, as left ``at``
    (its last heartbeat; now by default) or at their joining if later; the rooms hear each
    person who is no longer present, with the quorum that is left. The number closed."""
    rows = list(
        await session.scalars(
            select(Attendance)
            .where(Attendance.instance_id == instance_id, Attendance.left_at.is_(None))
            .order_by(Attendance.hearing_id, Attendance.id)
        )
    )
    left_at = at or utcnow()
    by_hearing: dict[int, list[Attendance]] = defaultdict(list)
    for row in rows:
        by_hearing[row.hearing_id].append(row)
    for hearing_id in sorted(by_hearing):  # locks taken in one order
        hearing = await require_hearing(session, hearing_id, lock=True)
        closed = by_hearing[hearing_id]
        for row in closed:
            row.left_at = max(left_at, row.joined_at)
        await session.flush()
        present = await present_user_ids(session, hearing_id)
        gone = {row.user_id: row for row in closed if row.user_id not in present}
        if not gone:
            continue
        quorum = await get_quorum(session, hearing)
        for user_id, row in sorted(gone.items()):
            await do_append_event(
                session,
                hearing,
                "presence",
                "leave",
                {"user_id": user_id, "quorum": quorum.to_dict()},
                public_audience(hearing) if row.admitted else ev.AUDIENCE_BOARD,
                actor_id=user_id,
            )
    return len(rows)


async def do_close_dead_instances(
    session: AsyncSession, *, now: datetime | None = None, dead_after: timedelta = DEAD_AFTER
) -> list[str]:
    """The sweep: close the attendance of every dead server instance (as left at its last
    heartbeat) and forget the instance. The ids of the instances found dead."""
    dead = await dead_instances(session, now=now, dead_after=dead_after)
    for instance_id, last_beat in dead:
        closed = await do_close_instance_attendance(session, instance_id, at=last_beat)
        if closed:
            log.warning(
                "server instance %s is dead (last heartbeat %s): %d attendance rows closed",
                instance_id,
                last_beat.isoformat(),
                closed,
            )
    await do_forget(session, [instance_id for instance_id, _ in dead])
    return [instance_id for instance_id, _ in dead]


async def do_admit(session: AsyncSession, ctx: RoomContext, user_id: int) -> None:
    """Let a waiting party in from the lobby (the caller checked that ``ctx`` moderates)."""
    hearing = await require_active(session, ctx)
    if hearing.phase not in PUBLIC_PHASES:
        raise Conflict("Parties can be admitted only before deliberation.", code="bad_phase")
    rows = list(
        await session.scalars(
            select(Attendance).where(
                Attendance.hearing_id == hearing.id,
                Attendance.user_id == user_id,
                Attendance.left_at.is_(None),
            )
        )
    )
    if not rows:
        raise NotFound("This person is not waiting in the lobby.", code="not_waiting")
    if all(row.admitted for row in rows):
        raise Conflict("This person has already been admitted.", code="already_admitted")
    for row in rows:
        row.admitted = True
    await session.flush()
    sids = [row.sid for row in rows if row.sid]
    ev.enter_after_commit(session, sids, hearing.id, ev.AUDIENCE_ALL)
    await do_append_event(
        session,
        hearing,
        "admit",
        "set",
        {"user_id": user_id},
        ev.AUDIENCE_BOARD,
        actor_id=ctx.user.id,
    )
    await do_append_event(
        session,
        hearing,
        "admitted",
        "set",
        {"user_id": user_id},
        ev.audience_user(user_id),
        actor_id=ctx.user.id,
    )


@dataclass(frozen=True)
class PersonAttendance:
    """One person's presence in a session, for the minutes: every socket they had (tabs,
    reconnects) merged into one stay."""

    user_id: int
    name: str
    role: str  # chair, member, secretary, admin, claimant, respondent, representative
    group: SeatGroup | None
    first_arrival: datetime
    last_departure: datetime | None  # None: still in the room of an open session
    seconds_present: int


# The minutes list the chair first, then the panel, the staff and the parties.
ROLE_ORDER = ("chair", "member", "secretary", "admin", "claimant", "respondent", "representative")


async def attendance_by_person(session: AsyncSession, hearing: Hearing) -> list[PersonAttendance]:
    """Who attended the session, once each: role (the panel's chair and members with their
    seat group, from the panel), first arrival, last departure and the time present (the
    union of their sockets' stays). A party counts from their admission, not the lobby's
    wait; nobody counts after the room closed."""
    rows = list(
        await session.scalars(
            select(Attendance)
            .where(Attendance.hearing_id == hearing.id)
            .order_by(Attendance.joined_at, Attendance.id)
        )
    )
    if not rows:
        return []
    closed_at = None
    if hearing.phase == RoomPhase.CLOSED:
        closed_at = await session.scalar(
            select(func.max(RoomEvent.at)).where(
                RoomEvent.hearing_id == hearing.id, RoomEvent.type == "phase"
            )
        )
    now = utcnow()
    admissions: dict[int, list[datetime]] = defaultdict(list)
    for event in await session.scalars(
        select(RoomEvent)
        .where(RoomEvent.hearing_id == hearing.id, RoomEvent.type == "admit")
        .order_by(RoomEvent.seq)
    ):
        user_id = event.payload.get("user_id")
        if isinstance(user_id, int):
            admissions[user_id].append(event.at)
    seats = {
        seat.member_id: seat
        for seat in await session.scalars(
            select(PanelSeat).where(PanelSeat.hearing_id == hearing.id)
        )
    }
    stays: dict[int, list[tuple[datetime, datetime, bool]]] = defaultdict(list)
    roles: dict[int, str] = {}
    for row in rows:
        roles.setdefault(row.user_id, row.role)
        start, end = row.joined_at, row.left_at
        still_here = end is None
        if end is None:
            end = closed_at or now
        if row.role in ev.PARTY_ROLES:
            if not row.admitted:
                continue  # waited in the lobby and never came in
            admitted_at = [at for at in admissions[row.user_id] if start <= at <= end]
            if admitted_at:
                start = admitted_at[0]
        if closed_at is not None:
            end = min(end, closed_at)
            still_here = False
        if end < start:
            continue  # came in after the room closed
        stays[row.user_id].append((start, end, still_here))
    found = await session.execute(select(User.id, User.full_name).where(User.id.in_(list(stays))))
    names: dict[int, str] = {user_id: name for user_id, name in found}
    people: list[PersonAttendance] = []
    for user_id, periods in stays.items():
        periods.sort()
        seconds = 0.0
        run_start, run_end = periods[0][0], periods[0][1]
        for start, end, _open in periods[1:]:
            if start > run_end:
                seconds += (run_end - run_start).total_seconds()
                run_start = start
            run_end = max(run_end, end)
        seconds += (run_end - run_start).total_seconds()
        seat = seats.get(user_id)
        role = roles[user_id]
        if seat is not None:
            role = "chair" if seat.is_chair else "member"
        people.append(
            PersonAttendance(
                user_id=user_id,
                name=names.get(user_id, f"#{user_id}"),
                role=role,
                group=seat.group if seat is not None else None,
                first_arrival=periods[0][0],
                last_departure=None if any(p[2] for p in periods) else run_end,
                seconds_present=round(seconds),
            )
        )
    rank = {role: i for i, role in enumerate(ROLE_ORDER)}
    people.sort(key=lambda p: (rank.get(p.role, len(rank)), p.first_arrival, p.user_id))
    return people
