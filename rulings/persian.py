"""Display formatting in Persian and English: digits, Jalali dates, rial amounts.

Everything stored is UTC and Latin digits; these helpers are applied only when
text is shown or printed. Aware datetimes are shown in Tehran local time.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from persiantools import digits
from persiantools.jdatetime import JalaliDate

Locale = Literal["fa", "en"]

TEHRAN = ZoneInfo("Asia/Tehran")

_FA_THOUSANDS_SEPARATOR = "٬"  # U+066C ARABIC THOUSANDS SEPARATOR
_FA_TIME_WORD = "ساعت"
_MAX_WORDS_AMOUNT = 10**15  # persiantools.digits.to_word handles up to this (exclusive)


# A link in a text keeps its Latin digits: «http://۱۲۷.۰.۰.۱:۵۱۰۲/hearings/۱۲» opens nothing,
# and people copy links out of SMS and e-mail. A scheme (http://, https://, ...) or "www."
# up to the next space, quote or guillemet.
_LINK = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*://|\bwww\.)[^\s<>\"'«»]+")


def fa_digits(value: str | int) -> str:
    """Return ``value`` as text with Latin and Arabic-Indic digits turned into Persian ones,
    except inside links (``http://…``, ``www.…``), which keep theirs."""
    text = str(value)
    out: list[str] = []
    start = 0
    for link in _LINK.finditer(text):
        out.append(_to_persian(text[start : link.start()]))
        out.append(link.group())
        start = link.end()
    out.append(_to_persian(text[start:]))
    return "".join(out)


def _to_persian(text: str) -> str:
    return digits.ar_to_fa(digits.en_to_fa(text)) if text else text


def _check_locale(locale: str) -> Locale:
    if locale == "fa":
        return "fa"
    if locale == "en":
        return "en"
    raise ValueError(f"Unknown locale {locale!r}; expected 'fa' or 'en'.")


def to_tehran(moment: datetime) -> datetime:
    """Convert an aware datetime to Tehran local time; naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("A naive datetime cannot be shown: pass an aware (UTC) datetime.")
    return moment.astimezone(TEHRAN)


def _local_date(value: date | datetime) -> date:
    if isinstance(value, datetime):
        return to_tehran(value).date()
    return value


def jalali_date(value: date | datetime, locale: Locale = "fa") -> str:
    """Jalali date: fa → «۰۷ آذر ۱۴۰۵», en → "7 Azar 1405".

    An aware datetime is first converted to Tehran local time, so a UTC instant
    late in the evening shows the next day, as a Tehran reader expects.
    """
    loc = _check_locale(locale)
    jdate = JalaliDate(_local_date(value))  # type: ignore[no-untyped-call]  # persiantools is untyped
    if loc == "fa":
        return str(jdate.strftime("%d %B %Y", locale="fa"))
    return f"{jdate.day} {jdate.strftime('%B', locale='en')} {jdate.year}"


def jalali_datetime(value: datetime, locale: Locale = "fa") -> str:
    """Jalali date and Tehran time: fa → «۰۷ آذر ۱۴۰۵، ساعت ۱۴:۳۰», en → "7 Azar 1405, 14:30"."""
    loc = _check_locale(locale)
    local = to_tehran(value)
    day = jalali_date(local.date(), loc)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if loc == "fa":
        return f"{day}، {_FA_TIME_WORD} {fa_digits(clock)}"
    return f"{day}, {clock}"


def jalali_time(value: datetime, locale: Locale = "fa") -> str:
    """Tehran time of day as HH:MM (Persian digits for fa)."""
    loc = _check_locale(locale)
    local = to_tehran(value)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    return fa_digits(clock) if loc == "fa" else clock


def format_rials(amount: int, locale: Locale = "fa") -> str:
    """Group thousands: fa → «۱۲٬۵۰۰٬۰۰۰», en → "12,500,000". No unit is appended."""
    loc = _check_locale(locale)
    grouped = f"{amount:,d}"
    if loc == "fa":
        return fa_digits(grouped.replace(",", _FA_THOUSANDS_SEPARATOR))
    return grouped


def amount_in_words_fa(rials: int) -> str:
    """Persian words for an amount: 12500000 → «دوازده میلیون و پانصد هزار» (no unit).

    Raises ValueError when the amount is beyond what the words table covers (10^15).
    """
    if abs(rials) >= _MAX_WORDS_AMOUNT:
        raise ValueError(f"Amount {rials} is too large to write in words.")
    words = str(digits.to_word(abs(rials)))
    return f"منفی {words}" if rials < 0 else words


_EN_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_EN_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_EN_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))


def _en_below_thousand(n: int) -> str:
    parts: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        parts.append(f"{_EN_ONES[hundreds]} hundred")
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        parts.append(_EN_TENS[tens] + (f"-{_EN_ONES[ones]}" if ones else ""))
    elif rest:
        parts.append(_EN_ONES[rest])
    return " ".join(parts)


def amount_in_words_en(rials: int) -> str:
    """English words for an amount: 12500000 → "twelve million five hundred thousand"."""
    if abs(rials) >= _MAX_WORDS_AMOUNT:
        raise ValueError(f"Amount {rials} is too large to write in words.")
    n = abs(rials)
    if n == 0:
        return "zero"
    parts: list[str] = []
    for scale, name in _EN_SCALES:
        count, n = divmod(n, scale)
        if count:
            parts.append(f"{_en_below_thousand(count)} {name}")
    if n:
        parts.append(_en_below_thousand(n))
    words = " ".join(parts)
    return f"minus {words}" if rials < 0 else words


def amount_in_words(rials: int, locale: Locale = "fa") -> str:
    """Amount in words in the given locale (no unit)."""
    if _check_locale(locale) == "fa":
        return amount_in_words_fa(rials)
    return amount_in_words_en(rials)
