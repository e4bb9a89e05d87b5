"""Keeps the Persian catalogue honest: lists msgids used in code and templates that
have no translation (`python scripts/po.py`), exit 1 when any is missing."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "hearing_server/translations/fa/LC_MESSAGES/messages.po"
# _("...") and gettext("..."), and the first argument of DomainError kinds and lazy("...").
PATTERNS = [
    re.compile(r"""(?<![\w.])(?:_|gettext|lazy)\(\s*"((?:[^"\\]|\\.)+)\"""", re.S),
    re.compile(r"""(?<![\w.])(?:_|gettext|lazy)\(\s*'((?:[^'\\]|\\.)+)'""", re.S),
    re.compile(
        r"""\b(?:Invalid|Unauthenticated|Forbidden|NotFound|Conflict|TooLarge|UnsupportedType|Locked|"""
        r"""TooManyRequests|DomainError)\(\s*"((?:[^"\\]|\\.)+)\"""",
        re.S,
    ),
    re.compile(r"""errors\[\s*"\w+"\s*\]\s*=\s*\(\s*"((?:[^"\\]|\\.)+)\"""", re.S),
    re.compile(r"""return\s+"((?:The|A|This)[^"]+\.)\"""", re.S),
]


def used_msgids() -> set[str]:
    found: set[str] = set()
    files = list((ROOT / "hearing_server").rglob("*.py")) + list(
        (ROOT / "templates").rglob("*.html")
    )
    for path in files:
        if "rulings" in path.parts and "templates" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in PATTERNS:
            for match in pattern.finditer(text):
                found.add(match.group(1).replace('\\"', '"'))
    return found


def translated() -> set[str]:
    done: set[str] = set()
    for po in sorted(PO.parent.glob("*.po")):
        with po.open("rb") as handle:
            cat = read_po(handle, locale="fa")
        done |= {str(m.id) for m in cat if m.id and m.string}
    return done


def missing() -> list[str]:
    return sorted(used_msgids() - translated())


if __name__ == "__main__":
    gaps = missing()
    for msgid in gaps:
        print(msgid)
    sys.exit(1 if gaps else 0)
