"""Companies' national IDs (شناسه ملی اشخاص حقوقی): eleven digits, the last a check digit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hearing_server.text import legal_id_check_digit, make_legal_id, normalize_legal_id

# A published valid ID (the persian-tools test suite's), worked by hand: digits plus
# (9 + 2) times 29, 27, 23, 19, 17, 29, … sum to 3432 = 11 × 312, so the check digit is 0.
KNOWN_VALID = "10380284790"
# Its sum is 2716 = 11 × 246 + 10: remainder 10, and the check digit is 10 mod 10 = 0.
REMAINDER_TEN = "10100123480"


def test_known_valid_ids() -> None:
    assert normalize_legal_id(KNOWN_VALID) == KNOWN_VALID
    assert normalize_legal_id(REMAINDER_TEN) == REMAINDER_TEN
    assert legal_id_check_digit("1038028479") == 0
    assert legal_id_check_digit("1010012348") == 0


@pytest.mark.parametrize(
    "typed",
    ["۱۰۳۸۰۲۸۴۷۹۰", "١٠٣٨٠٢٨٤٧٩٠", " 103-802-847-90 ", "\u200f10380284790\u200e", "1038 0284 790"],
)
def test_typed_forms_are_normalised(typed: str) -> None:
    assert normalize_legal_id(typed) == KNOWN_VALID


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("10380284792", "legal_id_checksum"),  # the published invalid neighbours
        ("10380285692", "legal_id_checksum"),
        ("10100123481", "legal_id_checksum"),  # remainder 10 is 0, not 1
        ("1038028479", "legal_id_length"),
        ("103802847900", "legal_id_length"),
        ("0038028479a", "legal_id_format"),
        ("", "legal_id_format"),
        ("10100000030", "legal_id_serial"),  # a right check digit, but serial 000000
        ("0012345679", "legal_id_length"),  # a person's national ID is not a company's
    ],
)
def test_invalid_legal_ids(typed: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalize_legal_id(typed)


@given(st.from_regex(r"[0-9]{3}[1-9][0-9]{6}", fullmatch=True))
def test_every_made_id_is_valid_and_every_other_check_digit_is_not(prefix: str) -> None:
    made = make_legal_id(prefix)
    assert normalize_legal_id(made) == made
    for other in "0123456789":
        if other != made[-1]:
            with pytest.raises(ValueError, match="legal_id_checksum"):
                normalize_legal_id(prefix + other)


def test_make_legal_id_refuses_bad_prefixes() -> None:
    with pytest.raises(ValueError, match="legal_id_prefix"):
        make_legal_id("123")
