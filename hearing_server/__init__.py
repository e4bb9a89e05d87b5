"""Heyat: virtual hearings and remote voting for labour dispute boards.

``create_app(settings)`` builds the ASGI application; importing the package
does nothing else.
"""

from __future__ import annotations

from typing import Any

from hearing_server.config import Settings

__all__ = ["Settings", "create_app"]


def create_app(settings: Settings | None = None) -> Any:
    from hearing_server.app import create_app as _create

    return _create(settings)
