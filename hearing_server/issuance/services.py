"""Rulings and minutes inside the app: compose from the database, approve with a code,
render, sign, issue, verify, notify (ابلاغ), object, and become final.

Every function takes the session first and flushes, never commits. Rendering runs in
``rulings.render``'s process pool and signing in a worker thread, so the event loop is
never blocked; the PDF is written to the file store before the transaction commits (a
rolled-back issue leaves at most an unreferenced, content-addressed file behind).

The ruling's snapshot (``Ruling.content``) is ``RulingContent.to_dict()`` plus
``_member_ids``: the user ids of the members who voted, in the order of
``content["members"]``. Members approve the *text*: the snapshot without its issue
time and approval times (:func:`text_digest`). Re-drafting keeps the approvals only
when the text is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.accounts.models import Role, User
from hearing_server.accounts.services import verify_otp
from hearing_server.audit.services import do_record, get_chain_head
from hearing_server.boards.models import Board, BoardRulesVersion, LabourOffice
from hearing_server.cases import access
from hearing_server.cases.models import (
    Case,
    CaseParty,
    CaseStatus,
    Claim,
    ClaimKind,
    Document,
    DocumentVisibility,
    FiledVia,
)
from hearing_server.cases.services import (
    do_index_search_terms,
    do_take_case_number,
    do_take_tracking_code,
    do_transition,
)
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import Conflict, Forbidden, Invalid, NotFound
from hearing_server.i18n import LazyText, gettext
from hearing_server.issuance.files import do_store_pdf, load_blob
from hearing_server.issuance.models import (
    Approval,
    Minutes,
    Notification,
    Objection,
    Ruling,
    RulingState,
)
from hearing_server.law.rules import BoardType
from hearing_server.notifications.services import do_notify_user
from hearing_server.rooms.models import Attendance, RoomEvent, Statement
from hearing_server.scheduling.models import AgendaItem, Hearing, HearingStatus, PanelSeat
from hearing_server.text import normalize_digits, normalize_persian
from hearing_server.voting.models import Ballot, Motion, MotionKind, MotionState
from rulings import compose as rc
from rulings.render import FontMissingError, RenderError, render_pdf_async
from rulings.sign import SignerConfig, SigningError, sign_pdf
from rulings.verify import VerifyResult, verify_pdf

MAX_OBJECTION_CHARS = 5000
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by hand

CLAIM_TITLES_FA = {
    ClaimKind.UNPAID_WAGES: "مطالبات مزد معوق",
    ClaimKind.OVERTIME: "اضافه‌کاری",
    ClaimKind.SEVERANCE: "حق سنوات",
    ClaimKind.ANNUAL_LEAVE: "مرخصی استحقاقی",
    ClaimKind.YEAR_END_BONUS: "عیدی و پاداش",
    ClaimKind.REINSTATEMENT: "اخراج غیرقانونی / بازگشت به کار",
    ClaimKind.INSURANCE: "حق بیمه",
    ClaimKind.OTHER: "سایر خواسته‌ها",
}

# Progress of issues running in this process: ruling id -> (step, error msgid or None).
ISSUE_STEPS = ("composing", "rendering", "signing", "storing", "issued")
_progress: dict[int, tuple[str, str | None]] = {}
Progress = Callable[[str], None]


def get_progress(ruling_id: int) -> tuple[str, str | None] | None:
    return _progress.get(ruling_id)


def _report(ruling_id: int, step: str, error: str | None = None) -> None:
    _progress[ruling_id] = (step, error)


# --------------------------------------------------------------------------- helpers


def new_verification_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalize_code(code: str) -> str | None:
    """``k7qf 2mzp-9xta`` or with Persian digits → ``K7QF-2MZP-9XTA``; None if malformed."""
    raw = "".join(ch for ch in normalize_digits(code or "").upper() if ch.isalnum())
    if len(raw) != 12 or any(ch not in CODE_ALPHABET for ch in raw):
        return None
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def verification_url(settings: Settings, code: str) -> str:
    return f"{settings.base_url.rstrip('/')}/verify/{code}"


def text_digest(content: dict[str, Any]) -> str:
    """SHA-256 of the ruling text the members approve: no issue time, no approval times."""
    body = {k: v for k, v in content.items() if k not in ("issued_at", "_member_ids")}
    body["members"] = [{k: v for k, v in m.items() if k != "approved_at"} for m in body["members"]]
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def ruling_content(ruling: Ruling) -> rc.RulingContent:
    return rc.RulingContent.from_json(json.dumps(ruling.content, ensure_ascii=False))


def member_ids(ruling: Ruling) -> list[int]:
    return [int(i) for i in ruling.content.get("_member_ids", [])]


def _state_name(state: str) -> LazyText:
    return LazyText(
        {
            "draft": "draft",
            "issued": "issued",
            "final": "final",
            "appealed": "appealed",
            "superseded": "superseded",
        }.get(state, state)
    )


def is_staff(user: User) -> bool:
    return user.role in (Role.SECRETARY, Role.ADMIN)


def require_staff(user: User) -> None:
    if not is_staff(user):
        raise Forbidden("Only the board secretary may do this.")


async def _rules_objection_days(session: AsyncSession, rules_version_id: int) -> int | None:
    version = await session.get(BoardRulesVersion, rules_version_id)
    if version is None:
        raise Conflict("The board rules of this hearing are missing.")
    return version.rules.objection_days


async def _lock_ruling(session: AsyncSession, ruling_id: int) -> Ruling:
    ruling = await session.scalar(
        select(Ruling)
        .where(Ruling.id == ruling_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if ruling is None:
        raise NotFound("No such ruling.")
    return ruling


# --------------------------------------------------------------------------- access


async def require_ruling(session: AsyncSession, actor: User, ruling_id: int) -> tuple[Ruling, Case]:
    """The ruling and its case if ``actor`` may read them; parties never see drafts."""
    ruling = await session.get(Ruling, ruling_id)
    if ruling is None:
        raise NotFound("No such ruling.")
    case = await access.require_readable_case(session, actor, ruling.case_id, full=True)
    if ruling.state == RulingState.DRAFT and actor.role not in (
        Role.SECRETARY,
        Role.ADMIN,
        Role.MEMBER,
    ):
        raise NotFound("No such ruling.")
    return ruling, case


async def parties_of(session: AsyncSession, actor: User, case_id: int) -> list[CaseParty]:
    """The case parties ``actor`` is, or represents."""
    rows = await session.scalars(
        select(CaseParty).where(
            CaseParty.case_id == case_id,
            or_(CaseParty.user_id == actor.id, CaseParty.representative_user_id == actor.id),
        )
    )
    return list(rows)


async def list_rulings(session: AsyncSession, actor: User) -> list[tuple[Ruling, Case]]:
    """Rulings ``actor`` may read, newest first; parties see only issued ones."""
    query = (
        select(Ruling, Case)
        .join(Case, Case.id == Ruling.case_id)
        .where(access.readable_clause(actor))
        .order_by(Ruling.created_at.desc(), Ruling.id.desc())
        .limit(200)
    )
    if actor.role in (Role.PARTY, Role.CLERK):
        query = query.where(Ruling.state != RulingState.DRAFT)
    return [(r, c) for r, c in (await session.execute(query)).all()]


async def list_decided_cases(session: AsyncSession, actor: User) -> list[Case]:
    """Cases waiting for a ruling (decided, no draft yet) — the secretary's work list."""
    require_staff(actor)
    has_draft = select(Ruling.id).where(
        Ruling.case_id == Case.id, Ruling.state == RulingState.DRAFT
    )
    rows = await session.scalars(
        select(Case)
        .where(Case.status == CaseStatus.DECIDED, ~has_draft.exists())
        .order_by(Case.id)
        .limit(200)
    )
    return list(rows)


