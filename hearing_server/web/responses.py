"""Answers every page view builds the same way: a redirect, and a refusal's form errors."""

from __future__ import annotations

from quart import Response

from hearing_server.errors import DomainError, ValidationErrors
from hearing_server.i18n import gettext as _


def redirect(location: str) -> Response:
    """302 to ``location`` — a path of this site, built with ``url_for``."""
    return Response("", status=302, headers={"Location": location})


def form_errors(exc: DomainError) -> dict[str, str]:
    """A refusal as the form shows it: translated messages by field name, ``_form`` for
    a message about the whole form."""
    if isinstance(exc, ValidationErrors):
        return {name: _(msg, **params) for name, (msg, params) in exc.errors.items()}
    return {exc.field or "_form": _(exc.message, **exc.params)}
