"""Every action a person in the hearing room may ask for (docs/realtime.md, "Every client
event"), each one declaration: name, schema, permission, transaction, and the one service
that guards the state and records what happened. :data:`ROOM_ACTIONS` lists them for the
app's registry (``rooms.registry``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.group_commit import GroupCommit, Guarded
from hearing_server.rooms import events as ev
from hearing_server.rooms.chat import do_chat
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.floor import do_give_floor, do_lower_hand, do_raise_hand, do_take_floor
from hearing_server.rooms.phases import do_set_phase
from hearing_server.rooms.presence import do_admit
from hearing_server.rooms.reading import do_log_reading
from hearing_server.rooms.registry import (
    MODERATORS,
    Grouped,
    RoomAction,
    board_only,
    room_action,
)
from hearing_server.rooms.review import (
    do_add_highlight,
    do_add_note,
    do_set_case,
    do_set_presenter,
    do_set_view,
    do_set_view_grouped,
    note_dict,
)
from hearing_server.rooms.snapshot import get_missed


@room_action(ev.SYNC, schema=ev.SyncIn, write=False)
async def sync(session: AsyncSession, ctx: RoomContext, p: ev.SyncIn) -> dict[str, Any]:
    """The events after ``last_seq`` this person may see, or a snapshot."""
    return await get_missed(session, ctx, p.last_seq)


@room_action(ev.PHASE_SET, schema=ev.PhaseIn, permission=MODERATORS)
async def set_phase(session: AsyncSession, ctx: RoomContext, p: ev.PhaseIn) -> dict[str, Any]:
    """Guard: ``phases.PHASE_NEXT``. Records ``room.phase`` (audit) and ``phase/set``."""
    hearing = await do_set_phase(session, ctx, p.phase)
    return {"ok": True, "phase": hearing.phase.value, "seq": hearing.room_seq}


@room_action(ev.ADMIT, schema=ev.UserIn, permission=MODERATORS)
async def admit(session: AsyncSession, ctx: RoomContext, p: ev.UserIn) -> dict[str, Any]:
    """Guard: the room is open, in a public phase, the person waits in the lobby.
    Records ``admit/set`` (board) and ``admitted/set`` (that person)."""
    await do_admit(session, ctx, p.user_id)
    return {"ok": True}


@room_action(ev.CASE_SET, schema=ev.CaseIn, permission=MODERATORS)
async def set_case(session: AsyncSession, ctx: RoomContext, p: ev.CaseIn) -> dict[str, Any]:
    """Guard: the room is open, the case on the agenda. Records ``case/set``."""
    hearing = await do_set_case(session, ctx, p.case_id)
    return {"ok": True, "seq": hearing.room_seq}


@room_action(ev.PRESENTER_SET, schema=ev.UserIn, permission=MODERATORS)
async def set_presenter(session: AsyncSession, ctx: RoomContext, p: ev.UserIn) -> dict[str, Any]:
    """Guard: the room is open, the presenter of the board. Records ``presenter/set``."""
    hearing = await do_set_presenter(session, ctx, p.user_id)
    return {"ok": True, "seq": hearing.room_seq}


async def set_view_grouped(
    group_commit: GroupCommit | Guarded, ctx: RoomContext, p: ev.ViewIn
) -> Grouped | None:
    """:func:`set_view` in a group commit (SQLite): ``review.do_set_view_grouped``."""
    event = await do_set_view_grouped(group_commit, ctx, p.document_id, p.page, p.zoom)
    return None if event is None else Grouped({"ok": True, "seq": event.seq}, [event])


@room_action(ev.VIEW_SET, schema=ev.ViewIn, grouped=set_view_grouped)
async def set_view(session: AsyncSession, ctx: RoomContext, p: ev.ViewIn) -> dict[str, Any]:
    """Permission and guard in one (the presenter, the secretary or the chair; the room
    open; the page of a document on the agenda): ``review.do_set_view``. Records
    ``view/set``."""
    event = await do_set_view(session, ctx, p.document_id, p.page, p.zoom)
    return {"ok": True, "seq": event.seq}


@room_action(
    ev.HIGHLIGHT_ADD,
    schema=ev.HighlightIn,
    permission=board_only("Only the board can highlight the file."),
)
async def add_highlight(
    session: AsyncSession, ctx: RoomContext, p: ev.HighlightIn
) -> dict[str, Any]:
    """Guard: the room is open, the document of the agenda. Records ``highlight/add``."""
    highlight = await do_add_highlight(
        session,
        ctx,
        document_id=p.document_id,
        page=p.page,
        rect=p.rect.model_dump(),
        note=p.note,
    )
    return {"ok": True, "id": highlight.id}


@room_action(
    ev.NOTE_ADD, schema=ev.NoteIn, permission=board_only("Only the board keeps notes in the room.")
)
async def add_note(session: AsyncSession, ctx: RoomContext, p: ev.NoteIn) -> dict[str, Any]:
    """Guard: the room is open, the case on the agenda. Records ``note/add`` (the author)."""
    note = await do_add_note(
        session, ctx, case_id=p.case_id, document_id=p.document_id, page=p.page, body=p.body
    )
    return {"ok": True, "note": note_dict(note)}


@room_action(ev.READING_LOG, schema=ev.ReadingIn)
async def log_reading(session: AsyncSession, ctx: RoomContext, p: ev.ReadingIn) -> dict[str, Any]:
    """Guard: the person may read the document. Records ``reading/opened`` (board) once."""
    await do_log_reading(session, ctx, document_id=p.document_id, page=p.page, seconds=p.seconds)
    return {"ok": True}


@room_action(ev.HAND_RAISE, schema=ev.Empty)
async def raise_hand(session: AsyncSession, ctx: RoomContext, _p: ev.Empty) -> dict[str, Any]:
    """Guard: the room is open (a party: in the hearing, admitted). Records ``hand/raise``."""
    await do_raise_hand(session, ctx)
    return {"ok": True}


@room_action(ev.HAND_LOWER, schema=ev.Empty)
async def lower_hand(session: AsyncSession, ctx: RoomContext, _p: ev.Empty) -> dict[str, Any]:
    """Guard: as ``hand.raise``, and the hand is raised. Records ``hand/lower``."""
    await do_lower_hand(session, ctx)
    return {"ok": True}


@room_action(ev.FLOOR_GIVE, schema=ev.UserIn, permission=MODERATORS)
async def give_floor(session: AsyncSession, ctx: RoomContext, p: ev.UserIn) -> dict[str, Any]:
    """Guard: the room is open, the person present (a party: admitted, in the hearing).
    Records ``floor/give``."""
    await do_give_floor(session, ctx, p.user_id)
    return {"ok": True}


@room_action(ev.FLOOR_TAKE, schema=ev.Empty)
async def take_floor(session: AsyncSession, ctx: RoomContext, _p: ev.Empty) -> dict[str, Any]:
    """Permission and guard in one (the secretary, the chair, or the speaker yielding; the
    room open; someone has the floor): ``floor.do_take_floor``. Records ``floor/take``."""
    await do_take_floor(session, ctx)
    return {"ok": True}


@room_action(ev.CHAT_SEND, schema=ev.ChatIn)
async def send_chat(session: AsyncSession, ctx: RoomContext, p: ev.ChatIn) -> dict[str, Any]:
    """Guard: the room is open (a party: in the hearing, admitted); a statement needs the
    floor. Records ``chat/add``."""
    statement = await do_chat(session, ctx, body=p.body, kind=p.kind)
    return {"ok": True, "id": statement.id}


ROOM_ACTIONS: tuple[RoomAction[Any], ...] = (
    sync,
    set_phase,
    admit,
    set_case,
    set_presenter,
    set_view,
    add_highlight,
    add_note,
    log_reading,
    raise_hand,
    lower_hand,
    give_floor,
    take_floor,
    send_chat,
)
