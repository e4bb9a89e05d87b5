"""Chat and statements in the room. In deliberation and voting the chat is the board's
only (the audience follows the phase). Each message keeps the phase it was said in and
whether its author held the floor: the minutes hold the hearing's statements (kind
"statement", or said with the floor), never ordinary chat or the board's own talk."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.clock import utcnow
from hearing_server.errors import Forbidden, Invalid
from hearing_server.rooms import events as ev
from hearing_server.rooms.access import require_active
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.log import do_append_event, public_audience
from hearing_server.rooms.models import Statement
from hearing_server.scheduling.models import RoomPhase


async def do_chat(session: AsyncSession, ctx: RoomContext, *, body: str, kind: str) -> Statement:
    """A chat message or a statement for the minutes. A statement needs the floor (or the
    moderator's role)."""
    hearing = await require_active(session, ctx, lock=False)
    text = body.strip()
    if not text:
        raise Invalid("The message is empty.", code="empty")
    if kind == "statement" and not (ctx.is_moderator or hearing.floor_user_id == ctx.user.id):
        raise Forbidden("You need the floor to make a statement.", code="no_floor")
    audience = public_audience(hearing)
    statement = Statement(
        phase=hearing.phase.value,
        with_floor=hearing.floor_user_id == ctx.user.id,
        hearing_id=hearing.id,
        case_id=hearing.current_case_id,
        author_id=ctx.user.id,
        kind=kind,
        audience=audience,
        body=text,
        at=utcnow(),
    )
    session.add(statement)
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "chat",
        "add",
        statement_dict(statement, ctx.user.full_name),
        audience,
        actor_id=ctx.user.id,
    )
    return statement


def statement_dict(statement: Statement, author_name: str) -> dict[str, Any]:
    return {
        "id": statement.id,
        "author_id": statement.author_id,
        "author_name": author_name,
        "kind": statement.kind,
        "audience": statement.audience,
        "case_id": statement.case_id,
        "body": statement.body,
        "at": statement.at.isoformat(),
    }


def on_the_record(statement: Statement) -> bool:
    """Whether a message belongs in the minutes the parties read: said in the hearing of
    the parties, before them, as a statement or with the floor. Ordinary chat and whatever
    the board says without the parties (deliberation, voting) never are. A message kept
    from before the phase was recorded counts only when it was a public statement."""
    if statement.audience != ev.AUDIENCE_ALL:
        return False
    if statement.phase is not None and statement.phase != RoomPhase.HEARING.value:
        return False
    return statement.kind == "statement" or statement.with_floor


async def minutes_statements(session: AsyncSession, hearing_id: int) -> list[Statement]:
    """The hearing's statements for the minutes (:func:`on_the_record`), in order."""
    rows = await session.scalars(
        select(Statement)
        .where(Statement.hearing_id == hearing_id, Statement.audience == ev.AUDIENCE_ALL)
        .order_by(Statement.at, Statement.id)
    )
    return [row for row in rows if on_the_record(row)]
