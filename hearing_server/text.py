"""Normalise what people type: Persian/Arabic digits, ی/ي and ک/ك, spaces and dashes.

Every function here is pure and dependency-free. Parsers raise ``ValueError`` whose
message is a short English reason code (``"national_id_checksum"``, ``"mobile_invalid"``,
...) that the web layer maps to a message in the user's language.
"""

from __future__ import annotations

import re
from datetime import date

from persiantools.jdatetime import JalaliDate

__all__ = [
    "control_character",
    "is_valid_national_id",
    "legal_id_check_digit",
    "make_legal_id",
    "make_national_id",
    "national_id_check_digit",
    "normalize_digits",
    "normalize_legal_id",
    "normalize_mobile",
    "normalize_national_id",
    "normalize_otp",
    "normalize_persian",
    "parse_rials",
    "parse_typed_date",
    "strip_control_characters",
]

_PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"  # U+06F0..U+06F9
_ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"  # U+0660..U+0669
_ASCII_DIGITS = "0123456789"

_TO_ASCII = str.maketrans(_PERSIAN_DIGITS + _ARABIC_INDIC_DIGITS, _ASCII_DIGITS * 2)

# Arabic letters that Arabic keyboards produce in place of the Persian ones.
_PERSIAN_LETTERS = str.maketrans(
    {
        "\u064a": "\u06cc",  # ARABIC LETTER YEH -> ARABIC LETTER FARSI YEH (ی)
        "\u0649": "\u06cc",  # ARABIC LETTER ALEF MAKSURA -> ی
        "\u0643": "\u06a9",  # ARABIC LETTER KAF -> ARABIC LETTER KEHEH (ک)
    }
)

# Invisible direction marks that come along when a number is copied from RTL text.
_BIDI_MARKS = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Dashes people put between groups of digits (hyphen, non-breaking hyphen, en/em dash, minus).
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"
_IGNORABLE_IN_NUMBERS = _BIDI_MARKS + "\u200c\u200d"  # plus ZWNJ/ZWJ

_MAX_BIGINT = 2**63 - 1

# Control characters no one types on purpose: C0 but tab, line feed and carriage return;
# DEL; C1 (U+0080..U+009F, NEL among them); and lone UTF-16 surrogates, which a JSON
# "\ud800" escape can carry but no database encoding stores. PostgreSQL refuses NUL in
# text outright; SQLite would store every one of them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def control_character(s: str) -> str | None:
    """The first character of ``s`` that text may not carry (see above), or None."""
    match = _CONTROL.search(s)
    return match.group() if match else None


def strip_control_characters(s: str) -> str:
    """``s`` without the control characters and lone surrogates text may not carry."""
    return _CONTROL.sub("", s)


def normalize_digits(s: str) -> str:
    """Return ``s`` with Persian (۰-۹) and Arabic-Indic (٠-٩) digits replaced by ASCII."""
    return s.translate(_TO_ASCII)


def normalize_persian(s: str) -> str:
    """Normalise Persian text as typed: Arabic ي/ى→ی and ك→ک, trimmed, single spaces.

    Every run of whitespace (including newlines and no-break spaces) becomes one space.
    The zero-width non-joiner (U+200C, نیم‌فاصله) is not whitespace and is kept.
    Other control characters are dropped (:func:`strip_control_characters`).
    Digits are left alone; use :func:`normalize_digits` for them.
    """
    words = (strip_control_characters(word) for word in s.translate(_PERSIAN_LETTERS).split())
    return " ".join(word for word in words if word)


def _compact_digits(s: str, *, extra: str = "") -> str:
    """ASCII digits of ``s`` with whitespace, dashes, bidi marks and ``extra`` removed.

    Anything else (letters, other punctuation) is kept, so the caller's digit check fails.
    """
    drop = _DASHES + _IGNORABLE_IN_NUMBERS + extra
    return "".join(c for c in normalize_digits(s) if not c.isspace() and c not in drop)


