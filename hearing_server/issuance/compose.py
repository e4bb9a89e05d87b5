"""A ruling's contents (Art. 101) composed from the database: the case, its decided
motions, the members' ballots and minority opinions, the hearing's panel and rules.

The ruling's snapshot (``Ruling.content``) is ``RulingContent.to_dict()`` plus
``_member_ids``: the user ids of the members who voted, in the order of
``content["members"]``. Members approve the *text*: the snapshot without its issue
time and approval times (:func:`text_digest`).

The reads shared with the minutes (panel, ballots, seat groups, the board's heading)
live here too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.audit.checkpoints import latest_checkpoint_view
from hearing_server.audit.services import get_chain_head
from hearing_server.boards.models import Board, BoardRulesVersion, LabourOffice
from hearing_server.cases.models import Case, Claim
from hearing_server.cases.presentation import CLAIM_LABELS
from hearing_server.config import Settings
from hearing_server.errors import Conflict, NotFound
from hearing_server.i18n import gettext
from hearing_server.issuance.codes import verification_url
from hearing_server.issuance.models import Ruling
from hearing_server.law.rules import BoardRules
from hearing_server.scheduling.models import Hearing, PanelSeat
from hearing_server.voting.models import Ballot, Motion, MotionKind, MotionState
from rulings import compose as rc
from rulings.persian import Locale

RULING_LOCALE: Locale = "fa"
"""The language rulings and minutes are written in."""


# --------------------------------------------------------------------------- snapshot


def snapshot(content: rc.RulingContent, ids: Sequence[int]) -> dict[str, Any]:
    """What ``Ruling.content`` stores: the contents and the voting members' user ids."""
    data = content.to_dict()
    data["_member_ids"] = list(ids)
    return data


SIGNING_KEYS = ("approved_at", "signature_missing")
"""A member's keys that record the signing, not the text being signed."""


def text_digest(content: dict[str, Any]) -> str:
    """SHA-256 of the ruling text the members approve: no issue time, no approval times."""
    body = {k: v for k, v in content.items() if k not in ("issued_at", "_member_ids")}
    body["members"] = [
        {k: v for k, v in m.items() if k not in SIGNING_KEYS} for m in body["members"]
    ]
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def ruling_content(ruling: Ruling) -> rc.RulingContent:
    return rc.RulingContent.from_json(json.dumps(ruling.content, ensure_ascii=False))


def member_ids(ruling: Ruling) -> list[int]:
    return [int(i) for i in ruling.content.get("_member_ids", [])]


# --------------------------------------------------------------------------- votes


def vote_of(kind: MotionKind, choice: str) -> rc.Vote:
    """A member's ballot on a motion, as the ruling states it about the claim."""
    if choice == "abstain":
        return rc.Vote.ABSTAIN
    in_favour = choice == "for"
    if kind == MotionKind.REJECT:
        return rc.Vote.REJECT if in_favour else rc.Vote.ACCEPT
    if kind == MotionKind.PARTLY_ACCEPT:
        return rc.Vote.PARTLY_ACCEPT if in_favour else rc.Vote.REJECT
    return rc.Vote.ACCEPT if in_favour else rc.Vote.REJECT


def decision_of(motion: Motion) -> tuple[rc.Decision, int | None]:
    """What a closed motion decided about its claim, and the amount awarded if any."""
    if motion.outcome == "passed":
        if motion.kind == MotionKind.REJECT:
            return rc.Decision.REJECTED, None
        if motion.kind == MotionKind.PARTLY_ACCEPT:
            return rc.Decision.PARTLY_ACCEPTED, motion.amount
        return rc.Decision.ACCEPTED, motion.amount
    if motion.outcome == "failed":
        if motion.kind == MotionKind.REJECT:
            return rc.Decision.ACCEPTED, None
        return rc.Decision.REJECTED, None
    return rc.Decision.NO_MAJORITY, None


def losing_choice(motion: Motion) -> str | None:
    """The choice of the members in the minority: against a passed motion, for a failed one."""
    if motion.outcome == "passed":
        return "against"
    if motion.outcome == "failed":
        return "for"
    return None


def claim_title(claim: Claim, locale: Locale = RULING_LOCALE) -> str:
    """The claim's own title, else the name of its kind in ``locale``."""
    if claim.title:
        return claim.title
    label = CLAIM_LABELS.get(claim.kind)
    return gettext(label, locale) if label is not None else claim.kind.value


# --------------------------------------------------------------------------- shared reads


async def document_board(session: AsyncSession, board_id: int) -> rc.Board:
    """The board and its labour office as a ruling or minutes names them."""
    board = await session.get(Board, board_id)
    if board is None:
        raise NotFound("The record is missing.")
    office = await session.get(LabourOffice, board.office_id)
    if office is None:
        raise NotFound("The record is missing.")
    return rc.Board(board.name_fa, rc.BoardType(board.type.value), office.name_fa)


