"""Signed PDFs go into the one content-addressed file store of ``hearing_server.cases.files``
(written to a temporary name and linked into place, never overwritten)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hearing_server.cases.files import file_path


def stored_path(files_dir: Path, sha256: str) -> Path:
    return file_path(files_dir, sha256)


async def load_blob(files_dir: Path, sha256: str) -> bytes:
    return await asyncio.to_thread(file_path(files_dir, sha256).read_bytes)
