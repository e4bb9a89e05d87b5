"""The Persian catalogue: extracted by Babel, fully translated, compiled, loaded in public.

The extraction here is the one ``make messages-extract`` runs: Babel's extractor over
the repository with the mapping and keywords of ``babel.cfg``.
"""

from __future__ import annotations

import inspect
import re
import shutil
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import CommandLineInterface, parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from hearing_server import i18n

ROOT = Path(__file__).resolve().parent.parent
PO = i18n.TRANSLATIONS_DIR / "fa" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"

Key = tuple[str | None, str]  # (msgctxt, msgid)

# Msgids the extractor makes up from an expression instead of a literal. Each names the
# call to mend; once mended the msgid is gone and the entry must go too.
MISEXTRACTED: dict[str, str] = {}


@cache
def extracted() -> frozenset[Key]:
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: set[Key] = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        msgid = message if isinstance(message, str) else message[0]
        found.add((context, msgid))
    return frozenset(found)


def catalogue() -> Catalog:
    with PO.open("rb") as handle:
        return read_po(handle, locale="fa")


def translated(catalog: Catalog) -> dict[Key, str]:
    """Entries with a Persian text that is not fuzzy (what ``pybabel compile`` keeps)."""
    done: dict[Key, str] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if all(strings):
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            done[(message.context, msgid)] = strings[0]
    return done


def test_the_extractor_finds_the_markers() -> None:
    keys = extracted()
    assert (None, "No such case.") in keys  # NotFound("...")
    assert (None, "Unpaid wages") in keys  # lazy("...")
    assert (None, "Cases on the agenda:") in keys  # scheduling's _t(locale, "...")
    assert (None, "Sign in") in keys  # _("...") in a template
    assert ("quorum shortfall", "worker") in keys  # pgettext(context, "...")


def test_every_extracted_msgid_has_a_persian_translation() -> None:
    done = translated(catalogue())
    missing = sorted(
        (msgid if context is None else f"{context}|{msgid}")
        for context, msgid in extracted() - done.keys()
        if msgid not in MISEXTRACTED
    )
    assert missing == [], (
        "msgids without a Persian translation (or only a fuzzy one): run `make messages`, "
        "translate them in messages.po, then `make messages-compile`"
    )


def test_the_misextracted_msgids_are_still_there() -> None:
    mended = [msgid for msgid in MISEXTRACTED if (None, msgid) not in extracted()]
    assert mended == [], "mended at the source: delete them from MISEXTRACTED"


def test_every_translation_is_for_a_msgid_in_use() -> None:
    """``make messages-update`` keeps only what extraction finds, so nothing may hide."""
    unmarked = sorted(str(msgid) for msgid in translated(catalogue()).keys() - extracted())
    assert unmarked == [], (
        "translated but marked nowhere: mark them where they are used (lazy, gettext, "
        "or hearing_server/translations/unmarked.py), or delete them from messages.po"
    )


def test_the_compiled_catalogue_matches_messages_po() -> None:
    stale = []
    for (context, msgid), text in translated(catalogue()).items():
        if context is None:
            loaded = i18n.gettext(msgid, "fa")
        else:
            loaded = i18n.pgettext(context, msgid, "fa")
        if loaded != text:
            stale.append(msgid)
    assert stale == [], "messages.mo is older than messages.po: run `make messages-compile`"


@pytest.mark.parametrize(
    ("msgid", "persian"),
    [
        ("Member", "عضو هیأت"),
        ("No such document.", "چنین مدرکی پیدا نشد."),
        ("No such case.", "چنین پرونده‌ای پیدا نشد."),
        ("accepted", "پذیرفته‌شده"),
        ("appealed", "مورد اعتراض"),
        (
            "The reason is too long (at most 2000 characters).",
            "دلیل بیش از اندازه بلند است (حداکثر ۲۰۰۰ نویسه).",
        ),
    ],
)
def test_the_msgids_once_translated_two_ways_use_the_glossary(msgid: str, persian: str) -> None:
    assert i18n.gettext(msgid, "fa") == persian
    assert i18n.gettext(msgid, "en") == msgid


def test_a_context_chooses_the_translation() -> None:
    assert i18n.gettext("worker", "fa") == "کارگران"
    assert i18n.pgettext("quorum shortfall", "worker", "fa") == "نمایندگان کارگران"
    assert i18n.pgettext("quorum shortfall", "worker", "en") == "worker"


def test_a_po_change_is_read_after_compiling(tmp_path: Path) -> None:
    messages = tmp_path / "fa" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    shutil.copy(PO, messages / PO.name)
    with pytest.raises(i18n.CatalogueNotCompiled, match="make setup"):
        i18n.load_catalogue(tmp_path, "fa")

    catalog = catalogue()
    catalog["No such case."].string = "پرونده‌ای با این شماره نیست."
    with (messages / PO.name).open("wb") as handle:
        write_po(handle, catalog)
    CommandLineInterface().run(
        ["pybabel", "-q", "compile", "-D", i18n.DOMAIN, "-d", str(tmp_path), "-l", "fa"]
    )

    loaded = i18n.load_catalogue(tmp_path, "fa")
    assert loaded.gettext("No such case.") == "پرونده‌ای با این شماره نیست."
    assert loaded.gettext("Member") == "عضو هیأت"
    assert i18n.load_catalogue(tmp_path, "en").gettext("Member") == "Member"


def test_loading_touches_no_private_attribute() -> None:
    source = inspect.getsource(i18n)
    assert not re.search(r"\.\s*_[A-Za-z]", source), "use Babel's public API only"
