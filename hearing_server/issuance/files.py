"""Signed PDFs go into the one content-addressed file store of ``hearing_server.cases.files``
(written to a temporary name and linked into place, never overwritten)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.cases.files import file_path, store_bytes
from hearing_server.cases.models import StoredFile


def stored_path(files_dir: Path, sha256: str) -> Path:
    return file_path(files_dir, sha256)


async def do_store_pdf(session: AsyncSession, files_dir: Path, data: bytes) -> str:
    """Write the PDF off the event loop and record it as a ``StoredFile``; return its digest."""
    digest = hashlib.sha256(data).hexdigest()
    await asyncio.to_thread(store_bytes, files_dir, digest, data)
    if await session.get(StoredFile, digest) is None:
        session.add(StoredFile(sha256=digest, size=len(data), mime_type="application/pdf"))
        await session.flush()
    return digest


async def load_blob(files_dir: Path, sha256: str) -> bytes:
    return await asyncio.to_thread(file_path(files_dir, sha256).read_bytes)
