"""The anonymised public copy of a final ruling, made from its composed contents.

Redaction works on the structured :class:`~rulings.compose.RulingContent`, never on
rendered text: the parties' names are replaced by their roles («کارگر», «کارفرما»,
numbered when a side has several parties), their representatives by the role they
represent, and every free-text field (claims' titles, reasons and legal basis, minority
opinions, the reasons a signature is missing) is scrubbed of

* the parties' own identifying strings (names, national IDs, registration numbers,
  mobile numbers, addresses, the workshop's name and address), matched however they
  were typed: Arabic ي/ى/ك for ی/ک, Persian, Arabic-Indic or ASCII digits, a
  zero-width non-joiner, a space or nothing between the parts of a name, spaces or
  dashes between groups of digits;
* any long number that may identify someone: ten digits or more (national IDs,
  company IDs, mobile numbers, account numbers, card numbers, IBANs with or without
  their ``IR`` prefix).

Board members' names are kept: they sit as public officials and sign the ruling in
that capacity. A legal entity's name (an employer company) is kept only when the
labour office publishes legal entities' names (``publish_entity_names``); its
representatives, natural persons, are always replaced.

Nothing here touches a database; :func:`redact_ruling` is a pure function.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rulings.compose import (
    SCHEMA_VERSION,
    CompositionError,
    MinorityOpinion,
    Party,
    PartyRole,
    RulingContent,
)
from rulings.persian import Locale, fa_digits

REMOVED = {"fa": "[حذف‌شده]", "en": "[removed]"}
ROLE_NAMES = {
    "fa": {PartyRole.CLAIMANT: "کارگر", PartyRole.RESPONDENT: "کارفرما"},
    "en": {PartyRole.CLAIMANT: "Worker", PartyRole.RESPONDENT: "Employer"},
}
REPRESENTATIVE_OF = {"fa": "نماینده‌ی {role}", "en": "Representative of the {role}"}


@dataclass(frozen=True)
class PartyIdentity:
    """What identifies one party, in the order of ``RulingContent.parties``.

    ``legal_entity``: a company or other legal person (its name may be published by
    the office's setting); a natural person's name never is.
    """

    role: PartyRole
    name: str
    legal_entity: bool = False
    national_id: str | None = None
    registration_number: str | None = None
    mobile: str | None = None
    address: str | None = None
    representative: str | None = None


@dataclass(frozen=True)
class CaseIdentity:
    """The parties of the case and the workshop's identifying facts."""

    parties: tuple[PartyIdentity, ...]
    workshop_name: str | None = None
    workshop_address: str | None = None
    extra: tuple[str, ...] = ()  # any other string to remove (bank accounts on file...)


# --------------------------------------------------------------------------- normalisation

_LETTERS = str.maketrans({"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9"})
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "0123456789" * 2)
# Characters that separate (or invisibly sit between) the parts of a name or a number.
_GAPS = frozenset(
    " \t\r\n\u00a0\u200c\u200d\u200e\u200f\u061c"
    "\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u202e"
)
_NUMBER_GAPS = _GAPS | frozenset("-\u2010\u2011\u2012\u2013\u2014\u2212")


def _fold(ch: str) -> str:
    return ch.translate(_LETTERS).translate(_DIGITS).lower()


def fold(text: str) -> str:
    """``text`` as matching sees it: Persian letters, ASCII digits, no gaps, lower case."""
    return "".join(_fold(ch) for ch in text if ch not in _GAPS)