async def approvals_of(session: AsyncSession, ruling_id: int) -> list[Approval]:
    return list(
        await session.scalars(
            select(Approval).where(Approval.ruling_id == ruling_id).order_by(Approval.id)
        )
    )


async def notification_of(
    session: AsyncSession, ruling: Ruling, party: CaseParty
) -> Notification | None:
    result: Notification | None = await session.scalar(
        select(Notification).where(
            Notification.ruling_id == ruling.id, Notification.party_id == party.id
        )
    )
    return result


def party_deadline(ruling: Ruling, notification: Notification | None) -> datetime | None:
    days = ruling.content.get("objection_days")
    if days is None or notification is None:
        return None
    return notification.notified_at + timedelta(days=int(days))


# --------------------------------------------------------------------------- compose


def _vote(kind: MotionKind, choice: str) -> rc.Vote:
    if choice == "abstain":
        return rc.Vote.ABSTAIN
    in_favour = choice == "for"
    if kind == MotionKind.REJECT:
        return rc.Vote.REJECT if in_favour else rc.Vote.ACCEPT
    if kind == MotionKind.PARTLY_ACCEPT:
        return rc.Vote.PARTLY_ACCEPT if in_favour else rc.Vote.REJECT
    return rc.Vote.ACCEPT if in_favour else rc.Vote.REJECT


def _decision(motion: Motion) -> tuple[rc.Decision, int | None]:
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


def _losing_choice(motion: Motion) -> str | None:
    """The choice of the members in the minority: against a passed motion, for a failed one."""
    if motion.outcome == "passed":
        return "against"
    if motion.outcome == "failed":
        return "for"
    return None


def claim_title(claim: Claim) -> str:
    return claim.title or CLAIM_TITLES_FA.get(claim.kind, claim.kind.value)


@dataclass
class Decided:
    """The decided motions of a case, one per claim, with their ballots."""

    hearing: Hearing
    motions: dict[int, Motion]  # claim id -> the deciding motion
    ballots: dict[int, list[Ballot]]  # motion id -> ballots


async def _decided_motions(session: AsyncSession, case: Case) -> Decided:
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
    ballots: dict[int, list[Ballot]] = {m.id: [] for m in deciding.values()}
    if ballots:
        for ballot in await session.scalars(
            select(Ballot).where(Ballot.motion_id.in_(list(ballots))).order_by(Ballot.id)
        ):
            ballots[ballot.motion_id].append(ballot)
    return Decided(hearing, deciding, ballots)


