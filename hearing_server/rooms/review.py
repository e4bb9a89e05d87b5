"""Reviewing the case file together: the case under discussion, the presenter, the page
everyone in follow mode sees, shared highlights and private notes.

The permission of each action (moderator, board) is its declaration's, in
``rooms.actions``; the state guards are here. The page turn (:func:`do_set_view`) is the
room's hottest event and has a one-statement path (docs/realtime.md, "Order and recovery").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, and_, bindparam, exists, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from hearing_server.accounts.models import User
from hearing_server.cases.models import Document, DocumentVisibility, StoredFile
from hearing_server.clock import utcnow
from hearing_server.db import table_of
from hearing_server.errors import Forbidden, Invalid, NotFound
from hearing_server.group_commit import GroupCommit, Guarded
from hearing_server.rooms import events as ev
from hearing_server.rooms.access import (
    get_participant,
    hearing_case_ids,
    require_active,
)
from hearing_server.rooms.documents import check_document, document_audience
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.hot import HotStatement
from hearing_server.rooms.log import (
    EVENT_INSERT,
    PUBLIC_PHASES,
    do_append_event,
    public_audience,
    queued,
)
from hearing_server.rooms.models import Highlight, PrivateNote, RoomEvent
from hearing_server.scheduling.models import AgendaItem, Hearing, RoomPhase

# ---------------------------------------------------------------- the case and the presenter


async def do_set_case(session: AsyncSession, ctx: RoomContext, case_id: int) -> Hearing:
    """Put a case of the agenda under discussion (the caller checked that ``ctx``
    moderates)."""
    hearing = await require_active(session, ctx)
    if case_id not in await hearing_case_ids(session, hearing.id):
        raise NotFound("This case is not on the hearing's agenda.", code="not_on_agenda")
    hearing.current_case_id = case_id
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "case",
        "set",
        {"case_id": case_id},
        public_audience(hearing),
        actor_id=ctx.user.id,
    )
    return hearing


async def do_set_presenter(session: AsyncSession, ctx: RoomContext, user_id: int) -> Hearing:
    """Hand the presentation to a board member in the room (or take it back); the caller
    checked that ``ctx`` moderates."""
    hearing = await require_active(session, ctx)
    target = await session.get(User, user_id)
    if target is None:
        raise NotFound("No such user.")
    standing = await get_participant(session, target, hearing)
    if standing is None or not standing.is_board:
        raise Invalid("Only a member of the board can present.", code="not_board")
    hearing.presenter_id = user_id
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "presenter",
        "set",
        {"user_id": user_id, "name": target.full_name},
        public_audience(hearing),
        actor_id=ctx.user.id,
    )
    return hearing


def may_present(ctx: RoomContext, hearing: Hearing) -> bool:
    return ctx.is_moderator or (hearing.presenter_id == ctx.user.id and ctx.is_board)


# ---------------------------------------------------------------- the page turn


def _turn_params(ctx: RoomContext, document_id: int, page: int, zoom: int) -> dict[str, Any]:
    """The guarded UPDATE's parameters for a page turn by ``ctx``."""
    return {
        "hearing": ctx.hearing_id,
        "moderator": ctx.is_moderator,
        "actor": ctx.user.id,
        "doc": document_id,
        "pg": page,
        "zm": zoom,
    }


def _turn_event(ctx: RoomContext, document_id: int, page: int, zoom: int) -> Any:
    """The log row's values from the guarded UPDATE's row (a pure function of it)."""
    at = utcnow()

    def event_values(row: Any) -> dict[str, Any]:
        seq, phase, case_id, party_visible = row
        public = ev.AUDIENCE_ALL if RoomPhase(phase) in PUBLIC_PHASES else ev.AUDIENCE_BOARD
        return {
            "hearing_id": ctx.hearing_id,
            "seq": seq,
            "type": "view",
            "op": "set",
            "payload": {
                "document_id": document_id,
                "case_id": case_id,
                "page": page,
                "zoom": zoom,
            },
            "audience": public if party_visible else ev.AUDIENCE_BOARD,
            "actor_id": ctx.user.id,
            "at": at,
        }

    return event_values


