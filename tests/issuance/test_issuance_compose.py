"""A claim without a title of its own is named in the ruling by its kind, translated from
the claim labels of the cases part into the ruling's language."""

from __future__ import annotations

import pytest

from hearing_server.cases.models import Claim, ClaimKind
from hearing_server.cases.presentation import CLAIM_LABELS
from hearing_server.issuance.compose import RULING_LOCALE, claim_title

# The Persian names rulings have always printed for each kind: the ruling text must not move.
PRINTED_FA = {
    ClaimKind.UNPAID_WAGES: "مطالبات مزد معوق",
    ClaimKind.OVERTIME: "اضافه\u200cکاری",
    ClaimKind.SEVERANCE: "حق سنوات",
    ClaimKind.ANNUAL_LEAVE: "مرخصی استحقاقی",
    ClaimKind.YEAR_END_BONUS: "عیدی و پاداش",
    ClaimKind.REINSTATEMENT: "اخراج غیرقانونی / بازگشت به کار",
    ClaimKind.INSURANCE: "حق بیمه",
    ClaimKind.OTHER: "سایر خواسته\u200cها",
}


@pytest.mark.parametrize("kind", list(ClaimKind))
def test_an_untitled_claim_is_named_by_its_kind_in_the_persian_ruling(kind: ClaimKind) -> None:
    claim = Claim(position=1, kind=kind, title=None)
    assert RULING_LOCALE == "fa"
    assert claim_title(claim) == PRINTED_FA[kind]
    assert claim_title(claim, "fa") == PRINTED_FA[kind]


def test_an_untitled_claim_is_named_in_english_from_the_same_label() -> None:
    claim = Claim(position=1, kind=ClaimKind.OVERTIME, title=None)
    assert claim_title(claim, "en") == CLAIM_LABELS[ClaimKind.OVERTIME] == "Overtime"


def test_a_claim_s_own_title_is_kept_as_written() -> None:
    claim = Claim(position=1, kind=ClaimKind.OTHER, title="هزینه‌ی ایاب و ذهاب")
    assert claim_title(claim) == "هزینه‌ی ایاب و ذهاب"
    assert claim_title(claim, "en") == "هزینه‌ی ایاب و ذهاب"
