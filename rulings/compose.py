"""The content of a ruling (رأی) and of session minutes (صورتجلسه), as immutable snapshots.

Callers build these from the database; this module knows nothing about it. A
snapshot serialises to canonical JSON (sorted keys, UTC ISO datetimes) so it can
be stored beside the ruling record and rendered again to the same document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from rulings.persian import Locale, fa_digits

SCHEMA_VERSION = 1


class BoardType(StrEnum):
    DIAGNOSIS = "diagnosis"
    SETTLEMENT = "settlement"


class PartyRole(StrEnum):
    CLAIMANT = "claimant"
    RESPONDENT = "respondent"


class Decision(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PARTLY_ACCEPTED = "partly_accepted"
    NO_MAJORITY = "no_majority"


class SeatGroup(StrEnum):
    WORKER = "worker"
    EMPLOYER = "employer"
    GOVERNMENT = "government"


class Vote(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    PARTLY_ACCEPT = "partly_accept"
    ABSTAIN = "abstain"


class Phase(StrEnum):
    LOBBY = "lobby"
    HEARING = "hearing"
    DELIBERATION = "deliberation"
    VOTING = "voting"
    CLOSED = "closed"


class CompositionError(ValueError):
    """The inputs cannot make a coherent ruling; the message says which and why."""


# --------------------------------------------------------------------------- helpers


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CompositionError(f"{what} must be an aware datetime (UTC), got a naive one.")
    return moment.astimezone(UTC)


def _dt_out(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _dt_in(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise CompositionError(f"Expected an ISO datetime string, got {value!r}.")
    parsed = datetime.fromisoformat(value)
    return _utc(parsed, "A stored datetime")


def _dt_req(value: object) -> datetime:
    parsed = _dt_in(value)
    if parsed is None:
        raise CompositionError("A required datetime is missing from the snapshot.")
    return parsed


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise CompositionError(f"Field {key!r} must be a string, got {value!r}.")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CompositionError(f"Field {key!r} must be a string or null, got {value!r}.")
    return value


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise CompositionError(f"Field {key!r} must be an integer or null, got {value!r}.")
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    value = _opt_int(data, key)
    if value is None:
        raise CompositionError(f"Field {key!r} is missing.")
    return value


def _list(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise CompositionError(f"Field {key!r} must be a list.")
    return [cast(Mapping[str, Any], item) for item in value]


def _locale(value: object) -> Locale:
    if value == "fa":
        return "fa"
    if value == "en":
        return "en"
    raise CompositionError(f"Unknown locale {value!r}; expected 'fa' or 'en'.")


def _canonical(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _load(text: str | bytes, kind: str) -> Mapping[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise CompositionError("A snapshot must be a JSON object.")
    if data.get("kind") != kind:
        raise CompositionError(f"This snapshot is a {data.get('kind')!r}, not a {kind!r}.")
    if data.get("schema") != SCHEMA_VERSION:
        raise CompositionError(f"Unsupported snapshot schema {data.get('schema')!r}.")
    return cast(Mapping[str, Any], data)


# --------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class Board:
    name: str
    type: BoardType
    labour_office: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type.value, "labour_office": self.labour_office}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Board:
        return cls(_str(data, "name"), BoardType(data["type"]), _str(data, "labour_office"))


@dataclass(frozen=True)
class Party:
    name: str
    role: PartyRole
    representative: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role.value, "representative": self.representative}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Party:
        return cls(_str(data, "name"), PartyRole(data["role"]), _opt_str(data, "representative"))


@dataclass(frozen=True)
class Claim:
    """One item of what is asked (خواسته) and the board's decision on it.

    ``key`` links members' votes to the claim; ``kind`` is the glossary code
    (``unpaid_wages``, ``severance``…); ``title`` is the text printed.
    """

    key: str
    kind: str
    title: str
    claimed_rials: int | None
    decision: Decision
    awarded_rials: int | None
    reasons: str
    legal_basis: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "title": self.title,
            "claimed_rials": self.claimed_rials,
            "decision": self.decision.value,
            "awarded_rials": self.awarded_rials,
            "reasons": self.reasons,
            "legal_basis": self.legal_basis,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Claim:
        return cls(
            key=_str(data, "key"),
            kind=_str(data, "kind"),
            title=_str(data, "title"),
            claimed_rials=_opt_int(data, "claimed_rials"),
            decision=Decision(data["decision"]),
            awarded_rials=_opt_int(data, "awarded_rials"),
            reasons=_str(data, "reasons"),
            legal_basis=_str(data, "legal_basis"),
        )


@dataclass(frozen=True)
class MemberVote:
    claim_key: str
    vote: Vote

    def to_dict(self) -> dict[str, Any]:
        return {"claim_key": self.claim_key, "vote": self.vote.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemberVote:
        return cls(_str(data, "claim_key"), Vote(data["vote"]))


@dataclass(frozen=True)
class Member:
    """A member on the panel: seat, chair or not, named votes and the signature of the text.

    ``approved_at`` is when the member signed (approved the text with a one-time code);
    ``dissent`` marks a member who voted against a decision of the ruling (the signature
    is printed as a dissenter's); ``signature_missing`` is the secretary's record of why
    an unsigned member did not sign.
    """

    name: str
    seat_group: SeatGroup
    is_chair: bool
    votes: tuple[MemberVote, ...] = ()
    approved_at: datetime | None = None
    dissent: bool = False
    signature_missing: str | None = None

    def vote_on(self, claim_key: str) -> Vote | None:
        for vote in self.votes:
            if vote.claim_key == claim_key:
                return vote.vote
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seat_group": self.seat_group.value,
            "is_chair": self.is_chair,
            "votes": [v.to_dict() for v in self.votes],
            "approved_at": _dt_out(self.approved_at),
            "dissent": self.dissent,
            "signature_missing": self.signature_missing,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Member:
        return cls(
            name=_str(data, "name"),
            seat_group=SeatGroup(data["seat_group"]),
            is_chair=bool(data["is_chair"]),
            votes=tuple(MemberVote.from_dict(v) for v in _list(data, "votes")),
            approved_at=_dt_in(data.get("approved_at")),
            dissent=bool(data.get("dissent", False)),
            signature_missing=(
                None if data.get("signature_missing") is None else str(data["signature_missing"])
            ),
        )


@dataclass(frozen=True)
class MinorityOpinion:
    member_name: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"member_name": self.member_name, "text": self.text}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MinorityOpinion:
        return cls(_str(data, "member_name"), _str(data, "text"))


# --------------------------------------------------------------------------- ruling


@dataclass(frozen=True)
class RulingContent:
    """Everything printed on a ruling. Build it with :func:`compose_ruling`."""

    board: Board
    ruling_number: str
    issued_at: datetime
    case_number: str
    parties: tuple[Party, ...]
    claims: tuple[Claim, ...]
    members: tuple[Member, ...]
    minority_opinions: tuple[MinorityOpinion, ...]
    objection_days: int | None
    audit_chain_head: str
    verification_code: str
    verification_url: str
    locale: Locale
    total_claimed_rials: int = 0
    total_awarded_rials: int = 0
    objection_notice: str = ""
    rehearing_needed: bool = False
    # The sealed audit-chain checkpoint current when the ruling was composed (none yet: 0).
    audit_checkpoint_seq: int = 0
    audit_checkpoint_hash: str = ""

    @property
    def is_final_on_issue(self) -> bool:
        return self.objection_days is None

    @property
    def awarded_claims(self) -> tuple[Claim, ...]:
        """Claims with a money award, in order: the itemised award table."""
        return tuple(c for c in self.claims if c.awarded_rials)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "ruling",
            "schema": SCHEMA_VERSION,
            "board": self.board.to_dict(),
            "ruling_number": self.ruling_number,
            "issued_at": _dt_out(self.issued_at),
            "case_number": self.case_number,
            "parties": [p.to_dict() for p in self.parties],
            "claims": [c.to_dict() for c in self.claims],
            "members": [m.to_dict() for m in self.members],
            "minority_opinions": [o.to_dict() for o in self.minority_opinions],
            "objection_days": self.objection_days,
            "audit_chain_head": self.audit_chain_head,
            "audit_checkpoint_seq": self.audit_checkpoint_seq,
            "audit_checkpoint_hash": self.audit_checkpoint_hash,
            "verification_code": self.verification_code,
            "verification_url": self.verification_url,
            "locale": self.locale,
            "total_claimed_rials": self.total_claimed_rials,
            "total_awarded_rials": self.total_awarded_rials,
            "objection_notice": self.objection_notice,
            "rehearing_needed": self.rehearing_needed,
        }

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no whitespace, UTF-8 text): equal content, equal text."""
        return _canonical(self.to_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> RulingContent:
        """Rebuild a stored snapshot exactly as it was composed (totals and notice included)."""
        data = _load(text, "ruling")
        return cls(
            board=Board.from_dict(data["board"]),
            ruling_number=_str(data, "ruling_number"),
            issued_at=_dt_req(data["issued_at"]),
            case_number=_str(data, "case_number"),
            parties=tuple(Party.from_dict(p) for p in _list(data, "parties")),
            claims=tuple(Claim.from_dict(c) for c in _list(data, "claims")),
            members=tuple(Member.from_dict(m) for m in _list(data, "members")),
            minority_opinions=tuple(
                MinorityOpinion.from_dict(o) for o in _list(data, "minority_opinions")
            ),
            objection_days=_opt_int(data, "objection_days"),
            audit_chain_head=_str(data, "audit_chain_head"),
            audit_checkpoint_seq=_opt_int(data, "audit_checkpoint_seq") or 0,
            audit_checkpoint_hash=_opt_str(data, "audit_checkpoint_hash") or "",
            verification_code=_str(data, "verification_code"),
            verification_url=_str(data, "verification_url"),
            locale=_locale(data["locale"]),
            total_claimed_rials=_int(data, "total_claimed_rials"),
            total_awarded_rials=_int(data, "total_awarded_rials"),
            objection_notice=_str(data, "objection_notice"),
            rehearing_needed=bool(data["rehearing_needed"]),
        )


_BOARD_NAME_FA = {
    BoardType.DIAGNOSIS: "هیأت تشخیص",
    BoardType.SETTLEMENT: "هیأت حل اختلاف",
}


def objection_notice(board_type: BoardType, objection_days: int | None, locale: Locale) -> str:
    """The sentence that tells the parties whether and until when they may object."""
    if objection_days is None:
        if locale == "fa":
            return "این رأی قطعی و لازم‌الاجرا است."
        return "This ruling is final and enforceable on issue."
    if objection_days <= 0:
        raise CompositionError(f"An objection window must be positive, got {objection_days}.")
    to_board_fa = "هیأت حل اختلاف" if board_type is BoardType.DIAGNOSIS else "مرجع تجدیدنظر"
    to_board_en = (
        "the dispute settlement board" if board_type is BoardType.DIAGNOSIS else "the appeal body"
    )
    if locale == "fa":
        return (
            f"این رأی ظرف {fa_digits(objection_days)} روز از تاریخ ابلاغ، با اعتراض کتبی "
            f"قابل رسیدگی در {to_board_fa} است و در صورت عدم اعتراض در این مهلت، "
            "قطعی و لازم‌الاجرا می‌شود."
        )
    return (
        f"Either party may object to this ruling in writing within {objection_days} days "
        f"of notification, before {to_board_en}. If no objection is filed within that "
        "period, the ruling becomes final and enforceable."
    )


_DECISIONS_WITH_AWARD = (Decision.ACCEPTED, Decision.PARTLY_ACCEPTED)


def _check_claim(claim: Claim) -> Claim:
    for what, amount in (("claimed", claim.claimed_rials), ("awarded", claim.awarded_rials)):
        if amount is not None and amount < 0:
            raise CompositionError(f"Claim {claim.key!r}: the {what} amount cannot be negative.")
    if claim.decision not in _DECISIONS_WITH_AWARD and claim.awarded_rials:
        raise CompositionError(
            f"Claim {claim.key!r} is {claim.decision.value}, so it cannot award an amount."
        )
    if claim.decision is Decision.PARTLY_ACCEPTED and claim.claimed_rials is not None:
        if claim.awarded_rials is None:
            raise CompositionError(f"Claim {claim.key!r} is partly accepted but awards nothing.")
        if claim.awarded_rials > claim.claimed_rials:
            raise CompositionError(f"Claim {claim.key!r}: the award exceeds the amount claimed.")
    if claim.decision is Decision.ACCEPTED and claim.awarded_rials is None:
        # Accepting a money claim in full awards what was claimed.
        return Claim(
            key=claim.key,
            kind=claim.kind,
            title=claim.title,
            claimed_rials=claim.claimed_rials,
            decision=claim.decision,
            awarded_rials=claim.claimed_rials,
            reasons=claim.reasons,
            legal_basis=claim.legal_basis,
        )
    return claim


def compose_ruling(
    *,
    board: Board,
    ruling_number: str,
    issued_at: datetime,
    case_number: str,
    parties: Sequence[Party],
    claims: Sequence[Claim],
    members: Sequence[Member],
    minority_opinions: Sequence[MinorityOpinion] = (),
    objection_days: int | None,
    audit_chain_head: str,
    verification_code: str,
    verification_url: str,
    locale: Locale = "fa",
    audit_checkpoint: tuple[int, str] = (0, ""),
) -> RulingContent:
    """Check the parts and build the ruling snapshot with its totals and objection notice.

    A fully accepted money claim without an explicit award gets the claimed
    amount. ``objection_days=None`` means the ruling is final on issue.
    Raises :class:`CompositionError` with a readable reason when the parts
    do not fit together (unknown claim in a vote, award on a rejected claim…).
    """
    loc = _locale(locale)
    if not claims:
        raise CompositionError("A ruling needs at least one claim.")
    if not any(p.role is PartyRole.CLAIMANT for p in parties):
        raise CompositionError("A ruling needs a claimant.")
    if not any(p.role is PartyRole.RESPONDENT for p in parties):
        raise CompositionError("A ruling needs a respondent.")
    keys = [c.key for c in claims]
    if len(set(keys)) != len(keys):
        raise CompositionError("Claim keys must be unique.")
    if not members:
        raise CompositionError("A ruling needs the members who decided it.")
    for member in members:
        unknown = {v.claim_key for v in member.votes} - set(keys)
        if unknown:
            raise CompositionError(
                f"Member {member.name} voted on unknown claim(s): {', '.join(sorted(unknown))}."
            )
        if member.approved_at is not None:
            _utc(member.approved_at, f"Approval time of {member.name}")
    names = {m.name for m in members}
    for opinion in minority_opinions:
        if opinion.member_name not in names:
            raise CompositionError(
                f"Minority opinion by {opinion.member_name}, who is not on the panel."
            )
    checked = tuple(_check_claim(c) for c in claims)
    members_utc = tuple(
        Member(
            name=m.name,
            seat_group=m.seat_group,
            is_chair=m.is_chair,
            votes=tuple(m.votes),
            approved_at=None if m.approved_at is None else m.approved_at.astimezone(UTC),
            dissent=m.dissent,
            signature_missing=m.signature_missing,
        )
        for m in members
    )
    return RulingContent(
        board=board,
        ruling_number=ruling_number,
        issued_at=_utc(issued_at, "issued_at"),
        case_number=case_number,
        parties=tuple(parties),
        claims=checked,
        members=members_utc,
        minority_opinions=tuple(minority_opinions),
        objection_days=objection_days,
        audit_chain_head=audit_chain_head,
        audit_checkpoint_seq=audit_checkpoint[0],
        audit_checkpoint_hash=audit_checkpoint[1],
        verification_code=verification_code,
        verification_url=verification_url,
        locale=loc,
        total_claimed_rials=sum(c.claimed_rials or 0 for c in checked),
        total_awarded_rials=sum(c.awarded_rials or 0 for c in checked),
        objection_notice=objection_notice(board.type, objection_days, loc),
        rehearing_needed=any(c.decision is Decision.NO_MAJORITY for c in checked),
    )


# --------------------------------------------------------------------------- minutes


@dataclass(frozen=True)
class Attendance:
    """One person in the session: first arrival ``joined_at``, last departure ``left_at``
    (None: still there), and ``minutes_present`` in all (None in minutes made before it
    was recorded)."""

    name: str
    role: str  # chair | member | secretary | admin | claimant | respondent | representative
    seat_group: SeatGroup | None
    joined_at: datetime
    left_at: datetime | None = None
    minutes_present: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "seat_group": None if self.seat_group is None else self.seat_group.value,
            "joined_at": _dt_out(self.joined_at),
            "left_at": _dt_out(self.left_at),
            "minutes_present": self.minutes_present,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attendance:
        group = data.get("seat_group")
        return cls(
            name=_str(data, "name"),
            role=_str(data, "role"),
            seat_group=None if group is None else SeatGroup(group),
            joined_at=_dt_req(data["joined_at"]),
            left_at=_dt_in(data.get("left_at")),
            minutes_present=_opt_int(data, "minutes_present"),
        )


@dataclass(frozen=True)
class PhaseRecord:
    """A phase of the session from ``started_at``; ``recalled``: the board called the
    parties back from deliberation into the hearing."""

    phase: Phase
    started_at: datetime
    recalled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "started_at": _dt_out(self.started_at),
            "recalled": self.recalled,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PhaseRecord:
        return cls(Phase(data["phase"]), _dt_req(data["started_at"]), data.get("recalled") is True)


@dataclass(frozen=True)
class Statement:
    at: datetime
    speaker: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"at": _dt_out(self.at), "speaker": self.speaker, "text": self.text}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Statement:
        return cls(_dt_req(data["at"]), _str(data, "speaker"), _str(data, "text"))


@dataclass(frozen=True)
class BallotRecord:
    member_name: str
    seat_group: SeatGroup
    vote: Vote

    def to_dict(self) -> dict[str, Any]:
        return {
            "member_name": self.member_name,
            "seat_group": self.seat_group.value,
            "vote": self.vote.value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BallotRecord:
        return cls(_str(data, "member_name"), SeatGroup(data["seat_group"]), Vote(data["vote"]))


@dataclass(frozen=True)
class MotionRecord:
    title: str
    result: Decision
    ballots: tuple[BallotRecord, ...]
    awarded_rials: int | None = None

    def count(self, vote: Vote) -> int:
        return sum(1 for b in self.ballots if b.vote is vote)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "result": self.result.value,
            "ballots": [b.to_dict() for b in self.ballots],
            "awarded_rials": self.awarded_rials,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MotionRecord:
        return cls(
            title=_str(data, "title"),
            result=Decision(data["result"]),
            ballots=tuple(BallotRecord.from_dict(b) for b in _list(data, "ballots")),
            awarded_rials=_opt_int(data, "awarded_rials"),
        )


@dataclass(frozen=True)
class MinutesContent:
    """The minutes (صورتجلسه) of one session: who was there when, what was said and voted."""

    board: Board
    hearing_ref: str
    case_numbers: tuple[str, ...]
    hearing_started_at: datetime
    hearing_closed_at: datetime | None
    attendance: tuple[Attendance, ...]
    phases: tuple[PhaseRecord, ...]
    statements: tuple[Statement, ...]
    motions: tuple[MotionRecord, ...]
    dissents: tuple[MinorityOpinion, ...]
    audit_chain_head: str
    verification_code: str
    verification_url: str
    locale: Locale = "fa"
    # The sealed audit-chain checkpoint current when the minutes were composed (none yet: 0).
    audit_checkpoint_seq: int = 0
    audit_checkpoint_hash: str = ""

    def __post_init__(self) -> None:
        _utc(self.hearing_started_at, "hearing_started_at")
        if self.hearing_closed_at is not None:
            _utc(self.hearing_closed_at, "hearing_closed_at")
        _locale(self.locale)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "minutes",
            "schema": SCHEMA_VERSION,
            "board": self.board.to_dict(),
            "hearing_ref": self.hearing_ref,
            "case_numbers": list(self.case_numbers),
            "hearing_started_at": _dt_out(self.hearing_started_at),
            "hearing_closed_at": _dt_out(self.hearing_closed_at),
            "attendance": [a.to_dict() for a in self.attendance],
            "phases": [p.to_dict() for p in self.phases],
            "statements": [s.to_dict() for s in self.statements],
            "motions": [m.to_dict() for m in self.motions],
            "dissents": [d.to_dict() for d in self.dissents],
            "audit_chain_head": self.audit_chain_head,
            "audit_checkpoint_seq": self.audit_checkpoint_seq,
            "audit_checkpoint_hash": self.audit_checkpoint_hash,
            "verification_code": self.verification_code,
            "verification_url": self.verification_url,
            "locale": self.locale,
        }

    def to_json(self) -> str:
        return _canonical(self.to_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> MinutesContent:
        data = _load(text, "minutes")
        case_numbers = data.get("case_numbers", [])
        if not isinstance(case_numbers, list):
            raise CompositionError("Malformed minutes snapshot.")
        return cls(
            board=Board.from_dict(data["board"]),
            hearing_ref=_str(data, "hearing_ref"),
            case_numbers=tuple(str(n) for n in case_numbers),
            hearing_started_at=_dt_req(data["hearing_started_at"]),
            hearing_closed_at=_dt_in(data.get("hearing_closed_at")),
            attendance=tuple(Attendance.from_dict(a) for a in _list(data, "attendance")),
            phases=tuple(PhaseRecord.from_dict(p) for p in _list(data, "phases")),
            statements=tuple(Statement.from_dict(s) for s in _list(data, "statements")),
            motions=tuple(MotionRecord.from_dict(m) for m in _list(data, "motions")),
            dissents=tuple(MinorityOpinion.from_dict(d) for d in _list(data, "dissents")),
            audit_chain_head=_str(data, "audit_chain_head"),
            audit_checkpoint_seq=_opt_int(data, "audit_checkpoint_seq") or 0,
            audit_checkpoint_hash=_opt_str(data, "audit_checkpoint_hash") or "",
            verification_code=_str(data, "verification_code"),
            verification_url=_str(data, "verification_url"),
            locale=_locale(data["locale"]),
        )


def board_title(board: Board, locale: Locale) -> str:
    """The statutory name of the board type (هیأت تشخیص / Diagnosis board)."""
    if locale == "fa":
        return _BOARD_NAME_FA[board.type]
    return "Diagnosis board" if board.type is BoardType.DIAGNOSIS else "Dispute settlement board"