async def do_set_view(
    session: AsyncSession, ctx: RoomContext, document_id: int, page: int, zoom: int
) -> RoomEvent:
    """The presenter shows a document's page at a zoom; followers turn with them.

    This runs on every page turn, so a board member's turn is one guarded statement: the
    UPDATE that numbers the event carries every check of the slow path in its WHERE clause
    (room not closed, sender may present, document on this hearing's agenda with that
    page) and RETURNs what the event needs; then the INSERT into the log. When the UPDATE
    changes no row, :func:`_set_view_checked` does the same work the long way and raises
    the error that says why. Either way the checks read the database in this transaction,
    after the write lock was taken (nothing is cached)."""
    if ctx.is_board:
        # The guarded UPDATE and, when it numbered the event, the log's INSERT.
        found = await _VIEW_UPDATE.first_then(
            session,
            _turn_params(ctx, document_id, page, zoom),
            EVENT_INSERT,
            _turn_event(ctx, document_id, page, zoom),
        )
        if found is not None:
            (seq, _phase, case_id, _visible), values = found
            loaded = session.identity_map.get(identity_key(Hearing, ctx.hearing_id))
            if isinstance(loaded, Hearing):  # keep a loaded Hearing in step with the database
                hearing = loaded
                set_committed_value(hearing, "room_seq", seq)
                set_committed_value(hearing, "view_document_id", document_id)
                set_committed_value(hearing, "view_page", page)
                set_committed_value(hearing, "view_zoom", zoom)
                set_committed_value(hearing, "current_case_id", case_id)
            return queued(session, values)
    return await _set_view_checked(session, ctx, document_id, page, zoom)


async def do_set_view_grouped(
    group_commit: GroupCommit | Guarded, ctx: RoomContext, document_id: int, page: int, zoom: int
) -> RoomEvent | None:
    """:func:`do_set_view`'s one guarded statement and INSERT in the next group commit
    (SQLite): the event, committed, to broadcast; None when the guard let nothing through
    (or the sender is not of the board), so that :func:`do_set_view` says why."""
    if not ctx.is_board:
        return None
    params = _turn_params(ctx, document_id, page, zoom)
    event_values = _turn_event(ctx, document_id, page, zoom)

    def job(connection: Any) -> dict[str, Any] | None:
        rows = _VIEW_UPDATE.sqlite_rows(connection, params)
        if not rows:
            return None
        values: dict[str, Any] = event_values(rows[0])
        EVENT_INSERT.sqlite_rows(connection, values)
        return values

    values = await group_commit.run(job)
    return None if values is None else RoomEvent(**values)


async def _set_view_checked(
    session: AsyncSession, ctx: RoomContext, document_id: int, page: int, zoom: int
) -> RoomEvent:
    """:func:`do_set_view` step by step: each check on its own, with its own error."""
    hearing = await require_active(session, ctx)
    if not may_present(ctx, hearing):
        raise Forbidden("Only the presenter may turn the pages for everyone.", code="not_presenter")
    # One query: the document is on this hearing's agenda, with its page count.
    found = (
        await session.execute(
            select(Document, StoredFile.pages)
            .join(StoredFile, StoredFile.sha256 == Document.sha256)
            .join(AgendaItem, AgendaItem.case_id == Document.case_id)
            .where(Document.id == document_id, AgendaItem.hearing_id == hearing.id)
        )
    ).first()
    if found is None:
        raise NotFound("No such document.")
    document, pages = found
    if pages is not None and page > pages:
        raise Invalid("This document has only {pages} pages.", code="bad_page", pages=pages)
    return await do_append_event(
        session,
        hearing,
        "view",
        "set",
        {"document_id": document_id, "case_id": document.case_id, "page": page, "zoom": zoom},
        document_audience(document, hearing),
        actor_id=ctx.user.id,
        changes={
            "view_document_id": document_id,
            "view_page": page,
            "view_zoom": zoom,
            "current_case_id": document.case_id,
        },
    )