async def compose_from_db(
    session: AsyncSession,
    settings: Settings,
    case: Case,
    *,
    number: str,
    code: str,
    issued_at: datetime,
    approved: dict[int, datetime] | None = None,
) -> tuple[rc.RulingContent, list[int], int]:
    """Build the Art. 101 contents from the case, its decided motions and the hearing.

    Returns the content, the voting members' user ids (in the content's member order)
    and the hearing id. Raises Conflict when a claim is undecided or had no majority.
    """
    approved = approved or {}
    decided = await _decided_motions(session, case)
    board = await session.get(Board, case.board_id)
    if board is None:
        raise NotFound("The record is missing.")
    office = await session.get(LabourOffice, board.office_id)
    if office is None:
        raise NotFound("The record is missing.")
    panel = {
        p.member_id: p
        for p in await session.scalars(
            select(PanelSeat).where(PanelSeat.hearing_id == decided.hearing.id)
        )
    }
    groups: dict[int, str] = {}
    for decided_motion in decided.motions.values():
        for item in decided_motion.eligible or []:
            if "member_id" in item and "group" in item:
                groups[int(item["member_id"])] = str(item["group"])
    for member_id, seat in panel.items():
        groups[member_id] = seat.group.value

    claims: list[rc.Claim] = []
    votes: dict[int, list[rc.MemberVote]] = {}
    opinions: list[tuple[int, str]] = []
    many = len(case.claims) > 1
    for claim in case.claims:
        motion = decided.motions.get(claim.id)
        if motion is None:
            raise Conflict(
                "Claim «{title}» of case {number} has not been decided by a vote.",
                title=claim_title(claim),
                number=case.number,
            )
        decision, awarded = _decision(motion)
        if decision is rc.Decision.NO_MAJORITY:
            raise Conflict(
                "Claim «{title}» had no majority: case {number} must be reheard.",
                title=claim_title(claim),
                number=case.number,
            )
        if awarded is not None and claim.amount is not None and awarded > claim.amount:
            awarded = claim.amount if decision is rc.Decision.ACCEPTED else awarded
        key = str(claim.position)
        claims.append(
            rc.Claim(
                key=key,
                kind=claim.kind.value,
                title=claim_title(claim),
                claimed_rials=claim.amount,
                decision=decision,
                awarded_rials=awarded,
                reasons=(motion.reasoning or motion.text or "—").strip() or "—",
                legal_basis=(motion.legal_basis or "—").strip() or "—",
            )
        )
        losing = _losing_choice(motion)
        for ballot in decided.ballots.get(motion.id, []):
            votes.setdefault(ballot.member_id, []).append(
                rc.MemberVote(key, _vote(motion.kind, ballot.choice))
            )
            if losing and ballot.choice == losing and ballot.opinion and ballot.opinion.strip():
                text = ballot.opinion.strip()
                opinions.append(
                    (ballot.member_id, f"{claim_title(claim)}: {text}" if many else text)
                )

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
        )
        for i in ids
    ]
    minority = [rc.MinorityOpinion(users[i].full_name, text) for i, text in opinions]
    parties = [
        rc.Party(p.full_name, rc.PartyRole(p.role.value), p.representative_name)
        for p in case.parties
    ]
    heads = [m.chain_head_at_close for m in decided.motions.values() if m.chain_head_at_close]
    chain_head = heads[-1] if heads else await get_chain_head(session)
    objection_days = await _rules_objection_days(session, decided.hearing.rules_version_id)
    try:
        content = rc.compose_ruling(
            board=rc.Board(board.name_fa, rc.BoardType(board.type.value), office.name_fa),
            ruling_number=number,
            issued_at=issued_at,
            case_number=case.number or "",
            parties=parties,
            claims=claims,
            members=members,
            minority_opinions=minority,
            objection_days=objection_days,
            audit_chain_head=chain_head,
            verification_code=code,
            verification_url=verification_url(settings, code),
            locale="fa",
        )
    except rc.CompositionError as exc:
        raise Conflict(
            "The ruling of case {number} cannot be composed: {reason}",
            number=case.number,
            reason=str(exc),
        ) from exc
    return content, ids, decided.hearing.id


def _snapshot(content: rc.RulingContent, ids: Sequence[int]) -> dict[str, Any]:
    data = content.to_dict()
    data["_member_ids"] = list(ids)
    return data


# --------------------------------------------------------------------------- draft


async def do_draft_ruling(
    session: AsyncSession, settings: Settings, *, actor: User, case_id: int
) -> Ruling:
    """Compose (or re-compose) the draft ruling of a decided case for the members to approve.

    A new draft is a new version; an existing draft is updated in place and keeps its
    approvals only if its text did not change.
    """
    require_staff(actor)
    case = await session.scalar(
        select(Case)
        .options(selectinload(Case.parties), selectinload(Case.claims))
        .where(Case.id == case_id)
        .with_for_update()
    )
    if case is None:
        raise NotFound("No such case.")
    if case.status not in (CaseStatus.DECIDED, CaseStatus.RULING_ISSUED):
        raise Conflict(
            "Cannot draft a ruling for case {number}, because it is {status}.",
            number=case.number,
            status=LazyText(case.status.value),
        )
    draft = await session.scalar(
        select(Ruling).where(Ruling.case_id == case.id, Ruling.state == RulingState.DRAFT)
    )
    now = utcnow()
    if draft is not None:
        before = text_digest(draft.content)
        content, ids, hearing_id = await compose_from_db(
            session,
            settings,
            case,
            number=draft.number,
            code=draft.verification_code,
            issued_at=now,
        )
        snapshot = _snapshot(content, ids)
        if text_digest(snapshot) != before:
            for approval in await approvals_of(session, draft.id):
                await session.delete(approval)
        draft.content = snapshot
        draft.hearing_id = hearing_id
        await session.flush()
        await do_record(
            session,
            actor_id=actor.id,
            action="ruling.redrafted",
            subject_type="ruling",
            subject_id=draft.id,
            payload={"text_sha256": text_digest(snapshot)},
        )
        return draft
    version = (
        await session.scalar(select(func.max(Ruling.version)).where(Ruling.case_id == case.id)) or 0
    ) + 1
    number = f"R-{case.number}-{version}"
    code = new_verification_code()
    content, ids, hearing_id = await compose_from_db(
        session, settings, case, number=number, code=code, issued_at=now
    )
    snapshot = _snapshot(content, ids)
    ruling = Ruling(
        case_id=case.id,
        hearing_id=hearing_id,
        version=version,
        number=number,
        verification_code=code,
        state=RulingState.DRAFT,
        content=snapshot,
        created_at=now,
    )
    session.add(ruling)
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="ruling.drafted",
        subject_type="ruling",
        subject_id=ruling.id,
        payload={"case": case.number, "number": number, "text_sha256": text_digest(snapshot)},
    )
    return ruling


# --------------------------------------------------------------------------- approve


