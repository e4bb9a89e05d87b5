"""Shared fixtures for the rulings library: a sample ruling, minutes, PKIs, binaries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rulings_testkit import make_minutes, make_ruling, require_binary

from rulings.compose import MinutesContent, RulingContent
from rulings.pki import PkiPaths, init_pki


@pytest.fixture
def pdftotext() -> str:
    return require_binary("pdftotext")


@pytest.fixture
def pdftoppm() -> str:
    return require_binary("pdftoppm")


@pytest.fixture
def ruling_fa() -> RulingContent:
    return make_ruling("fa")


@pytest.fixture
def ruling_en() -> RulingContent:
    return make_ruling("en")


@pytest.fixture
def ruling_factory() -> Callable[..., RulingContent]:
    return make_ruling


@pytest.fixture
def minutes_factory() -> Callable[..., MinutesContent]:
    return make_minutes


@pytest.fixture(scope="session")
def board_pki(tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    """The installation's own CA and board certificate (password-protected)."""
    return init_pki(tmp_path_factory.mktemp("pki"), "board-secret")


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    """An unrelated CA and board certificate: its signatures must not be trusted."""
    return init_pki(tmp_path_factory.mktemp("other-pki"), None, organisation="Someone Else")


@pytest.fixture(scope="session")
def rendered_fa_pdf() -> bytes:
    from rulings.render import render_pdf

    return render_pdf(make_ruling("fa"))


@pytest.fixture
def ca_pem(board_pki: PkiPaths) -> bytes:
    return Path(board_pki.ca_cert).read_bytes()
