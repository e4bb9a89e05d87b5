"""What a hearing's messages are made of: text in the recipient's language and the
hearing's calendar invitation (.ics), requesting or cancelling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.boards.models import Board
from hearing_server.cases.models import Case
from hearing_server.config import Settings
from hearing_server.i18n import gettext
from hearing_server.scheduling.ics import build_ics
from hearing_server.scheduling.models import Hearing


def text_in(user_locale: str | None, message: str, **params: Any) -> str:
    """``message`` translated for a recipient whose locale is ``user_locale`` (Persian
    when it is neither ``fa`` nor ``en``)."""
    return gettext(message, user_locale if user_locale in ("fa", "en") else "fa", **params)


def hearing_ics(
    settings: Settings,
    hearing: Hearing,
    board: Board,
    case_numbers: Sequence[str],
    locale: str,
    *,
    cancelled: bool = False,
) -> dict[str, Any]:
    """The hearing's invitation as a notification attachment (``filename``,
    ``content_type``, ``content``)."""
    summary = text_in(locale, "Hearing of the {board}", board=board.name(locale))
    description = text_in(locale, "Cases on the agenda:")
    text = build_ics(
        base_url=settings.base_url,
        hearing_id=hearing.id,
        starts_at=hearing.starts_at,
        duration_minutes=hearing.duration_minutes,
        summary=summary,
        description=description,
        case_numbers=case_numbers,
        cancelled=cancelled,
    )
    return {
        "filename": f"hearing-{hearing.id}.ics",
        "content_type": "text/calendar; method=" + ("CANCEL" if cancelled else "REQUEST"),
        "content": text,
    }


async def case_numbers(session: AsyncSession, hearing: Hearing) -> list[str]:
    """The numbers of the cases on the agenda, in agenda order (the id when unnumbered)."""
    ids = [a.case_id for a in hearing.agenda]
    cases = {c.id: c for c in await session.scalars(select(Case).where(Case.id.in_(ids)))}
    return [cases[i].number or str(i) for i in ids if i in cases]
