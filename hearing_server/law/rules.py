"""The statutory voting rules of the labour boards, as data, and the tally of one motion.

Pure: no database, no web framework. A tally explains itself in English msgids that the
catalogue (:mod:`hearing_server.i18n`) puts into Persian. The defaults encode the Labour
Code (arts. 157-166) as summarised in DESIGN.md §3; every number is configuration, so a
tribunal with other rules is a different :class:`BoardRules`, not different code.

Vocabulary used below:

* *present* — a panel member in the room when the vote is counted;
* *recused* — a present member who stands aside from this motion for a conflict of
  interest (استنکاف);
* *eligible* — present and not recused. Only eligible members may hold a ballot, and
  quorum and majorities are counted on eligible members.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from hearing_server.i18n import gettext, pgettext

__all__ = [
    "BoardRules",
    "BoardType",
    "Choice",
    "GroupPresence",
    "NoMajorityOutcome",
    "Outcome",
    "QuorumStatus",
    "SeatGroup",
    "Tally",
    "ThresholdKind",
    "TieRule",
    "default_rules",
    "quorum_status",
    "tally",
]


class BoardType(StrEnum):
    DIAGNOSIS = "diagnosis"  # هیأت تشخیص
    SETTLEMENT = "settlement"  # هیأت حل اختلاف


class SeatGroup(StrEnum):
    WORKER = "worker"
    EMPLOYER = "employer"
    GOVERNMENT = "government"


class ThresholdKind(StrEnum):
    # Passed when more than half of the eligible members vote for (diagnosis board).
    SIMPLE_MAJORITY_OF_PRESENT = "simple_majority_of_present"
    # Passed when at least ``min_in_favour`` members vote for (settlement board: 5).
    MIN_VOTES_IN_FAVOUR = "min_votes_in_favour"


class TieRule(StrEnum):
    NO_MAJORITY = "no_majority"  # a tie decides nothing: rehearing
    CHAIR_CASTING = "chair_casting"  # on a tie the chair's ballot counts twice


class NoMajorityOutcome(StrEnum):
    REHEARING = "rehearing"  # the motion fails and the case is scheduled again


class Choice(StrEnum):
    FOR = "for"
    AGAINST = "against"
    ABSTAIN = "abstain"  # present, counted in the quorum, not in favour


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NO_MAJORITY = "no_majority"
    NO_QUORUM = "no_quorum"


_GROUP_ORDER: tuple[SeatGroup, ...] = tuple(SeatGroup)


def _check_count(name: str, value: object, *, minimum: int = 0) -> int:
    # bool is an int subclass; True seats would be nonsense.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected a whole number, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: must be at least {minimum}, got {value}")
    return value


def _group_counts(name: str, raw: object) -> Mapping[SeatGroup, int]:
    """A read-only {group: count} with every group present (missing groups are 0)."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{name}: expected a mapping of seat group to count")
    counts = dict.fromkeys(_GROUP_ORDER, 0)
    for key, value in raw.items():
        try:
            group = SeatGroup(key)
        except ValueError:
            raise ValueError(f"{name}: unknown seat group {key!r}") from None
        counts[group] = _check_count(f"{name}.{group}", value)
    return MappingProxyType(counts)


E = TypeVar("E", bound=StrEnum)


def _enum_value(enum: type[E], name: str, value: object) -> E:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return enum(value)
    except ValueError:
        allowed = ", ".join(repr(e.value) for e in enum)
        raise ValueError(f"{name}: {value!r} is not one of {allowed}") from None