async def panel_of(session: AsyncSession, hearing_id: int) -> dict[int, PanelSeat]:
    """The hearing's seats by member id."""
    return {
        p.member_id: p
        for p in await session.scalars(select(PanelSeat).where(PanelSeat.hearing_id == hearing_id))
    }


async def ballots_of(session: AsyncSession, motions: Iterable[Motion]) -> dict[int, list[Ballot]]:
    """Motion id -> its ballots in the order cast."""
    ballots: dict[int, list[Ballot]] = {m.id: [] for m in motions}
    if ballots:
        for ballot in await session.scalars(
            select(Ballot).where(Ballot.motion_id.in_(list(ballots))).order_by(Ballot.id)
        ):
            ballots[ballot.motion_id].append(ballot)
    return ballots


def seat_groups(motions: Iterable[Motion], panel: Mapping[int, PanelSeat]) -> dict[int, str]:
    """Member id -> seat group: as the motions' electorate recorded it, then the panel's."""
    groups: dict[int, str] = {}
    for motion in motions:
        for item in motion.eligible or []:
            if "member_id" in item and "group" in item:
                groups[int(item["member_id"])] = str(item["group"])
    groups.update({member_id: seat.group.value for member_id, seat in panel.items()})
    return groups


async def checkpoint_of(session: AsyncSession) -> tuple[int, str]:
    """(seq, hash) of the latest sealed audit checkpoint, printed in rulings and minutes;
    (0, "") before the first."""
    latest = await latest_checkpoint_view(session)
    return (latest.seq, latest.hash) if latest is not None else (0, "")


async def chain_head_of(session: AsyncSession, motions: Iterable[Motion]) -> str:
    """The audit chain head recorded when the last of ``motions`` closed, else today's."""
    heads = [m.chain_head_at_close for m in motions if m.chain_head_at_close]
    return heads[-1] if heads else await get_chain_head(session)


# --------------------------------------------------------------------------- ruling


@dataclass
class Decided:
    """The decided motions of a case, one per claim, with their ballots."""

    hearing: Hearing
    motions: dict[int, Motion]  # claim id -> the deciding motion
    ballots: dict[int, list[Ballot]]  # motion id -> ballots


async def decided_motions(session: AsyncSession, case: Case) -> Decided:
    """The last closed motion on each claim of ``case`` and the hearing of the last vote."""
    closed = list(
        await session.scalars(
            select(Motion)
            .where(Motion.case_id == case.id, Motion.state == MotionState.CLOSED)
            .order_by(Motion.closed_at, Motion.id)
        )
    )
    if not closed:
        raise Conflict("Case {number} has no closed vote to base a ruling on.", number=case.number)
    deciding: dict[int, Motion] = {}
    for motion in closed:  # the last closed motion on a claim decides it
        if motion.claim_id is not None:
            deciding[motion.claim_id] = motion
    hearing = await session.get(Hearing, closed[-1].hearing_id)
    if hearing is None:
        raise Conflict("The hearing of this vote is missing.")
    return Decided(hearing, deciding, await ballots_of(session, deciding.values()))


async def rules_objection_days(session: AsyncSession, rules_version_id: int) -> int | None:
    version = await session.get(BoardRulesVersion, rules_version_id)
    if version is None:
        raise Conflict("The board rules of this hearing are missing.")
    return version.rules.objection_days


