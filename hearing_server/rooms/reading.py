"""The reading log: which pages of the case file each person opened and for how long, so
the board (and the voting screen) sees who has not opened the file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.cases.models import Document
from hearing_server.clock import utcnow
from hearing_server.db import dialect_insert
from hearing_server.rooms import events as ev
from hearing_server.rooms.access import hearing_case_ids, panel_seats, require_hearing
from hearing_server.rooms.documents import check_document
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.log import do_append_event
from hearing_server.rooms.models import PageView
from hearing_server.scheduling.models import Hearing


async def do_log_reading(
    session: AsyncSession, ctx: RoomContext, *, document_id: int, page: int, seconds: int
) -> None:
    """Add ``seconds`` of reading of a page to the reading log. The first time a board
    member opens any document of the hearing, the board learns it (the "not opened" list)."""
    hearing = await require_hearing(session, ctx.hearing_id)
    await check_document(
        session,
        user=ctx.user,
        hearing_id=hearing.id,
        document_id=document_id,
        is_board=ctx.is_board,
    )
    case_ids = await hearing_case_ids(session, hearing.id)
    first = ctx.is_board and not await _has_opened(session, ctx.user.id, case_ids)
    # One statement, so that two reports of the same page at once add up in one row.
    now = utcnow()
    insert = dialect_insert(session)(PageView).values(
        hearing_id=hearing.id,
        user_id=ctx.user.id,
        document_id=document_id,
        page=page,
        seconds=seconds,
        at=now,
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[
                PageView.hearing_id,
                PageView.user_id,
                PageView.document_id,
                PageView.page,
            ],
            set_={"seconds": PageView.seconds + insert.excluded.seconds, "at": now},
        )
    )
    await session.flush()
    if first:
        await do_append_event(
            session,
            hearing,
            "reading",
            "opened",
            {"user_id": ctx.user.id},
            ev.AUDIENCE_BOARD,
            actor_id=ctx.user.id,
        )


async def _has_opened(session: AsyncSession, user_id: int, case_ids: list[int]) -> bool:
    if not case_ids:
        return False
    found = await session.scalar(
        select(PageView.id)
        .join(Document, Document.id == PageView.document_id)
        .where(PageView.user_id == user_id, Document.case_id.in_(case_ids))
        .limit(1)
    )
    return found is not None


async def reading_summary(session: AsyncSession, hearing: Hearing) -> dict[str, Any]:
    """Per panel member: documents and pages opened and seconds read; who opened nothing."""
    case_ids = await hearing_case_ids(session, hearing.id)
    panel = await panel_seats(session, hearing.id)
    summary: dict[int, dict[str, Any]] = {
        seat.member_id: {"documents": 0, "pages": 0, "seconds": 0} for seat in panel
    }
    if case_ids and summary:
        rows = await session.execute(
            select(
                PageView.user_id,
                func.count(func.distinct(PageView.document_id)),
                func.count(PageView.id),
                func.coalesce(func.sum(PageView.seconds), 0),
            )
            .join(Document, Document.id == PageView.document_id)
            .where(Document.case_id.in_(case_ids), PageView.user_id.in_(list(summary)))
            .group_by(PageView.user_id)
        )
        for user_id, documents, pages, seconds in rows:
            summary[user_id] = {
                "documents": int(documents),
                "pages": int(pages),
                "seconds": int(seconds),
            }
    not_opened = [uid for uid, item in summary.items() if item["documents"] == 0]
    return {"members": {str(k): v for k, v in summary.items()}, "not_opened": not_opened}
