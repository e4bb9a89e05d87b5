"""The one place the current time comes from, so tests can control it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)
_frozen: datetime | None = None


def utcnow() -> datetime:
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC) + _offset


def set_frozen(moment: datetime | None) -> None:
    """Freeze the clock at ``moment`` (aware) or unfreeze it with None. Tests only."""
    global _frozen
    _frozen = moment


def advance(delta: timedelta) -> None:
    """Move the clock forward. Tests only."""
    global _offset, _frozen
    if _frozen is not None:
        _frozen += delta
    else:
        _offset += delta


def configure_from_env(environ: Mapping[str, str] | None = None) -> None:
    """Apply ``HEYAT_CLOCK_OFFSET_SECONDS`` once at start-up (``heyat serve`` in tests that
    stop and restart a server around a due time) — only in test mode (``HEYAT_TESTING``
    set to 1/true/yes/on). Anywhere else the variable is ignored with a warning: a clock
    moved in production would open votes, deadlines and codes at the wrong time."""
    import os

    global _offset
    env = os.environ if environ is None else environ
    raw = env.get("HEYAT_CLOCK_OFFSET_SECONDS", "").strip()
    testing = env.get("HEYAT_TESTING", "").strip().lower() in ("1", "true", "yes", "on")
    if raw and not testing:
        logging.getLogger(__name__).warning(
            "HEYAT_CLOCK_OFFSET_SECONDS is ignored: it applies only with HEYAT_TESTING=1"
        )
        raw = ""
    _offset = timedelta(seconds=float(raw)) if raw else timedelta(0)
