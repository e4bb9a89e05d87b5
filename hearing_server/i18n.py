"""Persian and English: catalogues, the request's locale, and display helpers.

English strings in the code are the msgids. ``pybabel extract`` collects them (see
``babel.cfg``), ``translations/fa/LC_MESSAGES/messages.po`` holds the Persian, and
``make setup`` compiles it to ``messages.mo``, which is loaded here with Babel's
``Translations.load``. docs/i18n.md has the workflow.
Dates are stored in UTC and shown in Asia/Tehran, in the Jalali calendar, with
Persian digits when the locale is fa (Babel has no Jalali calendar).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

from babel.support import NullTranslations, Translations

from rulings.persian import Locale, fa_digits, jalali_date, jalali_datetime

LOCALES = ("fa", "en")
TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DOMAIN = "messages"

_current_locale: ContextVar[str] = ContextVar("heyat_locale", default="fa")


class CatalogueNotCompiled(RuntimeError):
    """A locale has a ``.po`` but no compiled ``.mo`` next to it."""


def load_catalogue(directory: Path, locale: str) -> NullTranslations:
    """The compiled catalogue of ``locale`` under ``directory``.

    A locale without a catalogue (English: the msgids are the English) gets
    ``NullTranslations``; one whose ``.po`` was never compiled is an error, not a
    silent fall-back to English.
    """
    translations = Translations.load(directory, [locale], DOMAIN)
    if not isinstance(translations, Translations):
        source = directory / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        if source.is_file():
            raise CatalogueNotCompiled(
                f"{source.with_suffix('.mo')} is missing: run `make setup` (pybabel compile)"
            )
    return translations


@cache
def catalogue(locale: str) -> NullTranslations:
    return load_catalogue(TRANSLATIONS_DIR, locale)


def set_locale(locale: str) -> None:
    _current_locale.set(locale if locale in LOCALES else "fa")


def get_locale() -> str:
    return _current_locale.get()


@contextmanager
def locale_block(locale: str) -> Iterator[None]:
    """Within the block, ``locale`` (a document that is Persian whatever the reader's
    interface language, like a worker's receipt); the request's locale after it."""
    token = _current_locale.set(locale if locale in LOCALES else "fa")
    try:
        yield
    finally:
        _current_locale.reset(token)


def gettext(message: str, locale: str | None = None, **params: Any) -> str:
    return _fill(catalogue(locale or get_locale()).gettext(message), locale, params)


_ = gettext


def pgettext(context: str, message: str, locale: str | None = None, **params: Any) -> str:
    """Like :func:`gettext`, for a msgid that ``context`` translates differently."""
    text = catalogue(locale or get_locale()).pgettext(context, message)
    return _fill(str(text), locale, params)  # str: Babel annotates it ``str | object``


def _fill(text: str, locale: str | None, params: dict[str, Any]) -> str:
    if params:
        text = text.format(**{k: localize_value(v, locale) for k, v in params.items()})
    return text


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
