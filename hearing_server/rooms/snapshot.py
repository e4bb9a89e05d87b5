"""The whole room as one person may see it: the snapshot a (re)connecting client starts
from, the choice between a snapshot and the events it missed, and the room page's context.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.cases.models import Case
from hearing_server.config import Settings
from hearing_server.rooms import events as ev
from hearing_server.rooms.access import (
    check_participant,
    hearing_case_ids,
    is_admitted,
    party_case_ids,
    require_hearing,
)
from hearing_server.rooms.chat import statement_dict
from hearing_server.rooms.documents import visible_documents
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.log import MAX_REPLAY, get_events_after, visible_audiences
from hearing_server.rooms.models import Attendance, Highlight, PrivateNote, RaisedHand, Statement
from hearing_server.rooms.presence import get_quorum, present_user_ids
from hearing_server.rooms.reading import reading_summary
from hearing_server.rooms.review import highlight_dict, note_dict
from hearing_server.scheduling.models import Hearing, PanelSeat, Summons

CHAT_IN_SNAPSHOT = 200


async def get_missed(
    session: AsyncSession, ctx: RoomContext, last_seq: int | None
) -> dict[str, Any]:
    """What a (re)connecting client needs: the events after ``last_seq`` it may see, or a
    full snapshot when it has none, is too far behind, or is ahead of the server."""
    hearing = await require_hearing(session, ctx.hearing_id)
    admitted = ctx.is_board or await is_admitted(session, hearing.id, ctx.user.id)
    if last_seq is None or last_seq > hearing.room_seq or hearing.room_seq - last_seq > MAX_REPLAY:
        return {"seq": hearing.room_seq, "snapshot": await get_snapshot(session, ctx, hearing)}
    audiences = visible_audiences(user_id=ctx.user.id, is_board=ctx.is_board, admitted=admitted)
    events = await get_events_after(session, hearing.id, last_seq, audiences)
    return {"seq": hearing.room_seq, "events": events}


async def get_snapshot(
    session: AsyncSession, ctx: RoomContext, hearing: Hearing | None = None
) -> dict[str, Any]:
    """The whole room as ``ctx``'s user may see it."""
    hearing = hearing or await require_hearing(session, ctx.hearing_id)
    is_board = ctx.is_board
    admitted = is_board or await is_admitted(session, hearing.id, ctx.user.id)
    documents = await visible_documents(session, hearing, user_id=ctx.user.id, is_board=is_board)
    doc_ids = {d["id"] for d in documents}
    sees_room = is_board or admitted
    view: dict[str, Any] = {"document_id": None, "page": 1, "zoom": 100}
    if sees_room and hearing.view_document_id in doc_ids:
        view = {
            "document_id": hearing.view_document_id,
            "page": hearing.view_page,
            "zoom": hearing.view_zoom,
        }
    people = await _people(session, hearing, is_board=is_board)
    highlights: list[dict[str, Any]] = []
    # What the board did without the parties (deliberation, voting) is the board's only.
    audiences = [ev.AUDIENCE_ALL, ev.AUDIENCE_BOARD] if is_board else [ev.AUDIENCE_ALL]
    if sees_room and doc_ids:
        rows = await session.execute(
            select(Highlight, User.full_name)
            .join(User, User.id == Highlight.author_id)
            .where(
                Highlight.hearing_id == hearing.id,
                Highlight.document_id.in_(doc_ids),
                Highlight.audience.in_(audiences),
            )
            .order_by(Highlight.id)
        )
        highlights = [highlight_dict(h, name) for h, name in rows]
    notes = []
    if is_board:
        case_ids = await hearing_case_ids(session, hearing.id)
        if case_ids:
            notes = [
                note_dict(n)
                for n in await session.scalars(
                    select(PrivateNote)
                    .where(PrivateNote.author_id == ctx.user.id, PrivateNote.case_id.in_(case_ids))
                    .order_by(PrivateNote.id)
                )
            ]
    chat: list[dict[str, Any]] = []
    if sees_room:
        rows2 = await session.execute(
            select(Statement, User.full_name)
            .join(User, User.id == Statement.author_id)
            .where(Statement.hearing_id == hearing.id, Statement.audience.in_(audiences))
            .order_by(Statement.id.desc())
            .limit(CHAT_IN_SNAPSHOT)
        )
        chat = [statement_dict(s, name) for s, name in rows2][::-1]
    hands = [
        uid
        for uid in await session.scalars(
            select(RaisedHand.user_id)
            .where(RaisedHand.hearing_id == hearing.id)
            .order_by(RaisedHand.at, RaisedHand.id)
        )
    ]
    if not is_board:
        visible_ids = {p["user_id"] for p in people}
        hands = [uid for uid in hands if uid in visible_ids]
    quorum = await get_quorum(session, hearing)
    snapshot: dict[str, Any] = {
        "hearing_id": hearing.id,
        "seq": hearing.room_seq,
        "phase": hearing.phase.value,
        "status": hearing.status.value,
        "presenter_id": hearing.presenter_id,
        "current_case_id": hearing.current_case_id,
        "floor_user_id": hearing.floor_user_id,
        "view": view,
        "me": {
            "user_id": ctx.user.id,
            "name": ctx.user.full_name,
            "role": ctx.role,
            "is_board": is_board,
            "is_moderator": ctx.is_moderator,
            "admitted": admitted,
        },
        "cases": await _cases(session, hearing, user_id=ctx.user.id, is_board=is_board),
        "documents": documents if sees_room else [],
        "people": people,
        "quorum": quorum.to_dict(),
        "hands": hands,
        "highlights": highlights,
        "notes": notes,
        "chat": chat,
    }
    if is_board:
        snapshot["reading"] = await reading_summary(session, hearing)
    return snapshot