def _folded_with_positions(text: str) -> tuple[str, list[int]]:
    """The folded text and, for each of its characters, its index in ``text``."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if ch in _GAPS:
            continue
        out.append(_fold(ch))
        where.append(i)
    return "".join(out), where


_LETTER = re.compile(r"\w")


def _word_boundaries(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is not glued to letters on either side."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (_LETTER.match(before) and before not in _GAPS) and not (
        _LETTER.match(after) and after not in _GAPS
    )


@dataclass(frozen=True)
class _Needle:
    folded: str
    replacement: str
    whole_word: bool


def _replace_needles(text: str, needles: Sequence[_Needle]) -> str:
    """Replace every occurrence of each needle, however it was typed, in one pass.

    Spans are found in the folded text; a longer needle wins over a shorter one that
    overlaps it. Replacements are never searched again, so a label that happens to
    contain a needle cannot loop.
    """
    folded, where = _folded_with_positions(text)
    taken: list[tuple[int, int, str]] = []  # (start, end) in ``text``, replacement
    for needle in sorted(needles, key=lambda n: -len(n.folded)):
        if not needle.folded:
            continue
        pos = folded.find(needle.folded)
        while pos != -1:
            start = where[pos]
            end = where[pos + len(needle.folded) - 1] + 1
            free = all(end <= s or start >= e for s, e, _r in taken)
            if free and (not needle.whole_word or _word_boundaries(text, start, end)):
                taken.append((start, end, needle.replacement))
            pos = folded.find(needle.folded, pos + 1)
    for start, end, replacement in sorted(taken, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


# A run of digits (any script) with single spaces, dashes or invisible marks between
# groups, optionally after an IBAN's ``IR``.
_DIGIT = "0-9\u06f0-\u06f9\u0660-\u0669"
_GAP_CLASS = "".join(sorted(_NUMBER_GAPS)).replace("-", "\\-")
_NUMBER_RUN = re.compile(
    rf"\+?(?:(?:IR|ir|Ir)[{_GAP_CLASS}]?)?[{_DIGIT}](?:[{_GAP_CLASS}]{{0,2}}[{_DIGIT}])*"
)
LONG_NUMBER = 10
"""Digits in a run from which it is removed whatever it is (a national ID has 10)."""


def _scrub_numbers(text: str, own: Iterable[str], removed: str) -> str:
    """Remove long digit runs and any run holding one of the parties' own numbers."""
    own_digits = [d for d in own if d]

    def repl(match: re.Match[str]) -> str:
        digits = "".join(ch for ch in match.group().translate(_DIGITS) if ch.isdigit())
        if len(digits) >= LONG_NUMBER or match.group()[:2].lower() == "ir":
            return removed
        if any(d in digits for d in own_digits if len(d) >= 5) or digits in own_digits:
            return removed
        return match.group()

    return _NUMBER_RUN.sub(repl, text)


def _digits_of(value: str | None) -> str:
    return "".join(ch for ch in (value or "").translate(_DIGITS) if ch.isdigit())


def _mobile_core(value: str | None) -> str:
    """The ten significant digits of an Iranian mobile (``9xxxxxxxxx``), else the digits."""
    digits = _digits_of(value)
    return digits[-10:] if len(digits) >= 10 else digits


# --------------------------------------------------------------------------- redaction


@dataclass(frozen=True)
class PublicRulingContent:
    """The anonymised copy: the redacted ruling (whose verification code and URL are the
    copy's own) and the original's code and verification URL it derives from."""

    ruling: RulingContent
    original_verification_code: str
    original_verification_url: str

    @property
    def locale(self) -> Locale:
        return self.ruling.locale

    @property
    def verification_code(self) -> str:
        return self.ruling.verification_code

    @property
    def verification_url(self) -> str:
        return self.ruling.verification_url

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "public_ruling",
            "schema": SCHEMA_VERSION,
            "ruling": self.ruling.to_dict(),
            "original_verification_code": self.original_verification_code,
            "original_verification_url": self.original_verification_url,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> PublicRulingContent:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("kind") != "public_ruling":
            raise CompositionError("This snapshot is not a public ruling.")
        if data.get("schema") != SCHEMA_VERSION:
            raise CompositionError(f"Unsupported snapshot schema {data.get('schema')!r}.")
        ruling = RulingContent.from_json(json.dumps(data["ruling"], ensure_ascii=False))
        return cls(
            ruling=ruling,
            original_verification_code=str(data["original_verification_code"]),
            original_verification_url=str(data["original_verification_url"]),
        )


def _labels(parties: Sequence[PartyIdentity], locale: Locale) -> list[str]:
    """«کارگر», «کارفرما», numbered within a side that has several parties."""
    totals = {role: sum(1 for p in parties if p.role is role) for role in PartyRole}
    seen: dict[PartyRole, int] = {}
    labels: list[str] = []
    for party in parties:
        seen[party.role] = seen.get(party.role, 0) + 1
        label = ROLE_NAMES[locale][party.role]
        if totals[party.role] > 1:
            n = seen[party.role]
            label = f"{label} {fa_digits(n) if locale == 'fa' else n}"
        labels.append(label)
    return labels


def _name_needles(name: str, replacement: str, *, words: bool) -> list[_Needle]:
    """The whole name and, for a natural person, each word of three letters or more (a
    word joined by a zero-width non-joiner, «نیک‌نام», is one word)."""
    needles = [_Needle(fold(name), replacement, whole_word=True)]  # «علی» is not in «فعلی»
    if words:
        for word in name.split():
            if len(fold(word)) >= 3:
                needles.append(_Needle(fold(word), replacement, whole_word=True))
    return needles


def _address_needles(address: str | None, removed: str) -> list[_Needle]:
    """The whole address and each of its parts of two words or more (between commas)."""
    if not address or not address.strip():
        return []
    needles = [_Needle(fold(address), removed, whole_word=False)]
    for part in re.split(r"[،,؛;\n]+", address):
        if len(part.split()) >= 2 and len(fold(part)) >= 5:
            needles.append(_Needle(fold(part), removed, whole_word=False))
    return needles