def _view_update() -> Any:
    """The page turn's guarded UPDATE (built once; compiled once per dialect)."""
    hearings = table_of(Hearing)
    documents = table_of(Document)
    agenda = table_of(AgendaItem)
    files = table_of(StoredFile)
    on_agenda_with_page = exists(
        select(literal(1))
        .select_from(
            documents.join(agenda, agenda.c.case_id == documents.c.case_id).join(
                files, files.c.sha256 == documents.c.sha256
            )
        )
        .where(
            documents.c.id == bindparam("doc"),
            agenda.c.hearing_id == hearings.c.id,
            or_(files.c.pages.is_(None), files.c.pages >= bindparam("pg")),
        )
    )
    document_case = (
        select(documents.c.case_id).where(documents.c.id == bindparam("doc")).scalar_subquery()
    )
    party_visible = (
        select(
            and_(
                documents.c.visibility == DocumentVisibility.PARTIES,
                documents.c.withdrawn_at.is_(None),
            )
        )
        .where(documents.c.id == bindparam("doc"))
        .scalar_subquery()
    )
    return (
        update(hearings)
        .where(
            hearings.c.id == bindparam("hearing"),
            hearings.c.phase != RoomPhase.CLOSED,
            or_(
                bindparam("moderator", type_=Boolean),
                hearings.c.presenter_id == bindparam("actor"),
            ),
            on_agenda_with_page,
        )
        .values(
            room_seq=hearings.c.room_seq + 1,
            view_document_id=bindparam("doc"),
            view_page=bindparam("pg"),
            view_zoom=bindparam("zm"),
            current_case_id=document_case,
        )
        .returning(hearings.c.room_seq, hearings.c.phase, hearings.c.current_case_id, party_visible)
    )


_VIEW_UPDATE = HotStatement(_view_update())


# ---------------------------------------------------------------- highlights and notes


async def do_add_highlight(
    session: AsyncSession,
    ctx: RoomContext,
    *,
    document_id: int,
    page: int,
    rect: dict[str, float],
    note: str | None,
) -> Highlight:
    """A shared highlight on a page, seen by whoever may see the document (the caller
    checked that ``ctx`` is of the board)."""
    hearing = await require_active(session, ctx)
    document = await check_document(
        session, user=ctx.user, hearing_id=hearing.id, document_id=document_id, is_board=True
    )
    highlight = Highlight(
        hearing_id=hearing.id,
        document_id=document_id,
        page=page,
        rect=rect,
        note=note.strip() if note else None,
        author_id=ctx.user.id,
        at=utcnow(),
        audience=document_audience(document, hearing),
    )
    session.add(highlight)
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "highlight",
        "add",
        highlight_dict(highlight, ctx.user.full_name),
        highlight.audience,
        actor_id=ctx.user.id,
    )
    return highlight


def highlight_dict(highlight: Highlight, author_name: str) -> dict[str, Any]:
    return {
        "id": highlight.id,
        "document_id": highlight.document_id,
        "page": highlight.page,
        "rect": highlight.rect,
        "note": highlight.note,
        "author_id": highlight.author_id,
        "author_name": author_name,
        "at": highlight.at.isoformat(),
    }


async def do_add_note(
    session: AsyncSession,
    ctx: RoomContext,
    *,
    case_id: int,
    document_id: int | None,
    page: int | None,
    body: str,
) -> PrivateNote:
    """A private note: stored for its author only (their other devices get it too). The
    caller checked that ``ctx`` is of the board."""
    hearing = await require_active(session, ctx, lock=False)
    if case_id not in await hearing_case_ids(session, hearing.id):
        raise NotFound("This case is not on the hearing's agenda.", code="not_on_agenda")
    if document_id is not None:
        document = await check_document(
            session, user=ctx.user, hearing_id=hearing.id, document_id=document_id, is_board=True
        )
        if document.case_id != case_id:
            raise Invalid("The document is not part of this case.", code="wrong_case")
    note = PrivateNote(
        author_id=ctx.user.id,
        case_id=case_id,
        document_id=document_id,
        page=page,
        body=body.strip(),
        at=utcnow(),
    )
    session.add(note)
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "note",
        "add",
        note_dict(note),
        ev.audience_user(ctx.user.id),
        actor_id=ctx.user.id,
    )
    return note


def note_dict(note: PrivateNote) -> dict[str, Any]:
    return {
        "id": note.id,
        "case_id": note.case_id,
        "document_id": note.document_id,
        "page": note.page,
        "body": note.body,
        "at": note.at.isoformat(),
    }