async def _cases(
    session: AsyncSession, hearing: Hearing, *, user_id: int, is_board: bool
) -> list[dict[str, Any]]:
    case_ids = await hearing_case_ids(session, hearing.id)
    if not is_board:
        mine = await party_case_ids(session, hearing.id, user_id)
        case_ids = [c for c in case_ids if c in mine]
    if not case_ids:
        return []
    rows = await session.scalars(select(Case).where(Case.id.in_(case_ids)))
    by_id = {c.id: c for c in rows}
    return [
        {"id": cid, "number": by_id[cid].number, "status": by_id[cid].status.value}
        for cid in case_ids
        if cid in by_id
    ]


async def _people(
    session: AsyncSession, hearing: Hearing, *, is_board: bool
) -> list[dict[str, Any]]:
    """The panel, the staff in the room and the summoned parties, with presence. Parties see
    the board and the admitted parties."""
    present = await present_user_ids(session, hearing.id)
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    panel_rows = await session.execute(
        select(PanelSeat, User.full_name)
        .join(User, User.id == PanelSeat.member_id)
        .where(PanelSeat.hearing_id == hearing.id)
        .order_by(PanelSeat.id)
    )
    for seat, name in panel_rows:
        seen.add(seat.member_id)
        out.append(
            {
                "user_id": seat.member_id,
                "name": name,
                "role": "chair" if seat.is_chair else "member",
                "group": seat.group.value,
                "present": seat.member_id in present,
                "admitted": True,
            }
        )
    attendance = await session.execute(
        select(Attendance, User.full_name)
        .join(User, User.id == Attendance.user_id)
        .where(Attendance.hearing_id == hearing.id)
        .order_by(Attendance.id)
    )
    latest: dict[int, tuple[Attendance, str]] = {}
    admitted_ids: set[int] = set()
    for row, name in attendance:
        latest[row.user_id] = (row, name)
        if row.admitted:
            admitted_ids.add(row.user_id)
    for user_id, (row, name) in latest.items():
        if user_id in seen:
            continue
        seen.add(user_id)
        is_party = row.role in ev.PARTY_ROLES
        if is_party and not is_board and user_id not in admitted_ids:
            continue
        out.append(
            {
                "user_id": user_id,
                "name": name,
                "role": row.role,
                "group": None,
                "present": user_id in present,
                "admitted": (not is_party) or user_id in admitted_ids,
            }
        )
    if is_board:
        summoned = await session.execute(
            select(Summons.user_id, Summons.role, User.full_name)
            .join(User, User.id == Summons.user_id)
            .where(Summons.hearing_id == hearing.id)
        )
        for summoned_id, role, name in summoned:
            if summoned_id is None or summoned_id in seen:
                continue
            seen.add(summoned_id)
            out.append(
                {
                    "user_id": summoned_id,
                    "name": name,
                    "role": role,
                    "group": None,
                    "present": False,
                    "admitted": False,
                }
            )
    return out


async def room_page_context(
    session: AsyncSession, user: User, hearing_id: int, *, settings: Settings | None = None
) -> dict[str, Any]:
    """What the room page renders around the live room: the hearing, the viewer's standing
    and the cases they may see."""
    participant = await check_participant(session, user, hearing_id, settings=settings)
    hearing = await require_hearing(session, hearing_id)
    cases = await _cases(session, hearing, user_id=user.id, is_board=participant.is_board)
    return {"hearing": hearing, "participant": participant, "cases": cases}
