"""Where an issue is: the steps the issue page shows while the ruling is composed,
rendered, signed and stored.

Kept in the installation's shared state (:mod:`hearing_server.shared`: Redis, or the
database), so that a page asking any server process sees the step the issuing process
reached, not only that process itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from hearing_server.shared import SharedState

ISSUE_STEPS = ("composing", "rendering", "signing", "storing", "issued")

Progress = Callable[[str], Awaitable[None]]
"""Told the name of each step as it begins."""

KEEP = timedelta(days=1)  # long after any page stops asking


class IssueProgress:
    """The issue steps of rulings, by ruling id, on ``shared``."""

    def __init__(self, shared: SharedState) -> None:
        self.shared = shared

    async def report(self, ruling_id: int, step: str, error: str | None = None) -> None:
        await self.shared.put(f"issue:{ruling_id}", {"step": step, "error": error}, ttl=KEEP)

    async def get(self, ruling_id: int) -> tuple[str, str | None] | None:
        """(step, error msgid or None), or None before any step was reported."""
        found = await self.shared.get(f"issue:{ruling_id}")
        if found is None:
            return None
        return str(found["step"]), found.get("error")
