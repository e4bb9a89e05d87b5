"""The one check for redirect targets taken from the request (``next``).

Only a path of this site passes: it starts with a single ``/``, holds printable ASCII
only (the site's own links are percent-encoded), and neither it nor any of its
percent-decoded forms starts with ``//`` or ``/\\``, holds a backslash, a control or
space character, or reads as a URL with a scheme or a host. Browsers treat ``\\`` as
``/`` and drop tabs and newlines, so ``/\\host`` or ``/\\t/host`` would leave the site.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")
_MAX_LENGTH = 2048
_DECODE_ROUNDS = 4


def _safe_form(text: str) -> bool:
    if not text.startswith("/") or text[1:2] in ("/", "\\"):
        return False
    if "\\" in text or any(ch.isspace() or not ch.isprintable() for ch in text):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def same_site_path(target: str | None) -> str | None:
    """``target`` when it is a path of this site, else None (the caller goes to ``/``)."""
    if not target or len(target) > _MAX_LENGTH or not _PRINTABLE_ASCII.fullmatch(target):
        return None
    text = target
    for _ in range(_DECODE_ROUNDS):
        if not _safe_form(text):
            return None
        try:
            decoded = unquote(text, errors="strict")
        except UnicodeDecodeError:
            return None
        if decoded == text:
            return target
        text = decoded
    return None  # encoded more deeply than any link of ours
