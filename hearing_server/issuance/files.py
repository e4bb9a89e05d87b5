"""Signed PDFs go into the one content-addressed file store of ``hearing_server.cases.files``
(written to a temporary name and linked into place, never overwritten)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from hearing_server.cases.files import file_path
from hearing_server.errors import NotFound

log = logging.getLogger(__name__)


def stored_path(files_dir: Path, sha256: str) -> Path:
    return file_path(files_dir, sha256)


async def load_blob(files_dir: Path, sha256: str) -> bytes:
    """The stored bytes; a file the store has lost is a 404 ``file_missing`` for the
    caller and an error in the log for the operators (it must be restored from a backup)."""
    path = file_path(files_dir, sha256)
    try:
        return await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError as exc:
        log.error("signed PDF %s is missing from the file store (%s)", sha256, path)
        raise NotFound(
            "The signed PDF of this document is missing from the file store; "
            "the board's office must restore it.",
            code="file_missing",
        ) from exc