@dataclass(frozen=True)
class BoardRules:
    """Seats, quorum, threshold and deadlines of one board type.

    Every instance is valid: construction (and so :meth:`from_dict`) raises
    ``ValueError`` on rules that could not be applied, e.g. a quorum above the number of
    seats, a threshold no quorate board could reach, or a threshold low enough that a
    motion and its opposite could both pass.
    """

    seats: Mapping[SeatGroup, int] = field(hash=False)
    quorum: int
    threshold: ThresholdKind
    min_in_favour: int | None = None
    quorum_per_group: Mapping[SeatGroup, int] | None = field(default=None, hash=False)
    tie_rule: TieRule = TieRule.NO_MAJORITY
    chair_group: SeatGroup = SeatGroup.GOVERNMENT
    objection_days: int | None = None  # None: final and enforceable on issue
    ruling_deadline_days: int = 7
    no_majority_outcome: NoMajorityOutcome = NoMajorityOutcome.REHEARING

    def __post_init__(self) -> None:
        seats = _group_counts("seats", self.seats)
        total = sum(seats.values())
        if total < 1:
            raise ValueError("seats: a board needs at least one seat")
        quorum = _check_count("quorum", self.quorum, minimum=1)
        if quorum > total:
            raise ValueError(f"quorum: {quorum} is more than the {total} seats")
        per_group = None
        if self.quorum_per_group is not None:
            per_group = _group_counts("quorum_per_group", self.quorum_per_group)
            for group, minimum in per_group.items():
                if minimum > seats[group]:
                    raise ValueError(
                        f"quorum_per_group.{group}: {minimum} is more than the "
                        f"{seats[group]} {group} seats"
                    )
        threshold = _enum_value(ThresholdKind, "threshold", self.threshold)
        if threshold is ThresholdKind.MIN_VOTES_IN_FAVOUR:
            if self.min_in_favour is None:
                raise ValueError("min_in_favour: required with threshold min_votes_in_favour")
            need = _check_count("min_in_favour", self.min_in_favour, minimum=1)
            if need > quorum:
                raise ValueError(
                    f"min_in_favour: {need} votes can never be reached by a quorum of {quorum}"
                )
            if 2 * need <= total:
                raise ValueError(
                    f"min_in_favour: {need} of {total} seats would let a motion and its "
                    "opposite both pass"
                )
        elif self.min_in_favour is not None:
            raise ValueError("min_in_favour: only used with threshold min_votes_in_favour")
        chair_group = _enum_value(SeatGroup, "chair_group", self.chair_group)
        if seats[chair_group] == 0:
            raise ValueError(f"chair_group: the board has no {chair_group} seat")
        if self.objection_days is not None:
            _check_count("objection_days", self.objection_days, minimum=1)
        _check_count("ruling_deadline_days", self.ruling_deadline_days, minimum=1)

        # Normalised, read-only values; frozen dataclasses need object.__setattr__.
        object.__setattr__(self, "seats", seats)
        object.__setattr__(self, "quorum_per_group", per_group)
        object.__setattr__(self, "threshold", threshold)
        object.__setattr__(self, "tie_rule", _enum_value(TieRule, "tie_rule", self.tie_rule))
        object.__setattr__(self, "chair_group", chair_group)
        object.__setattr__(
            self,
            "no_majority_outcome",
            _enum_value(NoMajorityOutcome, "no_majority_outcome", self.no_majority_outcome),
        )

    @property
    def total_seats(self) -> int:
        return sum(self.seats.values())

    def votes_needed(self, eligible: int) -> int:
        """Votes one side needs to decide a motion with ``eligible`` members voting."""
        if self.threshold is ThresholdKind.SIMPLE_MAJORITY_OF_PRESENT:
            return eligible // 2 + 1
        if self.min_in_favour is None:  # unreachable: __post_init__ requires it
            raise RuntimeError("min_in_favour missing")
        return self.min_in_favour

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form; ``BoardRules.from_dict(rules.to_dict()) == rules``."""
        return {
            "seats": {str(g): n for g, n in self.seats.items()},
            "quorum": self.quorum,
            "quorum_per_group": (
                None
                if self.quorum_per_group is None
                else {str(g): n for g, n in self.quorum_per_group.items()}
            ),
            "threshold": str(self.threshold),
            "min_in_favour": self.min_in_favour,
            "tie_rule": str(self.tie_rule),
            "chair_group": str(self.chair_group),
            "objection_days": self.objection_days,
            "ruling_deadline_days": self.ruling_deadline_days,
            "no_majority_outcome": str(self.no_majority_outcome),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BoardRules:
        """Build and validate rules from :meth:`to_dict` output (e.g. a JSON column).

        ``seats``, ``quorum`` and ``threshold`` are required; the other keys default as
        in the constructor. Unknown keys and invalid values raise ``ValueError``.
        """
        if not isinstance(data, Mapping):
            raise ValueError("rules: expected a mapping")
        known = {
            "seats",
            "quorum",
            "quorum_per_group",
            "threshold",
            "min_in_favour",
            "tie_rule",
            "chair_group",
            "objection_days",
            "ruling_deadline_days",
            "no_majority_outcome",
        }
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise ValueError(f"rules: unknown keys {', '.join(unknown)}")
        missing = [k for k in ("seats", "quorum", "threshold") if k not in data]
        if missing:
            raise ValueError(f"rules: missing keys {', '.join(missing)}")
        return cls(**data)


def default_rules(board_type: BoardType | str) -> BoardRules:
    """The Labour Code defaults of DESIGN.md §3 for ``board_type``."""
    kind = _enum_value(BoardType, "board_type", board_type)
    if kind is BoardType.DIAGNOSIS:
        return BoardRules(
            seats={SeatGroup.WORKER: 1, SeatGroup.EMPLOYER: 1, SeatGroup.GOVERNMENT: 1},
            quorum=3,
            threshold=ThresholdKind.SIMPLE_MAJORITY_OF_PRESENT,
            chair_group=SeatGroup.GOVERNMENT,
            objection_days=15,
            ruling_deadline_days=7,
        )
    return BoardRules(
        seats={SeatGroup.WORKER: 3, SeatGroup.EMPLOYER: 3, SeatGroup.GOVERNMENT: 3},
        quorum=7,
        threshold=ThresholdKind.MIN_VOTES_IN_FAVOUR,
        min_in_favour=5,
        chair_group=SeatGroup.GOVERNMENT,
        objection_days=None,
        ruling_deadline_days=7,
    )


# --------------------------------------------------------------------------- quorum


@dataclass(frozen=True)
class GroupPresence:
    """Presence of one seat group: members present, seats, and the group's own minimum."""

    present: int
    seats: int
    required: int = 0

    @property
    def met(self) -> bool:
        return self.present >= self.required

    def to_dict(self) -> dict[str, Any]:
        return {
            "present": self.present,
            "seats": self.seats,
            "required": self.required,
            "met": self.met,
        }


