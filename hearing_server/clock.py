"""The one place the current time comes from, so tests can control it."""

from __future__ import annotations

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


def configure_from_env(environ: dict[str, str] | None = None) -> None:
    """Apply ``HEYAT_CLOCK_OFFSET_SECONDS`` once at start-up (``heyat serve`` in tests that
    stop and restart a server around a due time). Unset or 0 in production."""
    import os

    global _offset
    raw = (os.environ if environ is None else environ).get("HEYAT_CLOCK_OFFSET_SECONDS", "")
    _offset = timedelta(seconds=float(raw)) if raw.strip() else timedelta(0)