async def do_answer_approval(
    session: AsyncSession,
    settings: Settings,
    *,
    actor: User,
    ruling_id: int,
    otp: str,
    approve: bool = True,
    reason: str | None = None,
) -> Approval:
    """A member who voted confirms (or refuses) the ruling's final text with a fresh code."""
    ruling = await _lock_ruling(session, ruling_id)
    await access.require_readable_case(session, actor, ruling.case_id)
    if ruling.state != RulingState.DRAFT:
        raise Conflict(
            "Cannot approve ruling {number}, because it is {state}.",
            number=ruling.number,
            state=_state_name(ruling.state.value),
        )
    if actor.id not in member_ids(ruling):
        raise Forbidden("Only the members who voted on this case approve its ruling.")
    existing = await session.scalar(
        select(Approval.id).where(Approval.ruling_id == ruling.id, Approval.member_id == actor.id)
    )
    if existing is not None:
        raise Conflict("You have already answered for ruling {number}.", number=ruling.number)
    why = normalize_persian(reason or "").strip()
    if not approve and not why:
        raise Invalid("Give the reason for refusing to approve.", field="reason")
    if len(why) > 2000:
        raise Invalid("The reason is too long (at most 2000 characters).", field="reason")
    await verify_otp(session, settings, actor, otp, purpose="approval")
    approval = Approval(
        ruling_id=ruling.id,
        member_id=actor.id,
        approved=approve,
        reason=why or None,
        at=utcnow(),
    )
    session.add(approval)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "You have already answered for ruling {number}.", number=ruling.number
        ) from None
    await do_record(
        session,
        actor_id=actor.id,
        action="ruling.approved" if approve else "ruling.refused",
        subject_type="ruling",
        subject_id=ruling.id,
        payload={"text_sha256": text_digest(ruling.content), "reason": why or None},
    )
    return approval


def approvals_needed(ruling: Ruling) -> int:
    """A majority of the members who voted."""
    return len(member_ids(ruling)) // 2 + 1


# --------------------------------------------------------------------------- issue


def signer_config(settings: Settings) -> SignerConfig:
    return SignerConfig(
        pkcs12_path=settings.pki_dir / "board.p12",
        tsa_url=settings.tsa_url,
        reason="Ruling of the labour dispute board",
    )


async def _render_and_sign(
    settings: Settings, content: rc.RulingContent | rc.MinutesContent, step: Progress
) -> bytes:
    config = signer_config(settings)
    if not config.pkcs12_path.is_file():
        raise Conflict(
            "The board's signing certificate is not set up. Run `heyat pki init` or import one."
        )
    step("rendering")
    try:
        pdf = await render_pdf_async(content)
    except FontMissingError as exc:
        raise Conflict(
            "PDF rendering is not available: the Vazirmatn font is not installed."
        ) from exc
    except RenderError as exc:
        raise Conflict("The document could not be rendered: {reason}", reason=str(exc)) from exc
    step("signing")
    try:
        return await sign_pdf(pdf, config)
    except SigningError as exc:
        raise Conflict("The document could not be signed: {reason}", reason=str(exc)) from exc


async def do_issue_ruling(
    session: AsyncSession,
    settings: Settings,
    *,
    actor: User,
    ruling_id: int,
) -> Ruling:
    """Render the approved draft with its approvals, sign it (PAdES), store and issue it.

    A diagnosis ruling waits for notification and objection; a settlement ruling (no
    objection window) is final on issue. A previously issued version becomes superseded.
    """
    require_staff(actor)

    def step(name: str) -> None:
        _report(ruling_id, name)

    step("composing")
    try:
        ruling = await _lock_ruling(session, ruling_id)
        if ruling.state != RulingState.DRAFT:
            raise Conflict(
                "Cannot issue ruling {number}, because it is {state}.",
                number=ruling.number,
                state=_state_name(ruling.state.value),
            )
        case = await session.scalar(
            select(Case)
            .options(selectinload(Case.parties), selectinload(Case.claims))
            .where(Case.id == ruling.case_id)
            .with_for_update()
        )
        if case is None:
            raise NotFound("The record is missing.")
        if case.status not in (CaseStatus.DECIDED, CaseStatus.RULING_ISSUED):
            raise Conflict(
                "Cannot issue a ruling for case {number}, because it is {status}.",
                number=case.number,
                status=LazyText(case.status.value),
            )
        approvals = await approvals_of(session, ruling.id)
        yes = {a.member_id: a.at for a in approvals if a.approved}
        voters = member_ids(ruling)
        if len([m for m in yes if m in voters]) < approvals_needed(ruling):
            raise Conflict(
                "Ruling {number} needs {need} approvals of the members who voted; it has {have}.",
                number=ruling.number,
                have=len(yes),
                need=approvals_needed(ruling),
            )
        now = utcnow()
        content, ids, _hearing_id = await compose_from_db(
            session,
            settings,
            case,
            number=ruling.number,
            code=ruling.verification_code,
            issued_at=now,
            approved=yes,
        )
        snapshot = _snapshot(content, ids)
        if text_digest(snapshot) != text_digest(ruling.content):
            raise Conflict(
                "The votes changed after ruling {number} was drafted: draft it again.",
                number=ruling.number,
            )
        signed = await _render_and_sign(settings, content, step)
        step("storing")
        digest = await do_store_pdf(session, settings.files_dir, signed)
        final = content.is_final_on_issue
        ruling.content = snapshot
        ruling.pdf_sha256 = digest
        ruling.signed_at = now
        ruling.issued_at = now
        ruling.issued_by_id = actor.id
        ruling.state = RulingState.FINAL if final else RulingState.ISSUED
        ruling.final_at = now if final else None
        for older in await session.scalars(
            select(Ruling).where(
                Ruling.case_id == case.id,
                Ruling.id != ruling.id,
                Ruling.state.in_([RulingState.ISSUED, RulingState.FINAL]),
            )
        ):
            older.state = RulingState.SUPERSEDED
        await session.flush()
        target = CaseStatus.FINAL if final else CaseStatus.RULING_ISSUED
        if case.status != target:  # a corrected, re-issued ruling leaves the case where it is
            await do_transition(session, case, target, actor=actor, reason=ruling.number)
        await do_record(
            session,
            actor_id=actor.id,
            action="ruling.issued",
            subject_type="ruling",
            subject_id=ruling.id,
            payload={
                "number": ruling.number,
                "pdf_sha256": digest,
                "text_sha256": text_digest(snapshot),
                "final": final,
            },
        )
        await _notify_parties_issued(session, case, ruling)
    except Exception as exc:
        message = getattr(exc, "message", None) or "The ruling could not be issued."
        _report(ruling_id, "failed", message)
        raise
    step("issued")
    return ruling


