"""Navigation by role: the menu entries of one app, kept on its :class:`Runtime`.

``create_app`` adds the entries; templates list them with :func:`nav_items`, which reads
the current app's, so two apps in one process keep separate menus.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from quart import current_app

if TYPE_CHECKING:
    from hearing_server.runtime import Runtime


class NavItem(NamedTuple):
    endpoint: str
    label: str  # a msgid; the template translates it
    roles: tuple[str, ...]


def add(rt: Runtime, endpoint: str, label: str, *roles: str) -> None:
    """Show ``endpoint`` to users of ``roles``; an endpoint already listed keeps its entry."""
    if all(item[0] != endpoint for item in rt.nav):
        rt.nav.append(NavItem(endpoint, label, roles))


def nav_items() -> list[NavItem]:
    rt: Runtime = current_app.extensions["heyat"]
    return [NavItem(*item) for item in rt.nav]
