"""Named examples of the statutory voting rules (DESIGN.md §3 and §6)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from hearing_server.law.rules import (
    BoardRules,
    BoardType,
    Choice,
    NoMajorityOutcome,
    Outcome,
    SeatGroup,
    ThresholdKind,
    TieRule,
    default_rules,
    quorum_status,
    tally,
)

G, W, E = SeatGroup.GOVERNMENT, SeatGroup.WORKER, SeatGroup.EMPLOYER
FOR, AGAINST, ABSTAIN = Choice.FOR, Choice.AGAINST, Choice.ABSTAIN

# The diagnosis board: the ministry representative (chair), the workers' and the
# employers' representative.
DIAGNOSIS_PANEL = {"ministry": G, "worker_rep": W, "employer_rep": E}
# The settlement board: three members per group; "gov1" chairs.
SETTLEMENT_PANEL = {f"{g.value[:3]}{i}": g for g in (G, W, E) for i in (1, 2, 3)}


def diagnosis(**changes: Any) -> BoardRules:
    return BoardRules.from_dict({**default_rules(BoardType.DIAGNOSIS).to_dict(), **changes})


def settlement(**changes: Any) -> BoardRules:
    return BoardRules.from_dict({**default_rules(BoardType.SETTLEMENT).to_dict(), **changes})


def settlement_present(n: int) -> dict[str, SeatGroup]:
    return dict(list(SETTLEMENT_PANEL.items())[:n])


def ballots_for(members: list[str], *choices: tuple[Choice, int]) -> dict[str, Choice]:
    """Give the first members the choices in order, e.g. (FOR, 5), (AGAINST, 2)."""
    out: dict[str, Choice] = {}
    it = iter(members)
    for choice, count in choices:
        for _ in range(count):
            out[next(it)] = choice
    return out


# ------------------------------------------------------------------ defaults


def test_diagnosis_defaults_follow_the_labour_code() -> None:
    rules = default_rules(BoardType.DIAGNOSIS)
    assert dict(rules.seats) == {W: 1, E: 1, G: 1}
    assert rules.total_seats == 3
    assert rules.quorum == 3
    assert rules.threshold is ThresholdKind.SIMPLE_MAJORITY_OF_PRESENT
    assert rules.min_in_favour is None
    assert rules.quorum_per_group is None
    assert rules.tie_rule is TieRule.NO_MAJORITY
    assert rules.chair_group is G
    assert rules.objection_days == 15
    assert rules.ruling_deadline_days == 7
    assert rules.no_majority_outcome is NoMajorityOutcome.REHEARING


def test_settlement_defaults_follow_the_labour_code() -> None:
    rules = default_rules("settlement")
    assert dict(rules.seats) == {W: 3, E: 3, G: 3}
    assert rules.total_seats == 9
    assert rules.quorum == 7
    assert rules.threshold is ThresholdKind.MIN_VOTES_IN_FAVOUR
    assert rules.min_in_favour == 5
    assert rules.objection_days is None  # final on issue
    assert rules.ruling_deadline_days == 7


def test_unknown_board_type_is_refused() -> None:
    with pytest.raises(ValueError, match="board_type"):
        default_rules("arbitration")


@pytest.mark.parametrize("board_type", list(BoardType))
def test_rules_round_trip_through_json(board_type: BoardType) -> None:
    rules = default_rules(board_type)
    data = json.loads(json.dumps(rules.to_dict()))
    assert BoardRules.from_dict(data) == rules
    assert BoardRules.from_dict(data).to_dict() == rules.to_dict()
    assert hash(BoardRules.from_dict(data)) == hash(rules)


def test_custom_rules_round_trip() -> None:
    rules = settlement(quorum_per_group={"government": 1}, tie_rule="chair_casting")
    assert rules.tie_rule is TieRule.CHAIR_CASTING
    assert rules.quorum_per_group == {W: 0, E: 0, G: 1}
    assert BoardRules.from_dict(json.loads(json.dumps(rules.to_dict()))) == rules


def test_rules_are_read_only() -> None:
    rules = default_rules(BoardType.DIAGNOSIS)
    with pytest.raises(TypeError):
        rules.seats[W] = 5  # type: ignore[index]


# ------------------------------------------------------------ from_dict validation


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"quorum": 10}, "quorum: 10 is more than the 9 seats"),
        ({"quorum": 0}, "quorum: must be at least 1"),
        ({"quorum": True}, "quorum: expected a whole number"),
        ({"quorum": 7.0}, "quorum: expected a whole number"),
        ({"min_in_favour": 8}, "min_in_favour: 8 votes can never be reached by a quorum of 7"),
        ({"min_in_favour": 4}, "would let a motion and its opposite both pass"),
        ({"min_in_favour": None}, "min_in_favour: required"),
        ({"threshold": "unanimity"}, "threshold: 'unanimity' is not one of"),
        ({"tie_rule": "coin_toss"}, "tie_rule"),
        ({"chair_group": "judge"}, "chair_group"),
        ({"seats": {"worker": 3, "employer": 3, "government": -1}}, "seats.government"),
        ({"seats": {"worker": 3, "employer": 3, "judges": 3}}, "unknown seat group 'judges'"),
        ({"seats": [3, 3, 3]}, "seats: expected a mapping"),
        ({"seats": {}}, "quorum: 7 is more than the 0 seats|at least one seat"),
        ({"quorum_per_group": {"government": 4}}, "quorum_per_group.government: 4 is more"),
        ({"objection_days": 0}, "objection_days"),
        ({"ruling_deadline_days": -7}, "ruling_deadline_days"),
        ({"no_majority_outcome": "coin_toss"}, "no_majority_outcome"),
        ({"colour": "blue"}, "unknown keys colour"),
    ],
)
def test_from_dict_refuses_nonsense(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settlement(**changes)


def test_from_dict_refuses_min_in_favour_with_simple_majority() -> None:
    with pytest.raises(ValueError, match="only used with threshold min_votes_in_favour"):
        diagnosis(min_in_favour=2)


def test_from_dict_refuses_a_chair_group_without_seats() -> None:
    with pytest.raises(ValueError, match="chair_group: the board has no government seat"):
        diagnosis(seats={"worker": 2, "employer": 1}, quorum=3)


def test_from_dict_needs_the_essential_keys() -> None:
    with pytest.raises(ValueError, match="missing keys quorum, threshold"):
        BoardRules.from_dict({"seats": {"worker": 1}})


def test_from_dict_needs_a_mapping() -> None:
    with pytest.raises(ValueError, match="expected a mapping"):
        BoardRules.from_dict(["seats"])  # type: ignore[arg-type]


# ------------------------------------------------------------- diagnosis board


def test_diagnosis_all_present_two_to_one_passes() -> None:
    result = tally(
        default_rules(BoardType.DIAGNOSIS),
        present=DIAGNOSIS_PANEL,
        ballots={"ministry": FOR, "worker_rep": FOR, "employer_rep": AGAINST},
        chair_id="ministry",
    )
    assert result.outcome is Outcome.PASSED
    assert result.reason == "threshold_met"
    assert (result.votes_for, result.votes_against, result.abstentions) == (2, 1, 0)
    assert (result.present, result.eligible, result.not_voted) == (3, 3, 0)
    assert result.votes_needed == 2
    assert not result.rehearing_required


def test_diagnosis_two_to_one_against_fails() -> None:
    result = tally(
        default_rules(BoardType.DIAGNOSIS),
        present=DIAGNOSIS_PANEL,
        ballots={"ministry": AGAINST, "worker_rep": FOR, "employer_rep": AGAINST},
    )
    assert result.outcome is Outcome.FAILED
    assert result.reason == "rejected"


def test_diagnosis_with_two_present_has_no_quorum() -> None:
    result = tally(
        default_rules(BoardType.DIAGNOSIS),
        present={"ministry": G, "worker_rep": W},
        ballots={"ministry": FOR, "worker_rep": FOR},
    )
    assert result.outcome is Outcome.NO_QUORUM
    assert result.reason == "quorum_not_met"
    assert result.quorum.missing == 1
    assert result.quorum.groups[E].present == 0
    assert not result.rehearing_required


def test_diagnosis_one_for_one_against_one_abstaining_is_a_tie() -> None:
    result = tally(
        default_rules(BoardType.DIAGNOSIS),
        present=DIAGNOSIS_PANEL,
        ballots={"ministry": ABSTAIN, "worker_rep": FOR, "employer_rep": AGAINST},
    )
    assert result.outcome is Outcome.NO_MAJORITY
    assert result.reason == "tie"
    assert result.rehearing_required


def test_diagnosis_abstentions_prevent_a_majority() -> None:
    result = tally(
        default_rules(BoardType.DIAGNOSIS),
        present=DIAGNOSIS_PANEL,
        ballots={"ministry": FOR, "worker_rep": ABSTAIN, "employer_rep": ABSTAIN},
    )
    assert result.outcome is Outcome.NO_MAJORITY
    assert result.reason == "no_majority"


def test_diagnosis_a_member_who_did_not_vote_counts_as_present_not_in_favour() -> None:
    result = tally(
        default_rules(BoardType.DIAGNOSIS),
        present=DIAGNOSIS_PANEL,
        ballots={"ministry": FOR, "worker_rep": AGAINST},
    )
    assert result.outcome is Outcome.NO_MAJORITY
    assert result.reason == "tie"
    assert result.not_voted == 1


def test_diagnosis_recusal_without_an_alternate_leaves_no_quorum() -> None:
    # The employers' representative stands aside; the two others split 1-1. A recused
    # member does not count toward the quorum, so this is no quorum, not a tie.
    result = tally(
        default_rules(BoardType.DIAGNOSIS),
        present=DIAGNOSIS_PANEL,
        recused={"employer_rep"},
        ballots={"ministry": FOR, "worker_rep": AGAINST},
    )
    assert result.outcome is Outcome.NO_QUORUM
    assert result.reason == "quorum_not_met"
    assert (result.present, result.recused, result.eligible) == (3, 1, 2)


def test_diagnosis_tie_with_a_recusal_and_an_alternate_sitting_in() -> None:
    # The employers' alternate takes the recused member's seat for this motion.
    present = {**DIAGNOSIS_PANEL, "employer_alternate": E}
    result = tally(
        default_rules(BoardType.DIAGNOSIS),
        present=present,
        recused=["employer_rep"],
        ballots={"ministry": ABSTAIN, "worker_rep": FOR, "employer_alternate": AGAINST},
        chair_id="ministry",
    )
    assert result.outcome is Outcome.NO_MAJORITY
    assert result.reason == "tie"
    assert (result.present, result.recused, result.eligible) == (4, 1, 3)


def test_diagnosis_tie_with_a_recusal_under_a_reduced_quorum() -> None:
    # A board configured to sit with two members: the recusal leaves a 1-1 tie.
    rules = diagnosis(quorum=2)
    result = tally(
        rules,
        present=DIAGNOSIS_PANEL,
        recused={"ministry"},
        ballots={"worker_rep": FOR, "employer_rep": AGAINST},
    )
    assert result.outcome is Outcome.NO_MAJORITY
    assert result.reason == "tie"
    assert result.votes_needed == 2


def test_a_recused_member_who_is_absent_is_ignored() -> None:
    result = tally(
        default_rules(BoardType.DIAGNOSIS),
        present=DIAGNOSIS_PANEL,
        recused={"someone_else"},
        ballots={"ministry": FOR, "worker_rep": FOR, "employer_rep": FOR},
    )
    assert result.outcome is Outcome.PASSED
    assert result.recused == 0


# ------------------------------------------------------------- chair casting vote


@pytest.mark.parametrize(
    ("chair_choice", "other_choice", "outcome"),
    [(FOR, AGAINST, Outcome.PASSED), (AGAINST, FOR, Outcome.FAILED)],
)
def test_diagnosis_chair_casting_vote_when_configured(
    chair_choice: Choice, other_choice: Choice, outcome: Outcome
) -> None:
    rules = diagnosis(tie_rule="chair_casting")
    ballots = {"ministry": chair_choice, "worker_rep": other_choice, "employer_rep": ABSTAIN}
    result = tally(rules, present=DIAGNOSIS_PANEL, ballots=ballots, chair_id="ministry")
    assert result.outcome is outcome
    assert result.reason == "chair_casting_vote"
    assert result.chair_casting_vote is chair_choice
    assert (result.votes_for, result.votes_against) == (1, 1)  # real ballots only
    assert "casting vote" in result.explain("en")
    assert "رأی مرجّح" in result.explain("fa")


def test_casting_vote_needs_the_chair_id() -> None:
    rules = diagnosis(tie_rule="chair_casting")
    ballots = {"ministry": FOR, "worker_rep": AGAINST, "employer_rep": ABSTAIN}
    result = tally(rules, present=DIAGNOSIS_PANEL, ballots=ballots)
    assert result.outcome is Outcome.NO_MAJORITY
    assert result.reason == "tie"


def test_abstaining_chair_breaks_no_tie() -> None:
    rules = diagnosis(tie_rule="chair_casting")
    result = tally(
        rules,
        present=DIAGNOSIS_PANEL,
        ballots={"ministry": ABSTAIN, "worker_rep": FOR, "employer_rep": AGAINST},
        chair_id="ministry",
    )
    assert result.outcome is Outcome.NO_MAJORITY
    assert result.reason == "tie"
    assert result.chair_casting_vote is None


def test_without_the_option_the_chair_breaks_no_tie() -> None:
    result = tally(
        default_rules(BoardType.DIAGNOSIS),
        present=DIAGNOSIS_PANEL,
        ballots={"ministry": FOR, "worker_rep": AGAINST, "employer_rep": ABSTAIN},
        chair_id="ministry",
    )
    assert result.outcome is Outcome.NO_MAJORITY
    assert result.reason == "tie"


def test_settlement_casting_vote_counts_towards_the_five() -> None:
    rules = settlement(tie_rule="chair_casting")
    members = list(SETTLEMENT_PANEL)  # gov1 first: the chair
    four_four = ballots_for(members, (FOR, 4), (AGAINST, 4), (ABSTAIN, 1))
    result = tally(rules, present=SETTLEMENT_PANEL, ballots=four_four, chair_id="gov1")
    assert result.outcome is Outcome.PASSED
    assert result.reason == "chair_casting_vote"
    # 3-3 with three abstentions: the casting vote makes only 4 of the 5 needed.
    three_three = ballots_for(members, (FOR, 3), (AGAINST, 3), (ABSTAIN, 3))
    result = tally(rules, present=SETTLEMENT_PANEL, ballots=three_three, chair_id="gov1")
    assert result.outcome is Outcome.NO_MAJORITY
    assert result.reason == "tie"


def test_chair_must_hold_a_seat_of_the_chair_group() -> None:
    with pytest.raises(ValueError, match="chair_not_in_chair_group"):
        tally(
            default_rules(BoardType.DIAGNOSIS),
            present=DIAGNOSIS_PANEL,
            ballots={},
            chair_id="worker_rep",
        )


# ------------------------------------------------------------- settlement board


def test_settlement_seven_present_five_for_passes() -> None:
    present = settlement_present(7)
    ballots = ballots_for(list(present), (FOR, 5), (AGAINST, 2))
    result = tally(default_rules(BoardType.SETTLEMENT), present=present, ballots=ballots)
    assert result.outcome is Outcome.PASSED
    assert result.reason == "threshold_met"
    assert result.votes_needed == 5


def test_settlement_seven_present_four_for_three_against_has_no_majority() -> None:
    present = settlement_present(7)
    ballots = ballots_for(list(present), (FOR, 4), (AGAINST, 3))
    result = tally(default_rules(BoardType.SETTLEMENT), present=present, ballots=ballots)
    assert result.outcome is Outcome.NO_MAJORITY
    assert result.reason == "no_majority"
    assert result.rehearing_required


def test_settlement_nine_present_five_against_fails() -> None:
    ballots = ballots_for(list(SETTLEMENT_PANEL), (AGAINST, 5), (FOR, 4))
    result = tally(default_rules(BoardType.SETTLEMENT), present=SETTLEMENT_PANEL, ballots=ballots)
    assert result.outcome is Outcome.FAILED
    assert result.reason == "rejected"


def test_settlement_four_against_is_not_a_rejection() -> None:
    ballots = ballots_for(list(SETTLEMENT_PANEL), (AGAINST, 4), (FOR, 4), (ABSTAIN, 1))
    result = tally(default_rules(BoardType.SETTLEMENT), present=SETTLEMENT_PANEL, ballots=ballots)
    assert result.outcome is Outcome.NO_MAJORITY
    assert result.reason == "tie"


def test_settlement_six_present_has_no_quorum_even_if_unanimous() -> None:
    present = settlement_present(6)
    ballots = dict.fromkeys(present, FOR)
    result = tally(default_rules(BoardType.SETTLEMENT), present=present, ballots=ballots)
    assert result.outcome is Outcome.NO_QUORUM
    assert result.reason == "quorum_not_met"


def test_settlement_recusals_can_break_the_quorum() -> None:
    present = settlement_present(8)
    result = tally(
        default_rules(BoardType.SETTLEMENT),
        present=present,
        recused={"gov1", "wor1"},
        ballots=ballots_for([m for m in present if m not in {"gov1", "wor1"}], (FOR, 6)),
    )
    assert result.outcome is Outcome.NO_QUORUM
    assert (result.present, result.recused, result.eligible) == (8, 2, 6)


def test_settlement_per_group_quorum_when_configured() -> None:
    rules = settlement(quorum=6, quorum_per_group={"government": 1})
    present = {m: g for m, g in SETTLEMENT_PANEL.items() if g is not G}
    present["gov1"] = G
    ballots = dict.fromkeys(present, FOR)
    assert tally(rules, present=present, ballots=ballots).outcome is Outcome.PASSED
    result = tally(
        rules, present=present, recused={"gov1"}, ballots=dict.fromkeys(list(present)[:6], FOR)
    )
    assert result.outcome is Outcome.NO_QUORUM
    assert result.reason == "group_quorum_not_met"
    assert result.quorum.groups_short == (G,)


# ------------------------------------------------------------- refused inputs


def test_a_ballot_from_an_absent_member_is_refused() -> None:
    with pytest.raises(ValueError, match="ballot_from_absent_member"):
        tally(
            default_rules(BoardType.DIAGNOSIS),
            present={"ministry": G, "worker_rep": W},
            ballots={"employer_rep": FOR},
        )


def test_a_ballot_from_a_recused_member_is_refused() -> None:
    with pytest.raises(ValueError, match="ballot_from_recused_member"):
        tally(
            default_rules(BoardType.DIAGNOSIS),
            present=DIAGNOSIS_PANEL,
            recused={"worker_rep"},
            ballots={"worker_rep": FOR},
        )


def test_more_members_than_seats_is_refused() -> None:
    with pytest.raises(ValueError, match=r"present_by_group\.employer: 2 present for 1 seats"):
        tally(
            default_rules(BoardType.DIAGNOSIS),
            present={**DIAGNOSIS_PANEL, "employer_alternate": E},
            ballots={},
        )


def test_an_unknown_choice_is_refused() -> None:
    with pytest.raises(ValueError, match="ballots"):
        tally(
            default_rules(BoardType.DIAGNOSIS),
            present=DIAGNOSIS_PANEL,
            ballots={"ministry": "maybe"},  # type: ignore[dict-item]
        )


def test_plain_strings_are_accepted_for_groups_and_choices() -> None:
    result = tally(
        default_rules("diagnosis"),
        present={1: "government", 2: "worker", 3: "employer"},  # type: ignore[dict-item]
        ballots={1: "for", 2: "for", 3: "abstain"},  # type: ignore[dict-item]
    )
    assert result.outcome is Outcome.PASSED


# ------------------------------------------------------------- quorum status


def test_quorum_status_for_the_live_room() -> None:
    rules = default_rules(BoardType.SETTLEMENT)
    status = quorum_status(rules, {G: 1, W: 3, E: 2})
    assert not status.met
    assert (status.present, status.required, status.missing) == (6, 7, 1)
    assert status.groups[G].present == 1
    assert status.groups[G].seats == 3
    assert status.groups_short == ()
    assert quorum_status(rules, {G: 3, W: 3, E: 1}).met


def test_quorum_status_counts_group_minimums_in_the_missing_members() -> None:
    rules = settlement(quorum_per_group={"government": 2})
    status = quorum_status(rules, {W: 3, E: 3})
    assert not status.met
    assert status.missing == 2  # one more would reach 7, but two must be government
    assert status.groups_short == (G,)
    assert status.to_dict()["groups"]["government"] == {
        "present": 0,
        "seats": 3,
        "required": 2,
        "met": False,
    }


def test_quorum_status_refuses_impossible_counts() -> None:
    rules = default_rules(BoardType.DIAGNOSIS)
    with pytest.raises(ValueError, match=r"present_by_group\.worker"):
        quorum_status(rules, {W: 2})
    with pytest.raises(ValueError, match=r"present_by_group\.worker"):
        quorum_status(rules, {W: -1})


# ------------------------------------------------------------- explanations


def test_explanations_in_both_languages() -> None:
    ballots = ballots_for(list(SETTLEMENT_PANEL), (FOR, 4), (AGAINST, 3), (ABSTAIN, 2))
    result = tally(default_rules(BoardType.SETTLEMENT), present=SETTLEMENT_PANEL, ballots=ballots)
    en = result.explain("en")
    assert en.startswith("No majority: 4 for, 3 against, 2 abstaining")
    assert "reheard" in en
    fa = result.explain("fa-IR")
    assert fa.startswith("اکثریت حاصل نشد")
    assert "۴ موافق" in fa
    assert not re.search(r"[0-9]", fa)
    with pytest.raises(ValueError, match="locale"):
        result.explain("de")


@pytest.mark.parametrize(
    ("recused", "ballots", "tie_rule", "reason"),
    [
        (set(), {"ministry": FOR, "worker_rep": FOR}, "no_majority", "threshold_met"),
        (set(), {"ministry": AGAINST, "worker_rep": AGAINST}, "no_majority", "rejected"),
        (set(), {"ministry": FOR, "worker_rep": AGAINST}, "no_majority", "tie"),
        (set(), {"ministry": FOR}, "no_majority", "no_majority"),
        ({"worker_rep"}, {}, "no_majority", "quorum_not_met"),
        (set(), {"ministry": FOR, "worker_rep": AGAINST}, "chair_casting", "chair_casting_vote"),
    ],
)
def test_every_reason_has_an_explanation(
    recused: set[str], ballots: dict[str, Choice], tie_rule: str, reason: str
) -> None:
    result = tally(
        diagnosis(tie_rule=tie_rule),
        present=DIAGNOSIS_PANEL,
        recused=recused,
        ballots=ballots,
        chair_id="ministry",
    )
    assert result.reason == reason
    assert result.explain("en")
    assert not re.search(r"[0-9]", result.explain("fa"))
    assert json.loads(json.dumps(result.to_dict()))["reason"] == reason


def test_group_quorum_explanation_names_the_group() -> None:
    rules = settlement(quorum_per_group={"government": 1})
    present = {m: g for m, g in SETTLEMENT_PANEL.items() if g is not G}
    result = tally(rules, present=present, ballots={})
    assert result.reason == "quorum_not_met"  # 6 < 7 comes first
    present["gov1"] = G
    present.pop("wor1")
    present["gov2"] = G
    result = tally(rules, present=present, recused={"gov1", "gov2"}, ballots={})
    assert result.reason == "quorum_not_met"
    rules = settlement(quorum=6, min_in_favour=5, quorum_per_group={"government": 1})
    present = {m: g for m, g in SETTLEMENT_PANEL.items() if g is not G}
    result = tally(rules, present=present, ballots={})
    assert result.reason == "group_quorum_not_met"
    assert "government 0 of 1" in result.explain("en")
    assert "نمایندگان دولت ۰ از ۱" in result.explain("fa")
