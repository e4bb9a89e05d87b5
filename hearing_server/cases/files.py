"""The case file: uploads checked by content, images turned into PDF, bytes stored
content-addressed, documents withdrawn (never deleted), downloads audited.

:func:`prepare_upload` is CPU work (pypdf, Pillow) and synchronous: call it through
:func:`prepare_upload_async`, which runs it in a thread. Everything is checked
before anything is written, so a refused upload leaves no row and no file.
Bytes go to ``files_dir/ab/cd/<sha256>``: written to a temporary file, fsynced, then
linked into place with ``os.link``, which never replaces an existing file — all before
the write transaction that records them opens (:func:`store_file_bytes`, then
:func:`do_record_file`), so no fsync runs while the database's write lock is held.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import Role, User
from hearing_server.audit.services import do_record
from hearing_server.cases.access import (
    access_case,
    access_document,
    is_staff,
    visible_documents_clause,
)
from hearing_server.cases.models import (
    Case,
    CaseStatus,
    Document,
    DocumentVisibility,
    StoredFile,
)
from hearing_server.cases.pdf_safety import strip_active_content
from hearing_server.cases.presentation import DOCUMENT_KINDS, case_label, status_text
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import Database
from hearing_server.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge, UnsupportedType
from hearing_server.text import normalize_persian

PDF_MAGIC = b"%PDF-"
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_IMAGE_PIXELS = 60_000_000  # a 60-megapixel photo; more is a decompression bomb
_FIXED_DATE = time.gmtime(946684800)
log = logging.getLogger(__name__)  # 2000-01-01: one image always gives the same PDF bytes


@dataclass(frozen=True)
class PreparedFile:
    pdf: bytes
    sha256: str
    pages: int
    original_sha256: str | None  # of the upload, when the stored PDF differs from it
    # The active content taken out of an uploaded PDF (e.g. ["/OpenAction", "/JavaScript"]).
    removed: tuple[str, ...] = ()


def sniff(data: bytes) -> str | None:
    """The type from the first bytes: "pdf", "jpeg", "png", or None."""
    if data.startswith(PDF_MAGIC):
        return "pdf"
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if data.startswith(PNG_MAGIC):
        return "png"
    return None


def _check_pdf(data: bytes, max_pages: int) -> int:
    from pypdf import PdfReader

    if b"%%EOF" not in data[-2048:]:
        raise Invalid(
            "The PDF file is damaged or incomplete. Save it again and upload the whole file.",
            code="pdf_broken",
        )
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
    except Exception as exc:  # pypdf raises many kinds for a broken file
        raise Invalid(
            "The PDF file is damaged or incomplete. Save it again and upload the whole file.",
            code="pdf_broken",
        ) from exc
    if encrypted:
        raise Invalid(
            "The PDF is protected with a password. Upload a copy without a password.",
            code="pdf_encrypted",
        )
    try:
        pages = len(reader.pages)
        for page in reader.pages:
            _ = page.mediabox.width
    except Exception as exc:  # same: any failure to read the pages means a broken file
        raise Invalid(
            "The PDF file is damaged or incomplete. Save it again and upload the whole file.",
            code="pdf_broken",
        ) from exc
    if pages < 1:
        raise Invalid("The PDF has no pages.", code="pdf_empty")
    if pages > max_pages:
        raise TooLarge(
            "The PDF has {pages} pages; at most {limit} are accepted. Split it into parts.",
            code="too_many_pages",
            pages=pages,
            limit=max_pages,
        )
    return pages


def _image_to_pdf(data: bytes) -> bytes:
    from PIL import Image, ImageOps

    # WeasyPrint sets Pillow's global LOAD_TRUNCATED_IMAGES at import, so Pillow alone
    # would accept a photo cut short: check that the file ends as its format says.
    complete = (
        data.rstrip(b"\x00").endswith(b"\xff\xd9")
        if data.startswith(JPEG_MAGIC)
        else data[-12:-4] == b"\x00\x00\x00\x00IEND"
    )
    if not complete:
        raise Invalid(
            "The picture is damaged or incomplete. Take it again or upload another copy.",
            code="image_broken",
        )
    try:
        with Image.open(io.BytesIO(data)) as checked:
            checked.verify()
        with Image.open(io.BytesIO(data)) as probe:
            too_big = probe.width * probe.height > MAX_IMAGE_PIXELS
        if too_big:
            raise Invalid("The picture is too large. Upload a smaller photo.", code="image_huge")
        image = Image.open(io.BytesIO(data))
        image.load()
    except Invalid:
        raise
    except Exception as exc:  # Pillow: truncated or corrupt image data
        raise Invalid(
            "The picture is damaged or incomplete. Take it again or upload another copy.",
            code="image_broken",
        ) from exc
    upright = ImageOps.exif_transpose(image) or image
    if upright.mode in ("RGBA", "LA", "P"):
        rgba = upright.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
    else:
        flat = upright.convert("RGB")
    out = io.BytesIO()
    flat.save(out, format="PDF", resolution=150.0, creationDate=_FIXED_DATE, modDate=_FIXED_DATE)
    image.close()
    return out.getvalue()


def prepare_upload(data: bytes, *, max_bytes: int, max_pages: int) -> PreparedFile:
    """Check and convert one upload (synchronous, CPU-bound). Raises 413/415/422 kinds."""
    if not data:
        raise Invalid("The file is empty.", code="empty_file")
    if len(data) > max_bytes:
        raise TooLarge(
            "The file is too large: at most {mb} MB is accepted.",
            mb=max(1, max_bytes // (1024 * 1024)),
        )
    kind = sniff(data)
    if kind is None:
        raise UnsupportedType(
            "Only PDF, JPEG and PNG files are accepted. This file is something else."
        )
    if kind == "pdf":
        pages = _check_pdf(data, max_pages)
        cleaned, removed = strip_active_content(data)
        if not removed:
            return PreparedFile(data, hashlib.sha256(data).hexdigest(), pages, None)
        return PreparedFile(
            cleaned,
            hashlib.sha256(cleaned).hexdigest(),
            _check_pdf(cleaned, max_pages),
            hashlib.sha256(data).hexdigest(),
            tuple(removed),
        )
    pdf = _image_to_pdf(data)
    return PreparedFile(pdf, hashlib.sha256(pdf).hexdigest(), 1, hashlib.sha256(data).hexdigest())


async def prepare_upload_async(data: bytes, settings: Settings) -> PreparedFile:
    return await asyncio.to_thread(
        prepare_upload,
        data,
        max_bytes=settings.max_upload_bytes,
        max_pages=settings.max_pdf_pages,
    )


def file_path(files_dir: Path, sha256: str) -> Path:
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest")
    return files_dir / sha256[:2] / sha256[2:4] / sha256


def store_bytes(files_dir: Path, sha256: str, data: bytes) -> bool:
    """Write ``data`` under its hash unless it is there already; True if written now."""
    final = file_path(files_dir, sha256)
    if final.exists():
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, final)  # atomic, and refuses to replace an existing file
        except FileExistsError:
            return False
    finally:
        os.unlink(tmp)
    return True


def _insert_for(session: AsyncSession, model: Any) -> Any:
    """An INSERT with ``on_conflict_do_nothing`` for the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)


