"""Navigation by role. Each part of the app adds its entries when it registers."""

from __future__ import annotations

NAV: list[tuple[str, str, tuple[str, ...]]] = []


def add(endpoint: str, label: str, *roles: str) -> None:
    if all(item[0] != endpoint for item in NAV):
        NAV.append((endpoint, label, roles))


def nav_items() -> list[tuple[str, str, tuple[str, ...]]]:
    return list(NAV)