@dataclass(frozen=True)
class QuorumStatus:
    """Whether a board is quorate, for the live room picture and scheduling forecasts.

    ``missing`` is the smallest number of further members whose arrival would make the
    board quorate, counting both the overall quorum and any per-group minimums.
    """

    met: bool
    present: int
    required: int
    missing: int
    groups: Mapping[SeatGroup, GroupPresence] = field(hash=False)

    @property
    def groups_short(self) -> tuple[SeatGroup, ...]:
        """Seat groups below their own minimum (always empty without per-group rules)."""
        return tuple(g for g, p in self.groups.items() if not p.met)

    def to_dict(self) -> dict[str, Any]:
        return {
            "met": self.met,
            "present": self.present,
            "required": self.required,
            "missing": self.missing,
            "groups": {str(g): p.to_dict() for g, p in self.groups.items()},
        }


def quorum_status(rules: BoardRules, present_by_group: Mapping[SeatGroup, int]) -> QuorumStatus:
    """Quorum of a board with ``present_by_group`` members present (and not recused).

    Groups left out count as 0 present. Raises ``ValueError`` when a group has more
    members present than seats, which means the caller counted the wrong people.
    """
    present = _group_counts("present_by_group", present_by_group)
    per_group = rules.quorum_per_group or {}
    groups: dict[SeatGroup, GroupPresence] = {}
    for group in _GROUP_ORDER:
        if present[group] > rules.seats[group]:
            raise ValueError(
                f"present_by_group.{group}: {present[group]} present for {rules.seats[group]} seats"
            )
        groups[group] = GroupPresence(
            present=present[group], seats=rules.seats[group], required=per_group.get(group, 0)
        )
    total = sum(present.values())
    group_shortfall = sum(max(0, p.required - p.present) for p in groups.values())
    missing = max(rules.quorum - total, group_shortfall, 0)
    return QuorumStatus(
        met=missing == 0,
        present=total,
        required=rules.quorum,
        missing=missing,
        groups=MappingProxyType(groups),
    )


# ---------------------------------------------------------------------------- tally


