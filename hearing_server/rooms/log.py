"""The room's numbered replay log: every event a room sends, stored and numbered per
hearing, and who may read it.

``Hearing.room_seq`` numbers the events; :func:`do_append_event` increments it by one
UPDATE … RETURNING in the caller's transaction and inserts the ``RoomEvent`` row, so two
concurrent appends never share a number and a rolled-back one leaves no gap. The event
reaches sockets only after the commit (``rooms.events.emit_after_commit``). Any part may
append (voting does, for its ``vote`` events); none emits by itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from hearing_server.clock import utcnow
from hearing_server.db import table_of
from hearing_server.errors import NotFound
from hearing_server.rooms import events as ev
from hearing_server.rooms.hot import HotStatement
from hearing_server.rooms.models import RoomEvent
from hearing_server.scheduling.models import Hearing, RoomPhase

MAX_REPLAY = 500  # more missed events than this: the client gets a snapshot instead

# The phases in which the parties may be in the room; outside them a public event goes to
# the board only.
PUBLIC_PHASES = frozenset({RoomPhase.LOBBY, RoomPhase.HEARING})


def public_audience(hearing: Hearing) -> str:
    """ "all" while the parties may be present, "board" once they are out."""
    return ev.AUDIENCE_ALL if hearing.phase in PUBLIC_PHASES else ev.AUDIENCE_BOARD


def visible_audiences(*, user_id: int, is_board: bool, admitted: bool) -> list[str]:
    """The audiences whose events this person may read (live or replayed)."""
    out = [ev.audience_user(user_id)]
    if is_board or admitted:
        out.append(ev.AUDIENCE_ALL)
    if is_board:
        out.append(ev.AUDIENCE_BOARD)
    return out


_SEQ_UPDATE = HotStatement(
    update(table_of(Hearing))
    .where(table_of(Hearing).c.id == bindparam("hearing"))
    .values(room_seq=table_of(Hearing).c.room_seq + 1)
    .returning(table_of(Hearing).c.room_seq)
)
_EVENT_COLUMNS = ("hearing_id", "seq", "type", "op", "audience", "payload", "actor_id", "at")
EVENT_INSERT = HotStatement(
    insert(table_of(RoomEvent)).values({name: bindparam(name) for name in _EVENT_COLUMNS})
)
"""The log's INSERT, for a caller that numbered the event with its own UPDATE (the page
turn): its parameters are the ``RoomEvent`` columns; then :func:`queued`."""


async def do_append_event(
    session: AsyncSession,
    hearing: Hearing,
    type: str,
    op: str,
    payload: dict[str, Any],
    audience: str = ev.AUDIENCE_ALL,
    *,
    actor_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> RoomEvent:
    """Number and store a room event; it is broadcast to ``audience`` after the commit.

    ``audience`` is "all", "board" or "user:<id>" (see ``rooms.events``). ``changes`` are
    further columns of the hearing written by the same UPDATE (the presenter's view)."""
    ev.socket_room(hearing.id, audience)  # validates the audience
    # The caller's pending changes reach the database first (the ORM UPDATE autoflushed).
    await session.flush()
    seq: int | None
    if changes:
        seq = await session.scalar(
            update(Hearing)
            .where(Hearing.id == hearing.id)
            .values(room_seq=Hearing.room_seq + 1, **changes)
            .returning(Hearing.room_seq)
            .execution_options(synchronize_session=False)
        )
    else:
        row = await _SEQ_UPDATE.first(session, {"hearing": hearing.id})
        seq = None if row is None else int(row[0])
    if seq is None:
        raise NotFound("No such hearing.")
    set_committed_value(hearing, "room_seq", seq)
    for name, value in (changes or {}).items():
        set_committed_value(hearing, name, value)
    values = {
        "hearing_id": hearing.id,
        "seq": seq,
        "type": type,
        "op": op,
        "audience": audience,
        "payload": payload,
        "actor_id": actor_id,
        "at": utcnow(),
    }
    # One Core INSERT (no unit of work).
    await EVENT_INSERT.rows(session, values)
    return queued(session, values)


def queued(session: AsyncSession, values: dict[str, Any]) -> RoomEvent:
    """The event just stored with ``values`` (not in the session), queued for broadcast
    after the commit."""
    event = RoomEvent(**values)
    ev.emit_after_commit(session, event)
    return event


async def get_events_after(
    session: AsyncSession, hearing_id: int, last_seq: int, audiences: list[str]
) -> list[dict[str, Any]]:
    """The events numbered after ``last_seq`` for ``audiences``, in order, as clients get
    them."""
    rows = await session.scalars(
        select(RoomEvent)
        .where(
            RoomEvent.hearing_id == hearing_id,
            RoomEvent.seq > last_seq,
            RoomEvent.audience.in_(audiences),
        )
        .order_by(RoomEvent.seq)
    )
    return [ev.event_dict(row) for row in rows]