async def _notify_parties_issued(session: AsyncSession, case: Case, ruling: Ruling) -> None:
    for party in case.parties:
        if party.user_id is None:
            continue
        user = await session.get(User, party.user_id)
        if user is None:
            continue
        locale = user.locale
        await do_notify_user(
            session,
            user,
            subject=gettext("The ruling of case {number} was issued", locale, number=case.number),
            body=gettext(
                "Ruling of case {number} issued; your first download counts as notification.",
                locale,
                number=case.number,
            ),
            dedupe_key=f"ruling-issued:{ruling.id}:{user.id}",
        )


# --------------------------------------------------------------------------- download


async def do_record_download(
    session: AsyncSession, *, actor: User, ruling: Ruling
) -> list[Notification]:
    """A party's first download of an issued ruling is its notification (ابلاغ).

    It starts that party's objection window; the ruling's deadline is the latest of
    the notified parties' deadlines. Later downloads change nothing.
    """
    if ruling.state != RulingState.ISSUED:
        return []
    made: list[Notification] = []
    for party in await parties_of(session, actor, ruling.case_id):
        if await notification_of(session, ruling, party) is not None:
            continue
        note = Notification(
            ruling_id=ruling.id, party_id=party.id, user_id=actor.id, notified_at=utcnow()
        )
        try:
            async with session.begin_nested():
                session.add(note)
                await session.flush()
        except IntegrityError:
            continue  # a concurrent first download recorded it
        made.append(note)
        deadline = party_deadline(ruling, note)
        if deadline is not None and (
            ruling.objection_deadline is None or deadline > ruling.objection_deadline
        ):
            ruling.objection_deadline = deadline
        await do_record(
            session,
            actor_id=actor.id,
            action="ruling.notified",
            subject_type="ruling",
            subject_id=ruling.id,
            payload={"party_id": party.id, "deadline": deadline.isoformat() if deadline else None},
        )
    await session.flush()
    return made


async def read_ruling_pdf(
    session: AsyncSession, settings: Settings, *, actor: User, ruling_id: int
) -> tuple[Ruling, bytes]:
    """The signed PDF for someone who may read the case; records a party's notification."""
    ruling, _case = await require_ruling(session, actor, ruling_id)
    if ruling.pdf_sha256 is None:
        raise Conflict("Ruling {number} has not been issued yet.", number=ruling.number)
    await do_record_download(session, actor=actor, ruling=ruling)
    return ruling, await load_blob(settings.files_dir, ruling.pdf_sha256)


async def render_draft_pdf(
    session: AsyncSession, *, actor: User, ruling_id: int
) -> tuple[Ruling, bytes]:
    """An unsigned preview of a draft for the board (members read it before approving)."""
    ruling, _case = await require_ruling(session, actor, ruling_id)
    if actor.role == Role.PARTY or ruling.state != RulingState.DRAFT:
        raise NotFound("No such ruling.")
    try:
        return ruling, await render_pdf_async(ruling_content(ruling))
    except FontMissingError as exc:
        raise Conflict(
            "PDF rendering is not available: the Vazirmatn font is not installed."
        ) from exc


# --------------------------------------------------------------------------- objection


async def _settlement_board(session: AsyncSession, office_id: int) -> Board:
    board = await session.scalar(
        select(Board).where(Board.office_id == office_id, Board.type == BoardType.SETTLEMENT)
    )
    if board is None:
        raise Conflict("This labour office has no dispute settlement board to hear the objection.")
    return board