@dataclass(frozen=True)
class StoredBytes:
    """Bytes written (and fsynced) under their digest, before any transaction records them."""

    sha256: str
    size: int
    created: bool  # written now (not there before): removed again if its record fails


async def store_file_bytes(
    files_dir: Path, data: bytes, *, digest: str | None = None
) -> StoredBytes:
    """Write ``data`` under its SHA-256 and fsync it, in a thread, **before** the
    transaction that records it opens: no fsync waits inside a write transaction (on
    SQLite the whole database's write lock)."""
    digest = digest or hashlib.sha256(data).hexdigest()
    created = await asyncio.to_thread(store_bytes, files_dir, digest, data)
    return StoredBytes(digest, len(data), created)


async def do_record_file(
    session: AsyncSession,
    files_dir: Path,
    stored: StoredBytes,
    *,
    mime_type: str = "application/pdf",
    pages: int | None = None,
) -> str:
    """Record bytes written by :func:`store_file_bytes` as a ``StoredFile`` once — the
    same bytes stored twice are one row and one file, also when two transactions store
    them at the same moment. Returns the digest.

    The file is looked for after the row is in: a concurrent failed upload of the same
    bytes removes its file only while no row names it (:func:`discard_unrecorded`), so a
    file gone here means that removal came first, and this transaction is refused."""
    await session.execute(
        _insert_for(session, StoredFile)
        .values(
            sha256=stored.sha256,
            size=stored.size,
            mime_type=mime_type,
            pages=pages,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    if not file_path(files_dir, stored.sha256).exists():
        raise Conflict("The same file is being added at this moment. Try again.")
    return stored.sha256


async def discard_unrecorded(db: Database, files_dir: Path, stored: StoredBytes) -> None:
    """After the transaction meant to record ``stored`` failed: remove the file it wrote,
    unless a row names it (another transaction recorded the same bytes).

    Decided in a short write transaction that claims the row itself: an insert that goes
    in means no one has the file (a concurrent insert of the same digest waits for this
    transaction, then finds the file gone and is refused); one that conflicts means the
    file is someone's, and it stays."""
    if not stored.created:
        return
    try:
        async with db.transaction() as session:
            claimed = await session.scalar(
                _insert_for(session, StoredFile)
                .values(sha256=stored.sha256, size=stored.size, mime_type="", created_at=utcnow())
                .on_conflict_do_nothing()
                .returning(StoredFile.sha256)
            )
            if claimed is None:
                return
            file_path(files_dir, stored.sha256).unlink(missing_ok=True)
            await session.execute(delete(StoredFile).where(StoredFile.sha256 == stored.sha256))
    except Exception:  # the refusal the caller raises matters more; an orphan file is harmless
        log.exception("an unrecorded file %s could not be removed", stored.sha256)


CLOSED = (CaseStatus.FINAL, CaseStatus.WITHDRAWN)


async def check_may_upload(session: AsyncSession, actor: User, case_id: int) -> Case:
    """Parties, the clerk given access, and staff upload; members and others do not."""
    case, _standing = await access_case(session, actor, case_id)
    if actor.role == Role.MEMBER:
        raise Forbidden("Board members do not add documents to the case file.")
    if case.status in CLOSED:
        raise Conflict(
            "Cannot add documents to case {number}, because it is {status}.",
            number=case_label(case),
            status=status_text(case.status),
        )
    return case


async def do_add_document(
    session: AsyncSession,
    settings: Settings,
    *,
    actor: User,
    case_id: int,
    prepared: PreparedFile,
    stored: StoredBytes,
    title: str,
    kind: str,
    visibility: DocumentVisibility = DocumentVisibility.PARTIES,
    filename: str | None = None,
) -> tuple[Document, bool]:
    """Record a prepared upload whose bytes are stored already (:func:`add_document`):
    its file row once, the document, the audit.

    Returns the document and whether it is new: content already in the case file (not
    withdrawn) is answered with that document, also when two uploads race (the unique
    index ``uq_documents_case_content`` lets one row in)."""
    case = await check_may_upload(session, actor, case_id)
    title = normalize_persian(title)[:200]
    if not title:
        raise Invalid("Give the document a title.", field="title")
    if kind not in DOCUMENT_KINDS:
        raise Invalid("Choose the kind of document from the list.", field="kind")
    if visibility == DocumentVisibility.BOARD and not is_staff(actor):
        raise Forbidden("Only the board secretary may file documents for the board only.")
    await do_record_file(session, settings.files_dir, stored, pages=prepared.pages)
    now = utcnow()
    added = await session.scalar(
        _insert_for(session, Document)
        .values(
            case_id=case.id,
            sha256=prepared.sha256,
            original_sha256=prepared.original_sha256,
            title=title,
            kind=kind,
            visibility=visibility,
            original_filename=(filename or "")[:255] or None,
            uploaded_by_id=actor.id,
            uploaded_at=now,
        )
        .on_conflict_do_nothing()
        .returning(Document.id)
    )
    if added is None:
        # The same content is in the case file already (or was filed by a concurrent
        # upload a moment ago): that document is the answer.
        existing = await session.scalar(
            select(Document).where(
                Document.case_id == case.id,
                Document.sha256 == prepared.sha256,
                Document.withdrawn_at.is_(None),
            )
        )
        if existing is None:  # only if the other upload's row is gone again
            raise Conflict("The same file is being added at this moment. Try again.")
        return existing, False
    document = await session.get_one(Document, added)
    payload: dict[str, Any] = {
        "document_id": document.id,
        "sha256": prepared.sha256,
        "title": title,
        "pages": prepared.pages,
        "visibility": visibility.value,
    }
    if prepared.original_sha256 is not None:
        payload["original_sha256"] = prepared.original_sha256
    if prepared.removed:
        payload["active_content_removed"] = list(prepared.removed)
    await do_record(
        session,
        actor_id=actor.id,
        action="document.uploaded",
        subject_type="case",
        subject_id=case.id,
        payload=payload,
    )
    return document, True


async def add_document(
    db: Database,
    settings: Settings,
    *,
    actor: User,
    case_id: int,
    prepared: PreparedFile,
    title: str,
    kind: str,
    visibility: DocumentVisibility = DocumentVisibility.PARTIES,
    filename: str | None = None,
) -> tuple[Document, bool]:
    """An upload from the boundary: the bytes written and fsynced first, outside any
    transaction, then one short write transaction records them (:func:`do_add_document`);
    if that transaction fails, a file written for it is removed again."""
    stored = await store_file_bytes(settings.files_dir, prepared.pdf, digest=prepared.sha256)
    try:
        async with db.transaction() as session:
            return await do_add_document(
                session,
                settings,
                actor=actor,
                case_id=case_id,
                prepared=prepared,
                stored=stored,
                title=title,
                kind=kind,
                visibility=visibility,
                filename=filename,
            )
    except BaseException:
        await discard_unrecorded(db, settings.files_dir, stored)
        raise


async def list_documents(session: AsyncSession, *, actor: User, case_id: int) -> list[Document]:
    case, standing = await access_case(session, actor, case_id)
    return list(
        await session.scalars(
            select(Document)
            .where(Document.case_id == case.id, visible_documents_clause(standing))
            .order_by(Document.id)
        )
    )


async def require_document(
    session: AsyncSession, *, actor: User, case_id: int, document_id: int
) -> Document:
    document, _case, _standing = await access_document(session, actor, document_id, case_id=case_id)
    return document


async def do_record_download(session: AsyncSession, *, actor: User, document: Document) -> None:
    await do_record(
        session,
        actor_id=actor.id,
        action="document.downloaded",
        subject_type="case",
        subject_id=document.case_id,
        payload={"document_id": document.id, "sha256": document.sha256},
    )


# The extension a stored file is saved under, by its type (uploads are PDF; a hearing's
# recording is WebM or Matroska).
EXTENSIONS = {"application/pdf": "pdf", "video/webm": "webm", "video/x-matroska": "mkv"}


async def document_mime_type(session: AsyncSession, document: Document) -> str:
    mime = await session.scalar(
        select(StoredFile.mime_type).where(StoredFile.sha256 == document.sha256)
    )
    return mime if mime in EXTENSIONS else "application/pdf"


def download_name(document: Document, mime_type: str = "application/pdf") -> str:
    """The name a downloaded document is saved under: its title (as the case file shows it)."""
    return f"{document.title[:100]}.{EXTENSIONS.get(mime_type, 'pdf')}"


async def read_document_bytes(settings: Settings, document: Document) -> bytes:
    path = file_path(settings.files_dir, document.sha256)
    try:
        return await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError as exc:
        raise NotFound("The document's file is missing from the file store.") from exc


async def do_withdraw_document(
    session: AsyncSession, *, actor: User, case_id: int, document_id: int, reason: str
) -> Document:
    """Withdraw (never delete): the uploader or staff, with a reason; the board still sees it."""
    document = await require_document(
        session, actor=actor, case_id=case_id, document_id=document_id
    )
    if document.uploaded_by_id != actor.id and not is_staff(actor):
        raise Forbidden(
            "Only the person who uploaded a document, or the secretary, may withdraw it."
        )
    if document.withdrawn_at is not None:
        raise Conflict("This document was already withdrawn.")
    reason = normalize_persian(reason)
    if not reason:
        raise Invalid("Give the reason for withdrawing the document.", field="reason")
    document.withdrawn_at = utcnow()
    document.withdrawn_reason = reason[:2000]
    document.withdrawn_by_id = actor.id
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="document.withdrawn",
        subject_type="case",
        subject_id=case_id,
        payload={"document_id": document.id, "reason": document.withdrawn_reason},
    )
    return document
