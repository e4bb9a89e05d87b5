"""Input as people type it: digits, letters, national IDs, mobiles, codes and amounts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearing_server.text import (
    is_valid_national_id,
    make_national_id,
    national_id_check_digit,
    normalize_digits,
    normalize_mobile,
    normalize_national_id,
    normalize_otp,
    normalize_persian,
    parse_rials,
)
from rulings.persian import fa_digits

ZWNJ = "\u200c"

# ------------------------------------------------------------------ digits


def test_persian_and_arabic_indic_digits_become_ascii() -> None:
    assert normalize_digits("۰۱۲۳۴۵۶۷۸۹") == "0123456789"
    assert normalize_digits("٠١٢٣٤٥٦٧٨٩") == "0123456789"
    assert normalize_digits("پرونده ۱۴۰۵-٠٠٠١٢٣") == "پرونده 1405-000123"
    assert normalize_digits("abc 123") == "abc 123"


def test_digits_become_persian_for_display() -> None:
    assert fa_digits("1405-00012") == "۱۴۰۵-۰۰۰۱۲"
    assert fa_digits("٣") == "۳"


@given(st.text())
def test_digit_round_trip(s: str) -> None:
    assert normalize_digits(fa_digits(normalize_digits(s))) == normalize_digits(s)


# ------------------------------------------------------------------ Persian letters


def test_arabic_yeh_and_kaf_become_persian() -> None:
    assert normalize_persian("علي") == "علی"
    assert normalize_persian("كارگر") == "کارگر"
    assert normalize_persian("مصطفى") == "مصطفی"
    assert normalize_persian("شركت يكتا") == "شرکت یکتا"


def test_whitespace_is_trimmed_and_collapsed_but_zwnj_is_kept() -> None:
    assert normalize_persian("  علی   \t رضایی\n") == "علی رضایی"
    assert normalize_persian(f"می{ZWNJ}خواهم") == f"می{ZWNJ}خواهم"
    assert normalize_persian("\u00a0اضافه" + ZWNJ + "کاری\u00a0") == f"اضافه{ZWNJ}کاری"
    assert normalize_persian("   ") == ""


def test_normalize_persian_leaves_digits_alone() -> None:
    assert normalize_persian("پلاک ۱۲") == "پلاک ۱۲"


@given(st.text())
def test_normalize_persian_is_idempotent(s: str) -> None:
    once = normalize_persian(s)
    assert normalize_persian(once) == once
    assert "ي" not in once and "ك" not in once


# ------------------------------------------------------------------ national ID

VALID_ID = make_national_id("001234567")


def test_make_national_id_appends_the_check_digit() -> None:
    # s = 0·10 + 0·9 + 1·8 + 2·7 + 3·6 + 4·5 + 5·4 + 6·3 + 7·2 = 112; r = 2; d9 = 11 - 2 = 9
    assert VALID_ID == "0012345679"
    assert national_id_check_digit("001234567") == 9
    # s = 5·3 = 15; r = 4; d9 = 7. Persian digits are accepted in the prefix too.
    assert make_national_id("000000050") == "0000000507"
    assert make_national_id("۰۰۰۰۰۰۰۵۰") == "0000000507"


def test_check_digit_cases_around_two() -> None:
    # r = s mod 11; r < 2 → d9 = r; r >= 2 → d9 = 11 - r.
    assert national_id_check_digit("000000000") == 0  # s = 0, r = 0
    assert national_id_check_digit("100000001") == 1  # s = 12, r = 1
    assert national_id_check_digit("000000001") == 9  # s = 2, r = 2
    assert national_id_check_digit("000000010") == 8  # s = 3, r = 3


@pytest.mark.parametrize(
    "typed",
    [
        "0012345679",
        "۰۰۱۲۳۴۵۶۷۹",
        "۰۰۱-۲۳۴۵۶۷-۹",
        "٠٠١-٢٣٤٥٦٧-٩",
        " 001 234567 9 ",
        "001–234567–9",  # en dashes from a word processor
        "\u200e0012345679\u200f",  # direction marks from copy and paste
    ],
)
def test_national_id_as_typed_is_normalised(typed: str) -> None:
    assert normalize_national_id(typed) == "0012345679"
    assert is_valid_national_id(typed)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("0000000000", "national_id_repeated"),
        ("1111111111", "national_id_repeated"),
        ("۵۵۵۵۵۵۵۵۵۵", "national_id_repeated"),
        ("0012345678", "national_id_checksum"),
        ("012345679", "national_id_length"),  # leading zero dropped: not padded back
        ("00123456790", "national_id_length"),
        ("", "national_id_format"),
        ("001234567x", "national_id_format"),
        ("00123.45679", "national_id_format"),
        ("¹012345679", "national_id_format"),  # superscript one is a "digit" to str.isdigit
    ],
)
def test_invalid_national_ids(typed: str, reason: str) -> None:
    with pytest.raises(ValueError, match=f"^{reason}$"):
        normalize_national_id(typed)
    assert not is_valid_national_id(typed)


@pytest.mark.parametrize("prefix", ["12345678", "1234567890", "12345678a", "000000000"])
def test_make_national_id_refuses_bad_prefixes(prefix: str) -> None:
    with pytest.raises(ValueError, match=r"^national_id_(prefix|repeated)$"):
        make_national_id(prefix)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda p: len(set(p)) > 1))
def test_every_made_id_is_valid_and_every_other_check_digit_is_not(prefix: str) -> None:
    national_id = make_national_id(prefix)
    assert is_valid_national_id(national_id)
    assert is_valid_national_id(fa_digits(f"{national_id[:3]}-{national_id[3:]}"))
    for digit in "0123456789":
        if digit != national_id[9]:
            assert not is_valid_national_id(prefix + digit)


# ------------------------------------------------------------------ mobile


@pytest.mark.parametrize(
    "typed",
    [
        "09121234567",
        "+989121234567",
        "00989121234567",
        "989121234567",
        "9121234567",
        "۰۹۱۲۱۲۳۴۵۶۷",
        "٠٩١٢١٢٣٤٥٦٧",
        "0912 123 4567",
        "0912-123-4567",
        "+98 912 123 4567",
        "(0912) 123-45-67",
        "+۹۸۹۱۲۱۲۳۴۵۶۷",
        " 0912 1234567\n",
    ],
)
def test_mobile_forms_become_canonical(typed: str) -> None:
    assert normalize_mobile(typed) == "09121234567"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "02112345678",  # a Tehran landline
        "0912123456",  # one digit short
        "091212345678",  # one digit long
        "+19121234567",  # not Iran
        "+9809121234567",  # trunk zero after the country code
        "98912123456",
        "0912123456a",
        "0912+1234567",
        "++989121234567",
    ],
)
def test_invalid_mobiles(typed: str) -> None:
    with pytest.raises(ValueError, match=r"^mobile_invalid$"):
        normalize_mobile(typed)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_every_mobile_form_gives_the_same_canonical_number(rest: str) -> None:
    nsn = "9" + rest
    canonical = "0" + nsn
    for form in (canonical, "+98" + nsn, "0098" + nsn, "98" + nsn, nsn):
        assert normalize_mobile(form) == canonical
        assert normalize_mobile(fa_digits(form)) == canonical


# ------------------------------------------------------------------ one-time codes


@pytest.mark.parametrize("typed", ["123456", "۱۲۳۴۵۶", "123 456", " ١٢٣ ٤٥٦ ", "\u200f123456"])
def test_otp_as_typed(typed: str) -> None:
    assert normalize_otp(typed) == "123456"


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "12a456", "123-456", "١٢٣٤٥"])
def test_invalid_otp(typed: str) -> None:
    with pytest.raises(ValueError, match=r"^otp_format$"):
        normalize_otp(typed)


# ------------------------------------------------------------------ rials


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("0", 0),
        ("1500000", 1_500_000),
        ("1,500,000", 1_500_000),
        ("۱٬۵۰۰٬۰۰۰", 1_500_000),
        ("۱،۵۰۰،۰۰۰", 1_500_000),
        ("١٥٠٠٠٠٠", 1_500_000),
        ("1 500 000", 1_500_000),
        ("1\u202f500\u00a0000", 1_500_000),
        (" 250,000,000 ", 250_000_000),
        ("007", 7),
        ("9223372036854775807", 2**63 - 1),
    ],
)
def test_rials_as_typed(typed: str, amount: int) -> None:
    parsed = parse_rials(typed)
    assert parsed == amount
    assert type(parsed) is int


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "rials_empty"),
        (" , ", "rials_empty"),
        ("-5", "rials_format"),
        ("+5", "rials_format"),
        ("1.5", "rials_format"),
        ("1500000.00", "rials_format"),
        ("۱٫۵", "rials_format"),  # Arabic decimal separator
        ("1e6", "rials_format"),
        ("۱۵۰۰ ریال", "rials_format"),
        ("nan", "rials_format"),
        ("9223372036854775808", "rials_too_large"),
        ("1" * 5000, "rials_too_large"),
    ],
)
def test_invalid_rials(typed: str, reason: str) -> None:
    with pytest.raises(ValueError, match=f"^{reason}$"):
        parse_rials(typed)


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=2**63 - 1), st.sampled_from([",", "٬", "،", " "]))
def test_formatted_amounts_parse_back(amount: int, separator: str) -> None:
    grouped = f"{amount:,}".replace(",", separator)
    assert parse_rials(grouped) == amount
    assert parse_rials(fa_digits(grouped)) == amount


@pytest.mark.parametrize(
    "bad", ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x7f", "\x85", "\x9f", "\ud800"]
)
def test_control_characters_are_found_and_stripped(bad: str) -> None:
    from hearing_server.text import control_character, strip_control_characters

    assert control_character(f"ab{bad}c") == bad
    assert strip_control_characters(f"a{bad}b{bad}") == "ab"
    assert control_character(normalize_persian(f"علی{bad}رضایی {bad}")) is None


def test_tab_and_line_breaks_are_not_control_characters_to_refuse() -> None:
    from hearing_server.text import control_character

    assert control_character("سطر\r\n\tدوم\u200cها") is None