async def do_object(
    session: AsyncSession,
    settings: Settings,
    *,
    actor: User,
    ruling_id: int,
    text: str,
) -> Objection:
    """A party's written objection within its window opens the appeal case at the
    settlement board: parties and claims copied, the ruling PDF attached."""
    ruling = await _lock_ruling(session, ruling_id)
    case = await access.require_readable_case(session, actor, ruling.case_id, full=True)
    parties = await parties_of(session, actor, case.id)
    if not parties:
        raise Forbidden("Only a party of the case or their representative may object.")
    body = normalize_persian(text or "").strip()
    if not body:
        raise Invalid("Write the grounds of your objection.", field="text")
    if len(body) > MAX_OBJECTION_CHARS:
        raise Invalid(
            "The objection is too long (at most {limit} characters).",
            field="text",
            limit=MAX_OBJECTION_CHARS,
        )
    if ruling.content.get("objection_days") is None:
        raise Conflict(
            "Ruling {number} is final on issue; no objection can be filed within the system.",
            number=ruling.number,
        )
    if ruling.state != RulingState.ISSUED:
        raise Conflict(
            "Cannot object to ruling {number}, because it is {state}.",
            number=ruling.number,
            state=_state_name(ruling.state.value),
        )
    party = parties[0]
    notification = await notification_of(session, ruling, party)
    if notification is None:  # objecting shows the party has the ruling: that serves it
        await do_record_download(session, actor=actor, ruling=ruling)
        notification = await notification_of(session, ruling, party)
    deadline = party_deadline(ruling, notification)
    now = utcnow()
    if deadline is not None and now > deadline:
        raise Conflict(
            "The objection period for ruling {number} ended on {deadline}.",
            number=ruling.number,
            deadline=deadline,
        )
    board = await _settlement_board(session, case.office_id)
    appeal = Case(
        office_id=case.office_id,
        board_id=board.id,
        number=await do_take_case_number(session, case.office_id, now),
        tracking_code=await do_take_tracking_code(session),
        status=CaseStatus.DRAFT,
        filed_via=FiledVia.APPEAL,
        created_by_id=actor.id,
        created_at=now,
        filed_at=now,
        workshop_name=case.workshop_name,
        workshop_address=case.workshop_address,
        employment_start=case.employment_start,
        employment_end=case.employment_end,
        last_monthly_wage=case.last_monthly_wage,
        description=body,
        appeal_of_id=case.id,
    )
    session.add(appeal)
    await session.flush()
    for p in case.parties:
        session.add(
            CaseParty(
                case_id=appeal.id,
                role=p.role,
                user_id=p.user_id,
                full_name=p.full_name,
                national_id=p.national_id,
                registration_number=p.registration_number,
                mobile=p.mobile,
                address=p.address,
                representative_name=p.representative_name,
                representative_user_id=p.representative_user_id,
            )
        )
    for c in case.claims:
        session.add(
            Claim(
                case_id=appeal.id,
                position=c.position,
                kind=c.kind,
                title=c.title,
                amount=c.amount,
                period_from=c.period_from,
                period_to=c.period_to,
                description=c.description,
            )
        )
    if ruling.pdf_sha256 is None:
        raise NotFound("The record is missing.")
    session.add(
        Document(
            case_id=appeal.id,
            sha256=ruling.pdf_sha256,
            title=f"رأی {ruling.number}",
            kind="ruling",
            visibility=DocumentVisibility.PARTIES,
            original_filename=f"{ruling.number}.pdf",
            uploaded_by_id=actor.id,
            uploaded_at=now,
        )
    )
    await do_index_search_terms(
        session, appeal.id, [case.workshop_name, *(p.full_name for p in case.parties)]
    )
    await do_transition(session, appeal, CaseStatus.FILED, actor=actor, reason=ruling.number)
    objection = Objection(
        ruling_id=ruling.id,
        party_id=party.id,
        user_id=actor.id,
        text=body,
        at=now,
        appeal_case_id=appeal.id,
    )
    session.add(objection)
    ruling.state = RulingState.APPEALED
    await session.flush()
    await do_transition(
        session, case, CaseStatus.APPEALED, actor=actor, reason=f"appeal {appeal.number}"
    )
    await do_record(
        session,
        actor_id=actor.id,
        action="ruling.objected",
        subject_type="ruling",
        subject_id=ruling.id,
        payload={"appeal_case": appeal.number, "party_id": party.id},
    )
    await do_notify_user(
        session,
        actor,
        subject=gettext(
            "Your objection was registered as case {number}", actor.locale, number=appeal.number
        ),
        body=gettext(
            "Your objection to case {old} is now appeal case {number}. Tracking code: {code}",
            actor.locale,
            old=case.number,
            number=appeal.number,
            code=appeal.tracking_code,
        ),
        dedupe_key=f"objection:{objection.id}",
    )
    return objection


# --------------------------------------------------------------------------- finality


