"""Presence in the room: sockets joining and leaving, the lobby's admissions, the live
quorum per seat group, and the attendance record for the minutes.

Joins and leaves are timestamped ``Attendance`` rows, one per socket; a party waits in
the lobby (``admitted`` false) until the secretary or chair admits them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.boards.models import BoardRulesVersion
from hearing_server.clock import utcnow
from hearing_server.errors import Conflict, NotFound
from hearing_server.law.rules import BoardRules, QuorumStatus, SeatGroup, quorum_status
from hearing_server.rooms import events as ev
from hearing_server.rooms.access import Participant, is_admitted, require_active, require_hearing
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.log import PUBLIC_PHASES, do_append_event, public_audience
from hearing_server.rooms.models import Attendance
from hearing_server.scheduling.models import Hearing, PanelSeat


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
    session: AsyncSession, hearing: Hearing, participant: Participant, sid: str
) -> Attendance:
    """Record a socket joining the room. A user's earlier rows still open on a socket that
    no longer exists (a killed server) are closed, so presence stays true."""
    user = participant.user
    now = utcnow()
    admitted = participant.is_board or await is_admitted(session, hearing.id, user.id)
    await session.execute(
        update(Attendance)
        .where(
            Attendance.hearing_id == hearing.id,
            Attendance.user_id == user.id,
            Attendance.left_at.is_(None),
        )
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


async def attendance_record(session: AsyncSession, hearing_id: int) -> list[dict[str, Any]]:
    """For the minutes: each person's role and their join/leave intervals, in order."""
    rows = await session.execute(
        select(Attendance, User.full_name)
        .join(User, User.id == Attendance.user_id)
        .where(Attendance.hearing_id == hearing_id)
        .order_by(Attendance.joined_at, Attendance.id)
    )
    people: dict[int, dict[str, Any]] = {}
    for attendance, name in rows:
        person = people.setdefault(
            attendance.user_id,
            {"user_id": attendance.user_id, "name": name, "role": attendance.role, "periods": []},
        )
        person["periods"].append(
            {
                "joined_at": attendance.joined_at.isoformat(),
                "left_at": attendance.left_at.isoformat() if attendance.left_at else None,
            }
        )
    return list(people.values())
