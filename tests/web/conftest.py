from __future__ import annotations

from pathlib import Path

import pytest

from hearing_server.config import Settings
from tests.conftest import make_settings


@pytest.fixture
def settings(db_url: str, tmp_path: Path, tmp_root: Path) -> Settings:
    """The seeded demo's own files too (its ruling and minutes PDFs), read only here."""
    return make_settings(db_url, tmp_path, pki_dir=tmp_root / "pki", files_dir=tmp_root / "files")