async def do_finality_sweep(session: AsyncSession) -> list[Ruling]:
    """Mark final every issued ruling whose objection window has passed. Idempotent."""
    now = utcnow()
    due = list(
        await session.scalars(
            select(Ruling)
            .where(
                Ruling.state == RulingState.ISSUED,
                Ruling.objection_deadline.is_not(None),
                Ruling.objection_deadline < now,
            )
            .order_by(Ruling.id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    for ruling in due:
        ruling.state = RulingState.FINAL
        ruling.final_at = now
        case = await session.get(Case, ruling.case_id)
        if case is None:
            raise NotFound("The record is missing.")
        if case.status == CaseStatus.RULING_ISSUED:
            await do_transition(session, case, CaseStatus.FINAL, actor=None, reason=ruling.number)
        await do_record(
            session,
            actor_id=None,
            action="ruling.final",
            subject_type="ruling",
            subject_id=ruling.id,
            payload={
                "number": ruling.number,
                "deadline": ruling.objection_deadline.isoformat()
                if ruling.objection_deadline
                else None,
            },
        )
    await session.flush()
    return due


# --------------------------------------------------------------------------- minutes


def _phase(value: object) -> rc.Phase | None:
    try:
        return rc.Phase(str(value))
    except ValueError:
        return None


async def compose_minutes(
    session: AsyncSession, settings: Settings, hearing: Hearing, *, code: str
) -> rc.MinutesContent:
    board = await session.get(Board, hearing.board_id)
    if board is None:
        raise NotFound("The record is missing.")
    office = await session.get(LabourOffice, board.office_id)
    if office is None:
        raise NotFound("The record is missing.")
    panel = {
        p.member_id: p
        for p in await session.scalars(select(PanelSeat).where(PanelSeat.hearing_id == hearing.id))
    }
    agenda = list(
        await session.scalars(
            select(Case.number)
            .join(AgendaItem, AgendaItem.case_id == Case.id)
            .where(AgendaItem.hearing_id == hearing.id)
            .order_by(AgendaItem.position)
        )
    )
    stays = list(
        await session.scalars(
            select(Attendance)
            .where(Attendance.hearing_id == hearing.id)
            .order_by(Attendance.joined_at, Attendance.id)
        )
    )
    said = list(
        await session.scalars(
            select(Statement).where(Statement.hearing_id == hearing.id).order_by(Statement.at)
        )
    )
    motions = list(
        await session.scalars(
            select(Motion)
            .where(Motion.hearing_id == hearing.id, Motion.state == MotionState.CLOSED)
            .order_by(Motion.closed_at, Motion.id)
        )
    )
    ballots: dict[int, list[Ballot]] = {m.id: [] for m in motions}
    if motions:
        for b in await session.scalars(
            select(Ballot).where(Ballot.motion_id.in_(list(ballots))).order_by(Ballot.id)
        ):
            ballots[b.motion_id].append(b)
    user_ids = {a.user_id for a in stays} | {s.author_id for s in said}
    user_ids |= {b.member_id for items in ballots.values() for b in items}
    users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(user_ids)))}
    groups: dict[int, str] = {}
    for m in motions:
        for item in m.eligible or []:
            if "member_id" in item and "group" in item:
                groups[int(item["member_id"])] = str(item["group"])
    groups.update({i: p.group.value for i, p in panel.items()})

    def name(user_id: int) -> str:
        user = users.get(user_id)
        return user.full_name if user else f"#{user_id}"

    roles = {"member", "secretary", "claimant", "respondent", "representative"}
    attendance = [
        rc.Attendance(
            name=name(a.user_id),
            role=a.role if a.role in roles else "observer",
            seat_group=rc.SeatGroup(groups[a.user_id]) if a.user_id in groups else None,
            joined_at=a.joined_at,
            left_at=a.left_at,
        )
        for a in stays
    ]
    phases: list[rc.PhaseRecord] = []
    for event in await session.scalars(
        select(RoomEvent)
        .where(RoomEvent.hearing_id == hearing.id, RoomEvent.type == "phase")
        .order_by(RoomEvent.seq)
    ):
        phase = _phase(event.payload.get("phase") or event.payload.get("to"))
        if phase is not None:
            phases.append(rc.PhaseRecord(phase, event.at))
    started = stays[0].joined_at if stays else hearing.starts_at
    closed_at = motions[-1].closed_at if motions else None
    if not phases:  # no room log: what the votes themselves show
        phases.append(rc.PhaseRecord(rc.Phase.HEARING, started))
        if motions:
            phases.append(rc.PhaseRecord(rc.Phase.VOTING, motions[0].opened_at))
        if closed_at is not None:
            phases.append(rc.PhaseRecord(rc.Phase.CLOSED, closed_at))
    records: list[rc.MotionRecord] = []
    dissents: list[rc.MinorityOpinion] = []
    for m in motions:
        decision, awarded = _decision(m)
        records.append(
            rc.MotionRecord(
                title=m.text,
                result=decision,
                ballots=tuple(
                    rc.BallotRecord(
                        name(b.member_id),
                        rc.SeatGroup(groups.get(b.member_id, "government")),
                        _vote(m.kind, b.choice),
                    )
                    for b in ballots[m.id]
                ),
                awarded_rials=awarded,
            )
        )
        losing = _losing_choice(m)
        for b in ballots[m.id]:
            if losing and b.choice == losing and b.opinion and b.opinion.strip():
                dissents.append(rc.MinorityOpinion(name(b.member_id), b.opinion.strip()))
    heads = [m.chain_head_at_close for m in motions if m.chain_head_at_close]
    return rc.MinutesContent(
        board=rc.Board(board.name_fa, rc.BoardType(board.type.value), office.name_fa),
        hearing_ref=f"H-{hearing.id}",
        case_numbers=tuple(n for n in agenda if n),
        hearing_started_at=started,
        hearing_closed_at=closed_at,
        attendance=tuple(attendance),
        phases=tuple(phases),
        statements=tuple(
            rc.Statement(s.at, name(s.author_id), s.body) for s in said if s.kind != "system"
        ),
        motions=tuple(records),
        dissents=tuple(dissents),
        audit_chain_head=heads[-1] if heads else await get_chain_head(session),
        verification_code=code,
        verification_url=verification_url(settings, code),
        locale="fa",
    )


async def do_issue_minutes(
    session: AsyncSession, settings: Settings, *, actor: User, hearing_id: int
) -> Minutes:
    """Compose, render, sign and store the minutes of a held session (once per hearing)."""
    require_staff(actor)
    hearing = await session.scalar(
        select(Hearing).where(Hearing.id == hearing_id).with_for_update()
    )
    if hearing is None:
        raise NotFound("No such hearing.")
    if await session.scalar(select(Minutes.id).where(Minutes.hearing_id == hearing.id)):
        raise Conflict("The minutes of this session have already been signed.")
    if hearing.status not in (
        HearingStatus.HELD,
        HearingStatus.FAILED_QUORUM,
        HearingStatus.IN_PROGRESS,
    ):
        raise Conflict(
            "Cannot sign the minutes of a session that has not been held ({status}).",
            status=LazyText(hearing.status.value),
        )
    code = new_verification_code()
    content = await compose_minutes(session, settings, hearing, code=code)
    signed = await _render_and_sign(settings, content, lambda _step: None)
    digest = await do_store_pdf(session, settings.files_dir, signed)
    minutes = Minutes(
        hearing_id=hearing.id,
        content=content.to_dict(),
        pdf_sha256=digest,
        verification_code=code,
        signed_at=utcnow(),
    )
    session.add(minutes)
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="minutes.signed",
        subject_type="hearing",
        subject_id=hearing.id,
        payload={"pdf_sha256": digest},
    )
    return minutes


async def read_minutes_pdf(
    session: AsyncSession, settings: Settings, *, actor: User, minutes_id: int
) -> tuple[Minutes, bytes]:
    """Minutes for staff, the board's members and parties of a case on the agenda."""
    minutes = await session.get(Minutes, minutes_id)
    if minutes is None or minutes.pdf_sha256 is None:
        raise NotFound("No such minutes.")
    case_ids = list(
        await session.scalars(
            select(AgendaItem.case_id).where(AgendaItem.hearing_id == minutes.hearing_id)
        )
    )
    allowed = is_staff(actor)
    for case_id in case_ids:
        if allowed:
            break
        allowed = await access.can_read(session, actor, case_id)
    if not allowed:
        raise NotFound("No such minutes.")
    return minutes, await load_blob(settings.files_dir, minutes.pdf_sha256)