@dataclass(frozen=True)
class Tally:
    """The counted result of one motion under one board's rules.

    ``present`` counts members in the room including recused ones; ``eligible`` is
    ``present - recused`` and equals ``votes_for + votes_against + abstentions +
    not_voted``. ``reason`` is a stable code: ``quorum_not_met``,
    ``group_quorum_not_met``, ``threshold_met``, ``rejected``, ``chair_casting_vote``,
    ``tie`` or ``no_majority``. ``chair_casting_vote`` is the chair's choice when a
    casting vote decided a tie, else None.
    """

    outcome: Outcome
    reason: str
    votes_for: int
    votes_against: int
    abstentions: int
    not_voted: int
    present: int
    recused: int
    eligible: int
    votes_needed: int
    quorum: QuorumStatus
    chair_casting_vote: Choice | None = None

    @property
    def rehearing_required(self) -> bool:
        """Whether the case must be reheard at a new session (quorate but no majority)."""
        return self.outcome is Outcome.NO_MAJORITY

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": str(self.outcome),
            "reason": self.reason,
            "votes_for": self.votes_for,
            "votes_against": self.votes_against,
            "abstentions": self.abstentions,
            "not_voted": self.not_voted,
            "present": self.present,
            "recused": self.recused,
            "eligible": self.eligible,
            "votes_needed": self.votes_needed,
            "quorum": self.quorum.to_dict(),
            "chair_casting_vote": (
                None if self.chair_casting_vote is None else str(self.chair_casting_vote)
            ),
            "rehearing_required": self.rehearing_required,
        }

    def explain(self, locale: str) -> str:
        """One or two sentences for the minutes and the room, in ``fa`` or ``en``.

        Accepts tags such as ``fa-IR``; raises ``ValueError`` for other languages.
        """
        language = locale.replace("_", "-").split("-")[0].lower()
        if language not in ("fa", "en"):
            raise ValueError(f"locale: no explanation in {locale!r}")
        needed = self.votes_needed
        if self.reason == "quorum_not_met":
            return gettext(
                "No quorum: {eligible} members present and not recused, {required} required. The vote must be taken again when the board is quorate.",  # noqa: E501  # one-line msgid for scripts/po.py
                language,
                eligible=self.eligible,
                required=self.quorum.required,
            )
        if self.reason == "group_quorum_not_met":
            # TRANSLATORS: the separator between the seat groups short of their quorum.
            short = gettext(", ", language).join(
                gettext(
                    "{group} {present} of {required}",
                    language,
                    group=_group_name(g, language),
                    present=self.quorum.groups[g].present,
                    required=self.quorum.groups[g].required,
                )
                for g in self.quorum.groups_short
            )
            return gettext(
                "No quorum: too few members present from a seat group ({short}). The vote must be taken again when the board is quorate.",  # noqa: E501  # one-line msgid for scripts/po.py
                language,
                short=short,
            )
        counts = gettext(
            "{votes_for} for, {votes_against} against, {abstentions} abstaining and {not_voted} not voting, of {eligible} members present and not recused",  # noqa: E501  # one-line msgid for scripts/po.py
            language,
            votes_for=self.votes_for,
            votes_against=self.votes_against,
            abstentions=self.abstentions,
            not_voted=self.not_voted,
            eligible=self.eligible,
        )
        if self.reason == "chair_casting_vote":
            if self.outcome is Outcome.PASSED:
                return gettext(
                    "Passed on the chair's casting vote after a tie: {counts}; {needed} votes were needed.",  # noqa: E501  # one-line msgid for scripts/po.py
                    language,
                    counts=counts,
                    needed=needed,
                )
            return gettext(
                "Rejected on the chair's casting vote after a tie: {counts}; {needed} votes were needed.",  # noqa: E501  # one-line msgid for scripts/po.py
                language,
                counts=counts,
                needed=needed,
            )
        if self.outcome is Outcome.PASSED:
            return gettext(
                "Passed: {counts}; {needed} votes in favour were needed.",
                language,
                counts=counts,
                needed=needed,
            )
        if self.outcome is Outcome.FAILED:
            return gettext(
                "Rejected: {counts}; {needed} votes against were enough.",
                language,
                counts=counts,
                needed=needed,
            )
        if self.reason == "tie":
            return gettext(
                "No majority, the vote is tied: {counts}. The motion fails and the case must be reheard at a new session.",  # noqa: E501  # one-line msgid for scripts/po.py
                language,
                counts=counts,
            )
        return gettext(
            "No majority: {counts}; {needed} votes were needed. The motion fails and the case must be reheard at a new session.",  # noqa: E501  # one-line msgid for scripts/po.py
            language,
            counts=counts,
            needed=needed,
        )


def _group_name(group: SeatGroup, language: str) -> str:
    """The seat group as a quorum shortfall names it (en: the code value)."""
    if group is SeatGroup.WORKER:
        return pgettext("quorum shortfall", "worker", language)
    if group is SeatGroup.EMPLOYER:
        return pgettext("quorum shortfall", "employer", language)
    return pgettext("quorum shortfall", "government", language)


M = TypeVar("M", bound=Hashable)