async def compose_from_db(
    session: AsyncSession,
    settings: Settings,
    case: Case,
    *,
    number: str,
    code: str,
    issued_at: datetime,
    approved: dict[int, datetime] | None = None,
    missing: Mapping[int, str] | None = None,
) -> tuple[rc.RulingContent, list[int], int]:
    """Build the Art. 101 contents from the case, its decided motions and the hearing.

    ``approved`` maps the members who signed to when; ``missing`` the unsigned members
    to the secretary's record of why. A member who voted against a decision is marked
    as dissenting. Returns the content, the voting members' user ids (in the content's
    member order) and the hearing id. Raises Conflict when a claim is undecided or had
    no majority.
    """
    approved = approved or {}
    missing = missing or {}
    dissenters: set[int] = set()
    decided = await decided_motions(session, case)
    board = await document_board(session, case.board_id)
    panel = await panel_of(session, decided.hearing.id)
    groups = seat_groups(decided.motions.values(), panel)

    claims: list[rc.Claim] = []
    votes: dict[int, list[rc.MemberVote]] = {}
    opinions: list[tuple[int, str]] = []
    many = len(case.claims) > 1
    for claim in case.claims:
        title = claim_title(claim, RULING_LOCALE)
        motion = decided.motions.get(claim.id)
        if motion is None:
            raise Conflict(
                "Claim «{title}» of case {number} has not been decided by a vote.",
                title=title,
                number=case.number,
            )
        decision, awarded = decision_of(motion)
        if decision is rc.Decision.NO_MAJORITY:
            raise Conflict(
                "Claim «{title}» had no majority: case {number} must be reheard.",
                title=title,
                number=case.number,
            )
        if awarded is not None and claim.amount is not None and awarded > claim.amount:
            awarded = claim.amount if decision is rc.Decision.ACCEPTED else awarded
        key = str(claim.position)
        claims.append(
            rc.Claim(
                key=key,
                kind=claim.kind.value,
                title=title,
                claimed_rials=claim.amount,
                decision=decision,
                awarded_rials=awarded,
                reasons=(motion.reasoning or motion.text or "—").strip() or "—",
                legal_basis=(motion.legal_basis or "—").strip() or "—",
            )
        )
        losing = losing_choice(motion)
        for ballot in decided.ballots.get(motion.id, []):
            votes.setdefault(ballot.member_id, []).append(
                rc.MemberVote(key, vote_of(motion.kind, ballot.choice))
            )
            if losing and ballot.choice == losing:
                dissenters.add(ballot.member_id)
            if losing and ballot.choice == losing and ballot.opinion and ballot.opinion.strip():
                text = ballot.opinion.strip()
                opinions.append((ballot.member_id, f"{title}: {text}" if many else text))

    if not votes:
        raise Conflict("No member voted on case {number}.", number=case.number)
    users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(list(votes))))}

    def order(member_id: int) -> tuple[int, int]:
        seat = panel.get(member_id)
        return (0 if seat is not None and seat.is_chair else 1, member_id)

    ids = sorted(votes, key=order)
    members = [
        rc.Member(
            name=users[i].full_name,
            seat_group=rc.SeatGroup(groups.get(i, "government")),
            is_chair=bool(panel.get(i) and panel[i].is_chair),
            votes=tuple(votes[i]),
            approved_at=approved.get(i),
            dissent=i in dissenters,
            signature_missing=None if i in approved else missing.get(i),
        )
        for i in ids
    ]
    minority = [rc.MinorityOpinion(users[i].full_name, text) for i, text in opinions]
    parties = [
        rc.Party(p.full_name, rc.PartyRole(p.role.value), p.representative_name)
        for p in case.parties
    ]
    chain_head = await chain_head_of(session, decided.motions.values())
    objection_days = await rules_objection_days(session, decided.hearing.rules_version_id)
    try:
        content = rc.compose_ruling(
            board=board,
            ruling_number=number,
            issued_at=issued_at,
            case_number=case.number or "",
            parties=parties,
            claims=claims,
            members=members,
            minority_opinions=minority,
            objection_days=objection_days,
            audit_chain_head=chain_head,
            audit_checkpoint=await checkpoint_of(session),
            verification_code=code,
            verification_url=verification_url(settings, code),
            locale=RULING_LOCALE,
        )
    except rc.CompositionError as exc:
        raise Conflict(
            "The ruling of case {number} cannot be composed: {reason}",
            number=case.number,
            reason=str(exc),
        ) from exc
    return content, ids, decided.hearing.id


# --------------------------------------------------------------------------- signatures


@dataclass(frozen=True)
class ClaimMajority:
    """Who must sign a ruling in favour of its decision on one claim.

    ``needed`` is the statute's majority for the motion that decided the claim
    (:meth:`BoardRules.votes_needed` of the rules version the vote was taken under, on
    the members eligible for it); ``in_favour`` are the members whose ballot made that
    decision (for a passed motion, against a failed one).
    """

    claim_key: str
    title: str
    needed: int
    in_favour: frozenset[int]


async def signature_rule(session: AsyncSession, case: Case) -> list[ClaimMajority]:
    """Per decided claim of ``case``: the statutory majority that must sign in favour."""
    decided = await decided_motions(session, case)
    rules: dict[int, BoardRules] = {}
    majorities: list[ClaimMajority] = []
    for claim in case.claims:
        motion = decided.motions.get(claim.id)
        if motion is None or motion.outcome not in ("passed", "failed"):
            continue  # compose_from_db refuses such a case with its own message
        if motion.rules_version_id not in rules:
            version = await session.get(BoardRulesVersion, motion.rules_version_id)
            if version is None:
                raise Conflict("The board rules of this hearing are missing.")
            rules[motion.rules_version_id] = version.rules
        winning = "for" if motion.outcome == "passed" else "against"
        result = motion.result or {}
        eligible = result.get("eligible")
        count = int(eligible) if isinstance(eligible, int) else len(motion.eligible or [])
        majorities.append(
            ClaimMajority(
                claim_key=str(claim.position),
                title=claim_title(claim, RULING_LOCALE),
                needed=rules[motion.rules_version_id].votes_needed(count),
                in_favour=frozenset(
                    b.member_id for b in decided.ballots.get(motion.id, []) if b.choice == winning
                ),
            )
        )
    return majorities
