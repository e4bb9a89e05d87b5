"""Content-addressed storage of signed PDFs under ``Settings.files_dir``.

A file lives at ``files_dir/ab/abcdef…`` (the first two hex digits of its SHA-256,
then the full digest). It is written to a temporary name in the same directory and
renamed into place, so a reader never sees half a file, and a file once stored is
never overwritten (equal digest, equal bytes). A file written by a transaction that
later rolls back stays behind unreferenced; it is harmless and can be swept.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.cases.models import StoredFile

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def stored_path(files_dir: Path, sha256: str) -> Path:
    if not _SHA256.match(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256[:80]!r}")
    return files_dir / sha256[:2] / sha256


def write_blob(files_dir: Path, data: bytes) -> str:
    """Store ``data`` (synchronous: call it in a thread) and return its SHA-256."""
    digest = hashlib.sha256(data).hexdigest()
    target = stored_path(files_dir, digest)
    if target.is_file():
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest


def read_blob(files_dir: Path, sha256: str) -> bytes:
    return stored_path(files_dir, sha256).read_bytes()


async def do_store_pdf(session: AsyncSession, files_dir: Path, data: bytes) -> str:
    """Write the PDF off the event loop and record it as a ``StoredFile``; return its digest."""
    digest = await asyncio.to_thread(write_blob, files_dir, data)
    if await session.get(StoredFile, digest) is None:
        session.add(StoredFile(sha256=digest, size=len(data), mime_type="application/pdf"))
        await session.flush()
    return digest


async def load_blob(files_dir: Path, sha256: str) -> bytes:
    return await asyncio.to_thread(read_blob, files_dir, sha256)
