"""Verification codes: printed on every ruling and minutes beside a QR code leading to
the public verification page, read aloud and typed by hand."""

from __future__ import annotations

import secrets

from hearing_server.config import Settings
from hearing_server.text import normalize_digits

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by hand


def new_verification_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalize_code(code: str) -> str | None:
    """``k7qf 2mzp-9xta`` or with Persian digits → ``K7QF-2MZP-9XTA``; None if malformed."""
    raw = "".join(ch for ch in normalize_digits(code or "").upper() if ch.isalnum())
    if len(raw) != 12 or any(ch not in CODE_ALPHABET for ch in raw):
        return None
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def verification_url(settings: Settings, code: str) -> str:
    return f"{settings.base_url.rstrip('/')}/verify/{code}"
