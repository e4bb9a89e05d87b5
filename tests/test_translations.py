"""Every UI string in the code and templates has a Persian translation."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def test_every_msgid_is_translated_to_persian() -> None:
    path = Path(__file__).resolve().parent.parent / "scripts" / "po.py"
    spec = importlib.util.spec_from_file_location("po", path)
    assert spec and spec.loader
    po = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(po)
    assert po.used_msgids(), "the extractor found nothing: the patterns are broken"
    assert po.missing() == []
