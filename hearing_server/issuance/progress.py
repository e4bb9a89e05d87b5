"""Where an issue running in this process is: the steps the issue page shows while the
ruling is composed, rendered, signed and stored.

Kept in memory, so only the process doing the issue knows (a page asking another
process sees ``waiting`` until the ruling's state changes).
"""

from __future__ import annotations

from collections.abc import Callable

ISSUE_STEPS = ("composing", "rendering", "signing", "storing", "issued")

Progress = Callable[[str], None]
"""Told the name of each step as it begins."""

_progress: dict[int, tuple[str, str | None]] = {}  # ruling id -> (step, error msgid or None)


def get_progress(ruling_id: int) -> tuple[str, str | None] | None:
    return _progress.get(ruling_id)


def report_progress(ruling_id: int, step: str, error: str | None = None) -> None:
    _progress[ruling_id] = (step, error)