def _is_ascii_digits(s: str) -> bool:
    # str.isdigit() would also accept superscripts and digits of other scripts.
    return bool(s) and all(c in _ASCII_DIGITS for c in s)


def national_id_check_digit(first9: str) -> int:
    """Check digit for the first nine ASCII digits of an Iranian national ID (کد ملی)."""
    s = sum(int(d) * (10 - i) for i, d in enumerate(first9))
    r = s % 11
    return r if r < 2 else 11 - r


def normalize_national_id(s: str) -> str:
    """Return the 10 ASCII digits of a national ID typed with any digits, spaces or dashes.

    Raises ``ValueError`` with one of ``national_id_format`` (something other than digits),
    ``national_id_length`` (not exactly 10 digits; missing leading zeros are *not* added
    back, because the ID is printed with them), ``national_id_repeated`` (ten equal
    digits) or ``national_id_checksum``.
    """
    digits = _compact_digits(s)
    if not _is_ascii_digits(digits):
        raise ValueError("national_id_format")
    if len(digits) != 10:
        raise ValueError("national_id_length")
    if len(set(digits)) == 1:
        raise ValueError("national_id_repeated")
    if national_id_check_digit(digits[:9]) != int(digits[9]):
        raise ValueError("national_id_checksum")
    return digits


def is_valid_national_id(s: str) -> bool:
    """Whether ``s`` is a valid national ID once normalised (see :func:`normalize_national_id`)."""
    try:
        normalize_national_id(s)
    except ValueError:
        return False
    return True


def make_national_id(prefix9: str) -> str:
    """Append the right check digit to nine digits (demo data and tests).

    Raises ``ValueError("national_id_prefix")`` unless given exactly nine digits, and
    ``ValueError("national_id_repeated")`` for a prefix that would give ten equal digits.
    """
    digits = _compact_digits(prefix9)
    if not _is_ascii_digits(digits) or len(digits) != 9:
        raise ValueError("national_id_prefix")
    national_id = digits + str(national_id_check_digit(digits))
    if len(set(national_id)) == 1:
        raise ValueError("national_id_repeated")
    return national_id


# The weights of a company's national ID (شناسه ملی اشخاص حقوقی), repeating over its
# first ten digits.
_LEGAL_ID_WEIGHTS = (29, 27, 23, 19, 17)


def legal_id_check_digit(first10: str) -> int:
    """Check digit for the first ten ASCII digits of a company's national ID: each digit
    plus (the tenth digit + 2), times 29, 27, 23, 19, 17 repeating; the sum mod 11, mod 10."""
    shift = int(first10[9]) + 2
    total = sum(
        (int(d) + shift) * _LEGAL_ID_WEIGHTS[i % len(_LEGAL_ID_WEIGHTS)]
        for i, d in enumerate(first10)
    )
    return total % 11 % 10


def normalize_legal_id(s: str) -> str:
    """Return the 11 ASCII digits of a company's national ID (شناسه ملی) typed with any
    digits, spaces or dashes.

    Raises ``ValueError`` with one of ``legal_id_format`` (something other than digits),
    ``legal_id_length`` (not exactly 11 digits), ``legal_id_serial`` (its serial, the
    fourth to ninth digits, all zero: never issued) or ``legal_id_checksum``.
    """
    digits = _compact_digits(s)
    if not _is_ascii_digits(digits):
        raise ValueError("legal_id_format")
    if len(digits) != 11:
        raise ValueError("legal_id_length")
    if set(digits[3:9]) == {"0"}:
        raise ValueError("legal_id_serial")
    if legal_id_check_digit(digits[:10]) != int(digits[10]):
        raise ValueError("legal_id_checksum")
    return digits


def make_legal_id(prefix10: str) -> str:
    """Append the right check digit to ten digits (demo data and tests).

    Raises ``ValueError("legal_id_prefix")`` unless given exactly ten digits.
    """
    digits = _compact_digits(prefix10)
    if not _is_ascii_digits(digits) or len(digits) != 10:
        raise ValueError("legal_id_prefix")
    return digits + str(legal_id_check_digit(digits))


