"""Answers every view builds the same way: a redirect, a refusal's form errors, a file
to download."""

from __future__ import annotations

import re
from urllib.parse import quote

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


def content_disposition(filename: str, *, fallback: str) -> str:
    """``attachment`` with the file's name for every browser: ``filename*`` (RFC 5987,
    UTF-8, any script) and a plain ASCII ``filename`` for the few that ignore it."""
    name = _safe_filename(filename) or fallback
    plain = _safe_filename(fallback).encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_download(data: bytes | str, *, mimetype: str, filename: str, fallback: str) -> Response:
    """A file for the user to save, never a page: an attachment, sandboxed (scripts in it,
    if a browser showed it anyway, run in an opaque origin with no access to the site),
    never sniffed into another type, and not cached."""
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(filename, fallback=fallback)
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


_UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f\x7f/\\"<>:|?*]')


def _safe_filename(name: str) -> str:
    """No path, no quotes, no control characters; at most 150 characters."""
    return _UNSAFE_IN_NAME.sub("_", name).strip(" .")[:150]