@dataclass(frozen=True)
class Scrubber:
    """Removes the identifying strings of one case from free text (see module doc)."""

    needles: tuple[_Needle, ...]
    numbers: tuple[str, ...]
    removed: str

    def __call__(self, text: str) -> str:
        text = _replace_needles(text, self.needles)
        return _scrub_numbers(text, self.numbers, self.removed)


def scrubber_for(
    identity: CaseIdentity, *, locale: Locale = "fa", publish_entity_names: bool = False
) -> Scrubber:
    removed = REMOVED[locale]
    labels = _labels(identity.parties, locale)
    needles: list[_Needle] = []
    numbers: list[str] = []
    for party, label in zip(identity.parties, labels, strict=True):
        keep_name = party.legal_entity and publish_entity_names
        if not keep_name and party.name.strip():
            needles += _name_needles(party.name, label, words=not party.legal_entity)
        if party.representative and party.representative.strip():
            role = ROLE_NAMES[locale][party.role]
            needles += _name_needles(
                party.representative, REPRESENTATIVE_OF[locale].format(role=role), words=True
            )
        needles += _address_needles(party.address, removed)
        numbers += [
            _digits_of(party.national_id),
            _digits_of(party.registration_number),
            _mobile_core(party.mobile),
        ]
    employer_public = publish_entity_names and any(
        p.legal_entity for p in identity.parties if p.role is PartyRole.RESPONDENT
    )
    if identity.workshop_name and identity.workshop_name.strip() and not employer_public:
        needles.append(_Needle(fold(identity.workshop_name), removed, whole_word=False))
    needles += _address_needles(identity.workshop_address, removed)
    for other in identity.extra:
        if _digits_of(other) and len(_digits_of(other)) >= 5:
            numbers.append(_digits_of(other))
        elif other.strip():
            needles.append(_Needle(fold(other), removed, whole_word=False))
    return Scrubber(tuple(n for n in needles if n.folded), tuple(numbers), removed)


def redact_ruling(
    content: RulingContent,
    identity: CaseIdentity,
    *,
    publish_entity_names: bool,
    public_code: str,
    public_url: str,
) -> PublicRulingContent:
    """The anonymised copy of ``content``, carrying ``public_code``/``public_url`` as its
    own verification code and URL and the original's code as its origin.

    ``identity.parties`` must describe ``content.parties`` in the same order and roles.
    """
    if len(identity.parties) != len(content.parties) or any(
        p.role is not q.role for p, q in zip(identity.parties, content.parties, strict=True)
    ):
        raise CompositionError("The parties' identities do not match the ruling's parties.")
    locale = content.locale
    scrub = scrubber_for(identity, locale=locale, publish_entity_names=publish_entity_names)
    labels = _labels(identity.parties, locale)
    parties = tuple(
        Party(
            name=party.name if (who.legal_entity and publish_entity_names) else label,
            role=party.role,
            representative=None
            if not party.representative
            else REPRESENTATIVE_OF[locale].format(role=ROLE_NAMES[locale][party.role]),
        )
        for party, who, label in zip(content.parties, identity.parties, labels, strict=True)
    )
    claims = tuple(
        replace(
            claim,
            title=scrub(claim.title),
            reasons=scrub(claim.reasons),
            legal_basis=scrub(claim.legal_basis),
        )
        for claim in content.claims
    )
    members = tuple(
        replace(
            member,
            signature_missing=None
            if member.signature_missing is None
            else scrub(member.signature_missing),
        )
        for member in content.members
    )
    opinions = tuple(
        MinorityOpinion(o.member_name, scrub(o.text)) for o in content.minority_opinions
    )
    ruling = replace(
        content,
        parties=parties,
        claims=claims,
        members=members,
        minority_opinions=opinions,
        verification_code=public_code,
        verification_url=public_url,
    )
    return PublicRulingContent(
        ruling=ruling,
        original_verification_code=content.verification_code,
        original_verification_url=content.verification_url,
    )


def public_text(content: PublicRulingContent) -> str:
    """Everything a reader may search the public copy by (already redacted)."""
    r = content.ruling
    parts: list[str] = [r.board.labour_office, r.board.name, r.case_number, r.ruling_number]
    parts += [p.name for p in r.parties]
    for claim in r.claims:
        parts += [claim.title, claim.reasons, claim.legal_basis]
    parts += [o.text for o in r.minority_opinions]
    parts += [m.name for m in r.members]
    return "\n".join(parts)
