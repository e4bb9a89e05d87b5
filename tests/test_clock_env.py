"""HEYAT_CLOCK_OFFSET_SECONDS moves the clock only in test mode (issue #13, item 10)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from hearing_server import clock

DAY = 86_400


@pytest.fixture
def real_clock() -> Iterator[None]:
    clock.set_frozen(None)
    yield
    clock.configure_from_env({})


def _offset() -> timedelta:
    return clock.utcnow() - datetime.now(UTC)


def test_offset_is_ignored_without_test_mode(real_clock: None) -> None:
    clock.configure_from_env({"HEYAT_CLOCK_OFFSET_SECONDS": str(DAY)})
    assert abs(_offset()) < timedelta(hours=1)
    clock.configure_from_env({"HEYAT_CLOCK_OFFSET_SECONDS": str(DAY), "HEYAT_TESTING": "0"})
    assert abs(_offset()) < timedelta(hours=1)


@pytest.mark.parametrize("mode", ["1", "true"])
def test_offset_applies_in_test_mode(real_clock: None, mode: str) -> None:
    clock.configure_from_env({"HEYAT_CLOCK_OFFSET_SECONDS": str(DAY), "HEYAT_TESTING": mode})
    assert abs(_offset() - timedelta(seconds=DAY)) < timedelta(hours=1)
