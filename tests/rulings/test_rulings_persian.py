from datetime import UTC, date, datetime

import pytest

from rulings.persian import (
    amount_in_words,
    amount_in_words_en,
    amount_in_words_fa,
    fa_digits,
    format_rials,
    jalali_date,
    jalali_datetime,
)


def test_fa_digits_converts_latin_and_arabic_digits() -> None:
    assert fa_digits("1405-000123") == "۱۴۰۵-۰۰۰۱۲۳"
    assert fa_digits(42) == "۴۲"
    assert fa_digits("١٢٣") == "۱۲۳"


def test_fa_digits_leaves_the_digits_of_links_latin() -> None:
    text = "ورود: http://127.0.0.1:5102/hearings/12/room ساعت 10، www.example.ir/a/7. کد 3"
    assert fa_digits(text) == (
        "ورود: http://127.0.0.1:5102/hearings/12/room ساعت ۱۰، www.example.ir/a/7. کد ۳"
    )
    assert fa_digits("«https://heyat.ir/v/AB12»") == "«https://heyat.ir/v/AB12»"
    assert fa_digits("پرونده 12 (https://x.ir/c/12)") == "پرونده ۱۲ (https://x.ir/c/12)"


def test_jalali_date_in_both_locales() -> None:
    assert jalali_date(date(2026, 11, 28)) == "۰۷ آذر ۱۴۰۵"
    assert jalali_date(date(2026, 11, 28), "en") == "7 Azar 1405"


def test_aware_datetime_is_shown_as_tehran_local_date() -> None:
    # 21:00 UTC is 00:30 the next day in Tehran (UTC+03:30).
    late = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
    assert jalali_date(late, "en") == "8 Azar 1405"
    assert jalali_datetime(late, "en") == "8 Azar 1405, 00:30"
    assert jalali_datetime(late) == "۰۸ آذر ۱۴۰۵، ساعت ۰۰:۳۰"


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        jalali_date(datetime(2026, 11, 28, 12, 0))  # noqa: DTZ001 - the point of the test


def test_format_rials() -> None:
    assert format_rials(12_500_000) == "۱۲٬۵۰۰٬۰۰۰"
    assert format_rials(12_500_000, "en") == "12,500,000"
    assert format_rials(0, "en") == "0"


def test_amounts_in_words() -> None:
    assert amount_in_words_fa(12_500_000) == "دوازده میلیون و پانصد هزار"
    assert amount_in_words_en(12_500_000) == "twelve million five hundred thousand"
    assert amount_in_words_en(1_000_021) == "one million twenty-one"
    assert amount_in_words(0, "en") == "zero"
    with pytest.raises(ValueError):
        amount_in_words_fa(10**15)


def test_unknown_locale_is_refused() -> None:
    with pytest.raises(ValueError, match="locale"):
        format_rials(1, "de")  # type: ignore[arg-type]
