"""Chat and statements in the room; both go into the minutes. In deliberation and voting
the chat is the board's only (the audience follows the phase)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.clock import utcnow
from hearing_server.errors import Forbidden, Invalid
from hearing_server.rooms.access import require_active
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.log import do_append_event, public_audience
from hearing_server.rooms.models import Statement


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