_MOBILE_NSN = re.compile(r"9[0-9]{9}")


def normalize_mobile(s: str) -> str:
    """Return an Iranian mobile number in the canonical form ``09121234567``.

    Accepted, with any digits, spaces, dashes or parentheses: ``09121234567``,
    ``+989121234567``, ``00989121234567``, ``989121234567`` and ``9121234567``.
    Anything else raises ``ValueError("mobile_invalid")``.
    """
    compact = _compact_digits(s, extra="()")
    if compact.startswith("+"):
        if not compact.startswith("+98"):
            raise ValueError("mobile_invalid")
        nsn = compact[3:]
    elif compact.startswith("0098"):
        nsn = compact[4:]
    elif compact.startswith("98") and len(compact) == 12:
        nsn = compact[2:]
    elif compact.startswith("0"):
        nsn = compact[1:]
    else:
        nsn = compact
    if not _is_ascii_digits(nsn) or _MOBILE_NSN.fullmatch(nsn) is None:
        raise ValueError("mobile_invalid")
    return "0" + nsn


def normalize_otp(s: str) -> str:
    """Return a six-digit one-time code typed with any digits and spaces.

    Raises ``ValueError("otp_format")`` unless exactly six digits remain.
    """
    code = "".join(
        c for c in normalize_digits(s) if not c.isspace() and c not in _IGNORABLE_IN_NUMBERS
    )
    if not _is_ascii_digits(code) or len(code) != 6:
        raise ValueError("otp_format")
    return code


# Thousands separators: ASCII comma, Arabic thousands separator (٬), Arabic comma (،),
# apostrophe-like marks are not accepted. Whitespace of any kind is removed as well.
_RIAL_SEPARATORS = ",\u066c\u060c"


def parse_rials(s: str) -> int:
    """Parse a non-negative whole amount of rials typed with any digits and separators.

    Separators (``,``, ``٬``, ``،`` and spaces) may appear anywhere between digits. A
    decimal point, a sign or any other character is refused: amounts are whole rials,
    never floats. Raises ``ValueError`` with ``rials_empty``, ``rials_format`` or
    ``rials_too_large`` (above the largest 64-bit integer the database can store).
    """
    compact = "".join(
        c
        for c in normalize_digits(s)
        if not c.isspace() and c not in _RIAL_SEPARATORS and c not in _IGNORABLE_IN_NUMBERS
    )
    if not compact:
        raise ValueError("rials_empty")
    if not _is_ascii_digits(compact):
        raise ValueError("rials_format")
    stripped = compact.lstrip("0") or "0"
    if len(stripped) > len(str(_MAX_BIGINT)):
        raise ValueError("rials_too_large")
    amount = int(stripped)
    if amount > _MAX_BIGINT:
        raise ValueError("rials_too_large")
    return amount


_TYPED_DATE = re.compile(r"\s*(\d{4})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{1,2})\s*")


def parse_typed_date(text: str) -> date:
    """A date as people type it → its Gregorian date: Jalali ``1405/01/15``, ``۱۴۰۵-۱-۱۵``
    (any digits; ``/``, ``-`` or ``.`` between), or Gregorian ``2026-04-04`` (a year from
    1700 on is Gregorian). Raises ``ValueError("date_format")`` when it is not a date and
    ``ValueError("date_invalid")`` when the day does not exist; callers turn these into
    the message their form shows."""
    match = _TYPED_DATE.fullmatch(normalize_digits(text or ""))
    if not match:
        raise ValueError("date_format")
    year, month, day = (int(g) for g in match.groups())
    try:
        if year < 1700:
            gregorian: date = JalaliDate(year, month, day).to_gregorian()  # type: ignore[no-untyped-call]  # persiantools is untyped
            return gregorian
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError("date_invalid") from exc
