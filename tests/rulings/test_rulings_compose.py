import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from rulings.compose import (
    Claim,
    CompositionError,
    Decision,
    Member,
    MemberVote,
    MinutesContent,
    RulingContent,
    SeatGroup,
    Vote,
    compose_ruling,
)


def test_totals_are_itemised_and_summed(ruling_fa: RulingContent) -> None:
    assert [c.awarded_rials for c in ruling_fa.claims] == [12_500_000, 20_000_000, None]
    assert [c.key for c in ruling_fa.awarded_claims] == ["1", "2"]
    assert ruling_fa.total_awarded_rials == 32_500_000
    assert ruling_fa.total_claimed_rials == 47_500_000
    assert not ruling_fa.rehearing_needed


def test_objection_notice_for_a_diagnosis_board(
    ruling_fa: RulingContent, ruling_en: RulingContent
) -> None:
    assert "۱۵ روز" in ruling_fa.objection_notice
    assert "هیأت حل اختلاف" in ruling_fa.objection_notice
    assert "within 15 days of notification" in ruling_en.objection_notice


def test_final_on_issue_when_no_objection_window(
    ruling_factory: Callable[..., RulingContent],
) -> None:
    base = ruling_factory("en")
    final = compose_ruling(
        board=base.board,
        ruling_number=base.ruling_number,
        issued_at=base.issued_at,
        case_number=base.case_number,
        parties=base.parties,
        claims=base.claims,
        members=base.members,
        objection_days=None,
        audit_chain_head=base.audit_chain_head,
        verification_code=base.verification_code,
        verification_url=base.verification_url,
        locale="en",
    )
    assert final.is_final_on_issue
    assert final.objection_notice == "This ruling is final and enforceable on issue."


def test_json_round_trip_is_exact_and_canonical(ruling_fa: RulingContent) -> None:
    text = ruling_fa.to_json()
    again = RulingContent.from_json(text)
    assert again == ruling_fa
    assert again.to_json() == text
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["issued_at"] == "2026-11-28T08:30:00+00:00"
    assert "علی رضایی" in text  # stored as UTF-8 text, not \\u escapes


def test_minutes_round_trip(minutes_factory: Callable[..., MinutesContent]) -> None:
    minutes = minutes_factory("fa")
    assert MinutesContent.from_json(minutes.to_json()) == minutes
    with pytest.raises(CompositionError, match="not a 'ruling'"):
        RulingContent.from_json(minutes.to_json())


def test_vote_on_an_unknown_claim_is_refused(ruling_fa: RulingContent) -> None:
    stray = Member("X", SeatGroup.WORKER, False, (MemberVote("99", Vote.ACCEPT),))
    with pytest.raises(CompositionError, match="unknown claim"):
        _recompose(ruling_fa, members=(*ruling_fa.members, stray))


def test_award_on_a_rejected_claim_is_refused(ruling_fa: RulingContent) -> None:
    bad = replace(ruling_fa.claims[2], awarded_rials=1000)
    with pytest.raises(CompositionError, match="rejected"):
        _recompose(ruling_fa, claims=(*ruling_fa.claims[:2], bad))


def test_partial_award_above_the_claim_is_refused(ruling_fa: RulingContent) -> None:
    bad = replace(ruling_fa.claims[1], awarded_rials=40_000_000)
    with pytest.raises(CompositionError, match="exceeds"):
        _recompose(ruling_fa, claims=(ruling_fa.claims[0], bad, ruling_fa.claims[2]))


def test_naive_issue_time_is_refused(ruling_fa: RulingContent) -> None:
    with pytest.raises(CompositionError, match="aware"):
        _recompose(ruling_fa, issued_at=datetime(2026, 1, 1))  # noqa: DTZ001 - the point


def test_no_majority_claim_asks_for_a_rehearing(ruling_fa: RulingContent) -> None:
    undecided = Claim("1", "unpaid_wages", "مزد", 100, Decision.NO_MAJORITY, None, "-", "-")
    ruling = _recompose(ruling_fa, claims=(undecided, *ruling_fa.claims[1:]))
    assert ruling.rehearing_needed
    assert ruling.total_awarded_rials == 20_000_000


def test_issue_time_is_normalised_to_utc(ruling_fa: RulingContent) -> None:
    from zoneinfo import ZoneInfo

    tehran = datetime(2026, 11, 28, 12, 0, tzinfo=ZoneInfo("Asia/Tehran"))
    ruling = _recompose(ruling_fa, issued_at=tehran)
    assert ruling.issued_at.tzinfo is UTC
    assert ruling.issued_at == datetime(2026, 11, 28, 8, 30, tzinfo=UTC)


def _recompose(base: RulingContent, **changes: object) -> RulingContent:
    args: dict[str, object] = {
        "board": base.board,
        "ruling_number": base.ruling_number,
        "issued_at": base.issued_at,
        "case_number": base.case_number,
        "parties": base.parties,
        "claims": base.claims,
        "members": base.members,
        "minority_opinions": base.minority_opinions,
        "objection_days": base.objection_days,
        "audit_chain_head": base.audit_chain_head,
        "verification_code": base.verification_code,
        "verification_url": base.verification_url,
        "locale": base.locale,
    }
    args.update(changes)
    return compose_ruling(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize("locale", ["fa", "en"])
def test_the_sealed_audit_checkpoint_is_printed_and_kept(
    ruling_fa: RulingContent,
    minutes_factory: Callable[..., MinutesContent],
    pdftotext: str,
    locale: str,
) -> None:
    """A ruling and minutes name the audit chain's latest sealed checkpoint (seq and hash), so
    a reader can check the record up to there; documents composed before any checkpoint
    print none."""
    from rulings.render import render_pdf
    from tests.rulings.rulings_testkit import pdf_text

    head = "c0ffee" + "0" * 58
    ruling = replace(
        ruling_fa, locale=locale, audit_checkpoint_seq=4812, audit_checkpoint_hash=head
    )
    minutes = replace(
        minutes_factory(), locale=locale, audit_checkpoint_seq=4812, audit_checkpoint_hash=head
    )
    for content in (ruling, minutes):
        assert type(content).from_json(content.to_json()) == content
        text = pdf_text(pdftotext, render_pdf(content))
        assert head in text.replace(" ", "").replace("\n", "")
        assert ("۴۸۱۲" if locale == "fa" else "4812") in text
    none_yet = pdf_text(pdftotext, render_pdf(replace(ruling_fa, locale=locale)))
    assert head not in none_yet.replace(" ", "").replace("\n", "")