# --------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Verdict:
    """What the verifier says. ``problems`` are msgids, shown translated."""

    authentic: bool
    kind: str | None = None  # "ruling" | "minutes"
    problems: tuple[str, ...] = ()
    sha256: str | None = None
    number: str | None = None
    case_number: str | None = None
    state: str | None = None
    issued_at: datetime | None = None
    final_at: datetime | None = None
    objection_deadline: datetime | None = None
    board: str | None = None
    signature: VerifyResult | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "authentic": self.authentic,
            "kind": self.kind,
            "problems": [gettext(p) for p in self.problems],
            "sha256": self.sha256,
            "number": self.number,
            "case_number": self.case_number,
            "state": self.state,
            "issued_at": self.issued_at.isoformat() if self.issued_at else None,
            "final_at": self.final_at.isoformat() if self.final_at else None,
            "objection_deadline": (
                self.objection_deadline.isoformat() if self.objection_deadline else None
            ),
            "board": self.board,
            "signature": None
            if self.signature is None
            else {
                "signed": self.signature.signed,
                "intact": self.signature.intact,
                "valid": self.signature.valid,
                "trusted": self.signature.trusted,
                "signer": self.signature.signer_subject,
                "error": self.signature.error,
            },
        }


NOT_SIGNED = "The signature is missing, broken, or not made with this installation's certificate."
UNKNOWN_FILE = "The file's fingerprint matches no ruling or minutes issued here."
SUPERSEDED = "This ruling was replaced by a later ruling of the same case."
UNKNOWN_CODE = "No ruling or minutes has this verification code."
NOT_ISSUED = "This ruling has not been issued."


async def _latest_issued(session: AsyncSession, case_id: int) -> int | None:
    latest: int | None = await session.scalar(
        select(Ruling.id)
        .where(Ruling.case_id == case_id, Ruling.state != RulingState.DRAFT)
        .order_by(Ruling.version.desc())
        .limit(1)
    )
    return latest


async def _verdict_for_ruling(
    session: AsyncSession, ruling: Ruling, problems: list[str], signature: VerifyResult | None
) -> Verdict:
    case = await session.get(Case, ruling.case_id)
    if case is None:
        raise NotFound("The record is missing.")
    if ruling.state == RulingState.DRAFT:
        problems.append(NOT_ISSUED)
    elif (
        ruling.state == RulingState.SUPERSEDED
        or await _latest_issued(session, case.id) != ruling.id
    ):
        problems.append(SUPERSEDED)
    return Verdict(
        authentic=not problems,
        kind="ruling",
        problems=tuple(problems),
        sha256=ruling.pdf_sha256,
        number=ruling.number,
        case_number=case.number,
        state=ruling.state.value,
        issued_at=ruling.issued_at,
        final_at=ruling.final_at,
        objection_deadline=ruling.objection_deadline,
        board=str(ruling.content.get("board", {}).get("name", "")),
        signature=signature,
    )


def _verdict_for_minutes(
    minutes: Minutes, problems: list[str], signature: VerifyResult | None
) -> Verdict:
    return Verdict(
        authentic=not problems,
        kind="minutes",
        problems=tuple(problems),
        sha256=minutes.pdf_sha256,
        number=str(minutes.content.get("hearing_ref", "")),
        case_number="، ".join(minutes.content.get("case_numbers", [])) or None,
        state="signed",
        issued_at=minutes.signed_at,
        board=str(minutes.content.get("board", {}).get("name", "")),
        signature=signature,
    )


async def check_pdf(session: AsyncSession, settings: Settings, data: bytes) -> Verdict:
    """Authentic = the signature is intact, valid and trusted by this installation's CA,
    the file is exactly an issued ruling (or minutes), and it is the case's latest ruling."""
    ca = settings.pki_dir / "ca.pem"
    if not ca.is_file():
        raise Conflict("This installation has no certificate authority set up yet.")
    signature = await verify_pdf(data, ca.read_bytes())
    problems: list[str] = [] if signature.authentic else [NOT_SIGNED]
    digest = hashlib.sha256(data).hexdigest()
    ruling = await session.scalar(select(Ruling).where(Ruling.pdf_sha256 == digest))
    if ruling is not None:
        return await _verdict_for_ruling(session, ruling, problems, signature)
    minutes = await session.scalar(select(Minutes).where(Minutes.pdf_sha256 == digest))
    if minutes is not None:
        return _verdict_for_minutes(minutes, problems, signature)
    problems.append(UNKNOWN_FILE)
    return Verdict(authentic=False, problems=tuple(problems), sha256=digest, signature=signature)


async def check_code(session: AsyncSession, code: str) -> Verdict:
    """What the record behind a verification code says (the QR code leads here)."""
    normal = normalize_code(code)
    if normal is None:
        return Verdict(authentic=False, problems=(UNKNOWN_CODE,))
    ruling = await session.scalar(select(Ruling).where(Ruling.verification_code == normal))
    if ruling is not None:
        return await _verdict_for_ruling(session, ruling, [], None)
    minutes = await session.scalar(select(Minutes).where(Minutes.verification_code == normal))
    if minutes is not None:
        return _verdict_for_minutes(minutes, [], None)
    return Verdict(authentic=False, problems=(UNKNOWN_CODE,))


async def latest_issued_pdf(
    session: AsyncSession, settings: Settings, case_number: str
) -> tuple[Ruling, bytes]:
    """The case's latest issued ruling and its signed PDF (for ``heyat ruling export``)."""
    case = await session.scalar(
        select(Case).where(Case.number == normalize_digits(case_number.strip()))
    )
    if case is None:
        raise NotFound("No case has the number {number}.", number=case_number)
    ruling_id = await _latest_issued(session, case.id)
    ruling = await session.get(Ruling, ruling_id) if ruling_id else None
    if ruling is None or ruling.pdf_sha256 is None:
        raise NotFound("Case {number} has no issued ruling.", number=case_number)
    return ruling, await load_blob(settings.files_dir, ruling.pdf_sha256)
