"""The case file in the room: which documents of a hearing a person may read, and where
their bytes are. The board reads every document of the hearing's cases; a party only the
non-withdrawn documents of their own cases that are shared with the parties, and learns
nothing of the others (not even that they exist)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.cases.access import party_may_see
from hearing_server.cases.files import file_path
from hearing_server.cases.models import Case, Document, StoredFile
from hearing_server.config import Settings
from hearing_server.errors import NotFound
from hearing_server.rooms import events as ev
from hearing_server.rooms.access import check_participant, hearing_case_ids, party_case_ids
from hearing_server.rooms.log import public_audience
from hearing_server.scheduling.models import Hearing


def document_audience(document: Document, hearing: Hearing) -> str:
    """Who hears of something done on ``document`` (a page shown, a highlight)."""
    return public_audience(hearing) if party_may_see(document) else ev.AUDIENCE_BOARD


async def check_document(
    session: AsyncSession, *, user: User, hearing_id: int, document_id: int, is_board: bool
) -> Document:
    """A document of this hearing's cases that ``user`` may read; NotFound otherwise
    (a party learns nothing about board-only documents, not even that they exist)."""
    document = await session.get(Document, document_id)
    if document is None:
        raise NotFound("No such document.")
    if is_board:
        allowed = set(await hearing_case_ids(session, hearing_id))
    else:
        allowed = await party_case_ids(session, hearing_id, user.id)
    if document.case_id not in allowed or (not is_board and not party_may_see(document)):
        raise NotFound("No such document.")
    stored = await session.get(StoredFile, document.sha256)
    if stored is None or stored.mime_type != "application/pdf":
        # The room shows PDFs only (a hearing's recording is on the case page).
        raise NotFound("No such document.")
    return document


async def check_document_for_user(
    session: AsyncSession, user: User, hearing_id: int, document_id: int
) -> Document:
    """The room's PDF endpoint: the user is in this hearing and may read this document."""
    participant = await check_participant(session, user, hearing_id)
    return await check_document(
        session,
        user=user,
        hearing_id=hearing_id,
        document_id=document_id,
        is_board=participant.is_board,
    )


async def visible_documents(
    session: AsyncSession, hearing: Hearing, *, user_id: int, is_board: bool
) -> list[dict[str, Any]]:
    """The documents of the hearing this person may read, for the room's file list."""
    case_ids = (
        await hearing_case_ids(session, hearing.id)
        if is_board
        else sorted(await party_case_ids(session, hearing.id, user_id))
    )
    if not case_ids:
        return []
    rows = await session.execute(
        select(Document, StoredFile.pages, Case.number)
        .join(StoredFile, StoredFile.sha256 == Document.sha256)
        .join(Case, Case.id == Document.case_id)
        .where(Document.case_id.in_(case_ids))
        # The viewer shows PDFs; a hearing's recording is evidence on the case page.
        .where(StoredFile.mime_type == "application/pdf")
        .order_by(Document.case_id, Document.id)
    )
    out = []
    for document, pages, number in rows:
        if not is_board and not party_may_see(document):
            continue
        out.append(
            {
                "id": document.id,
                "case_id": document.case_id,
                "case_number": number,
                "title": document.title,
                "kind": document.kind,
                "visibility": document.visibility.value,
                "pages": pages,
                "withdrawn": document.withdrawn_at is not None,
                "withdrawn_reason": document.withdrawn_reason,
            }
        )
    return out


def stored_file_path(settings: Settings, sha256: str) -> Path:
    """Where the file store keeps the bytes of ``sha256`` (``hearing_server.cases.files``)."""
    try:
        return file_path(settings.files_dir, sha256)
    except ValueError:
        raise NotFound("No such document.") from None
