"""Why a case moved, as its timeline shows it.

A person's reason (a returned complaint, a postponement) is stored as typed and shown as
is. A reason the system composes is stored as a key and its parameters,
``"system:reheard hearing=12"`` (:func:`system_reason`), and put into the reader's language
when shown (:func:`reason_text`): the English sentence is never stored, so a Persian page
never shows one. Reasons stored before the keys (``"hearing 12 closed without a decision:
to be reheard"``) are read through :data:`LEGACY`.
"""

from __future__ import annotations

import re
from typing import Any

from hearing_server.i18n import gettext, lazy

PREFIX = "system:"

SYSTEM_REASONS: dict[str, str] = {
    "heard": lazy("Heard at session {hearing}."),
    "reheard": lazy("Session {hearing} closed without a decision: the case will be heard again."),
    "voted": lazy("Decided by the board's vote."),
    "appeal": lazy("Appeal {number} was filed."),
}
"""Every reason the system writes, by key: a msgid with named parameters."""

LEGACY: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"hearing (?P<hearing>\d+)"), "heard"),
    (
        re.compile(r"hearing (?P<hearing>\d+) closed without a decision: to be reheard"),
        "reheard",
    ),
    (re.compile(r"vote|every motion resolved by vote"), "voted"),
    (re.compile(r"appeal (?P<number>\S+)"), "appeal"),
)
"""The English reasons written before the keys, each matched whole."""


def system_reason(key: str, **params: Any) -> str:
    """The stored form of the system's reason ``key`` (one of :data:`SYSTEM_REASONS`).
    Parameter values are ids and numbers: no spaces, no ``=``."""
    if key not in SYSTEM_REASONS:
        raise KeyError(f"unknown system reason {key!r}")
    parts = [PREFIX + key]
    for name, value in params.items():
        text = str(value)
        if not text or any(c.isspace() for c in text) or "=" in text:
            raise ValueError(f"a reason's parameter is one word: {name}={text!r}")
        parts.append(f"{name}={text}")
    return " ".join(parts)


def _parse(stored: str) -> tuple[str, dict[str, str]] | None:
    if stored.startswith(PREFIX):
        key, *pairs = stored[len(PREFIX) :].split(" ")
        params = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
        return (key, params) if key in SYSTEM_REASONS else None
    for pattern, key in LEGACY:
        match = pattern.fullmatch(stored)
        if match:
            return key, match.groupdict()
    return None


def reason_text(stored: str | None, locale: str | None = None) -> str | None:
    """``stored`` as the reader sees it: a system reason in their language, a person's
    reason as they typed it."""
    if not stored:
        return stored
    parsed = _parse(stored)
    if parsed is None:
        return stored
    key, params = parsed
    return gettext(SYSTEM_REASONS[key], locale, **params)
