"""Persian and English: catalogues, the request's locale, and display helpers.

English strings in the code are the msgids; ``translations/fa/LC_MESSAGES/messages.po``
holds the Persian. The catalogue is read with Babel at start-up (no compile step).
Dates are stored in UTC and shown in Asia/Tehran, in the Jalali calendar, with
Persian digits when the locale is fa (Babel has no Jalali calendar).
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from rulings.persian import Locale, fa_digits, jalali_date, jalali_datetime

LOCALES = ("fa", "en")
TRANSLATIONS_DIR = Path(__file__).parent / "translations"

_current_locale: ContextVar[str] = ContextVar("heyat_locale", default="fa")


@cache
def catalogue(locale: str) -> NullTranslations:
    """All ``*.po`` files of ``locale`` merged (one file per part of the app)."""
    files = sorted((TRANSLATIONS_DIR / locale / "LC_MESSAGES").glob("*.po"))
    if not files:
        return NullTranslations()
    translations = Translations()
    for po in files:
        with po.open("rb") as handle:
            cat = read_po(handle, locale=locale)
        for message in cat:
            if message.id and message.string and not message.fuzzy:
                key = message.id if isinstance(message.id, str) else message.id[0]
                value = message.string if isinstance(message.string, str) else message.string[0]
                translations._catalog[key] = value
    return translations


def set_locale(locale: str) -> None:
    _current_locale.set(locale if locale in LOCALES else "fa")


def get_locale() -> str:
    return _current_locale.get()


def gettext(message: str, locale: str | None = None, **params: Any) -> str:
    text = catalogue(locale or get_locale()).gettext(message)
    if params:
        text = text.format(**{k: localize_value(v, locale) for k, v in params.items()})
    return text


_ = gettext


def lazy(message: str) -> str:
    """Mark a msgid for extraction where it is translated later."""
    return message


class LazyText(str):
    """A msgid passed as a message parameter (a status name): translated with the message."""

    __slots__ = ()


def as_locale(locale: str | None = None) -> Locale:
    value = locale or get_locale()
    return cast(Locale, value if value in LOCALES else "fa")


def localize_value(value: Any, locale: str | None = None) -> str:
    locale = as_locale(locale)
    if isinstance(value, LazyText):
        return gettext(str(value), locale)
    if isinstance(value, datetime):
        return jalali_datetime(value, locale=locale)
    if isinstance(value, date):
        return jalali_date(value, locale=locale)
    text = str(value)
    return fa_digits(text) if locale == "fa" else text


def digits(value: Any, locale: str | None = None) -> str:
    text = str(value)
    return fa_digits(text) if (locale or get_locale()) == "fa" else text


def text_direction(locale: str | None = None) -> str:
    return "rtl" if (locale or get_locale()) == "fa" else "ltr"