def tally(
    rules: BoardRules,
    *,
    present: Mapping[M, SeatGroup],
    ballots: Mapping[M, Choice],
    recused: Collection[M] = (),
    chair_id: M | None = None,
) -> Tally:
    """Count a motion under ``rules``.

    ``present`` maps each panel member in the room to their seat group; ``recused`` are
    members standing aside from this motion; ``ballots`` maps member to choice;
    ``chair_id`` is the session's chair (needed only for a casting vote).

    Semantics, in order:

    1. *Inputs.* A ballot from a member not in ``present`` or from a recused member raises
       ``ValueError`` — they cannot vote. A recused member who is not present is ignored.
       More eligible members in a seat group than the group has seats, or a present chair
       from another group than ``rules.chair_group``, raise ``ValueError``.
    2. *Quorum* is counted on eligible members (present and not recused): a recused member
       does not count toward the quorum for that motion, so on a diagnosis board (quorum
       3 of 3) a recusal leaves the motion without quorum until an alternate takes the
       seat. Per-group minimums, if set, are checked the same way. No quorum →
       ``NO_QUORUM``; nothing is decided.
    3. *Majority.* Eligible members who abstain or have not voted count as present and
       not in favour.

       * ``simple_majority_of_present`` (diagnosis): ``PASSED`` when more than half of
         the eligible members voted for; ``FAILED`` when more than half voted against.
       * ``min_votes_in_favour`` (settlement): ``PASSED`` when at least ``min_in_favour``
         (5) voted for; ``FAILED`` when at least as many voted against — the statute asks
         5 votes for any decision, rejection included.

       Otherwise ``NO_MAJORITY`` (reason ``tie`` when for == against > 0, else
       ``no_majority``): the motion fails and the case must be reheard.
    4. *Tie rule* ``chair_casting``: on a tie, if the chair is eligible and voted for or
       against, the chair's ballot counts a second time and step 3 is applied again; if
       that decides the motion the reason is ``chair_casting_vote``, otherwise it stays a
       ``tie``. An abstaining or absent chair breaks no tie.
    """
    recused_ids = set(recused)
    eligible_by_group = dict.fromkeys(_GROUP_ORDER, 0)
    recused_present = 0
    for member, raw_group in present.items():
        group = _enum_value(SeatGroup, f"present[{member!r}]", raw_group)
        if member in recused_ids:
            recused_present += 1
        else:
            eligible_by_group[group] += 1

    choices: dict[M, Choice] = {}
    for member, raw_choice in ballots.items():
        if member not in present:
            raise ValueError(f"ballot_from_absent_member: {member!r}")
        if member in recused_ids:
            raise ValueError(f"ballot_from_recused_member: {member!r}")
        choices[member] = _enum_value(Choice, f"ballots[{member!r}]", raw_choice)

    if chair_id is not None and chair_id in present:
        chair_group = SeatGroup(present[chair_id])
        if chair_group is not rules.chair_group:
            raise ValueError(
                f"chair_not_in_chair_group: chair {chair_id!r} holds a {chair_group} seat, "
                f"the rules name {rules.chair_group}"
            )

    status = quorum_status(rules, eligible_by_group)
    votes_for = sum(1 for c in choices.values() if c is Choice.FOR)
    votes_against = sum(1 for c in choices.values() if c is Choice.AGAINST)
    abstentions = len(choices) - votes_for - votes_against
    eligible = status.present

    def result(outcome: Outcome, reason: str, casting: Choice | None = None) -> Tally:
        return Tally(
            outcome=outcome,
            reason=reason,
            votes_for=votes_for,
            votes_against=votes_against,
            abstentions=abstentions,
            not_voted=eligible - len(choices),
            present=len(present),
            recused=recused_present,
            eligible=eligible,
            votes_needed=rules.votes_needed(eligible),
            quorum=status,
            chair_casting_vote=casting,
        )

    if not status.met:
        return result(
            Outcome.NO_QUORUM,
            "quorum_not_met" if eligible < rules.quorum else "group_quorum_not_met",
        )

    decided = _decide(rules, votes_for, votes_against, eligible)
    if decided is not None:
        return result(decided, "threshold_met" if decided is Outcome.PASSED else "rejected")

    tied = votes_for == votes_against > 0
    chair_choice = choices.get(chair_id) if chair_id is not None else None
    if tied and rules.tie_rule is TieRule.CHAIR_CASTING:
        if chair_choice is Choice.FOR:
            decided = _decide(rules, votes_for + 1, votes_against, eligible)
        elif chair_choice is Choice.AGAINST:
            decided = _decide(rules, votes_for, votes_against + 1, eligible)
        if decided is not None:
            return result(decided, "chair_casting_vote", chair_choice)
    return result(Outcome.NO_MAJORITY, "tie" if tied else "no_majority")


def _decide(rules: BoardRules, votes_for: int, votes_against: int, eligible: int) -> Outcome | None:
    """PASSED or FAILED if one side reaches the threshold, else None."""
    needed = rules.votes_needed(eligible)
    if votes_for >= needed:
        return Outcome.PASSED
    if votes_against >= needed:
        return Outcome.FAILED
    return None
