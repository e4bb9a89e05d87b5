"""A ruling's life inside the app, up to the parties holding it: draft it from the
decided votes, have the members who voted sign (approve) its text with a code, render,
sign, store and issue it, and record each party's first download as its notification
(ابلاغ).

Who signs: every member who voted signs, a dissenter too (the signature is printed as
a dissenter's). The ruling issues only when each of them has signed or the secretary
has recorded why that signature is missing, and when, on every claim, at least the
statute's majority (``BoardRules.votes_needed``) of the members who made the decision
have signed.

Re-drafting keeps the approvals only when the text is unchanged. Issuing runs no slow
work inside a transaction (:func:`issue_ruling`): compose in one, render, sign and write
the file with none open, re-check and record in a second.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.accounts.models import Role, User
from hearing_server.accounts.services import verify_otp
from hearing_server.audit.services import do_record
from hearing_server.cases import access
from hearing_server.cases.files import (
    StoredBytes,
    discard_unrecorded,
    do_record_file,
    store_file_bytes,
)
from hearing_server.cases.models import Case, CaseStatus
from hearing_server.cases.workflow import do_transition
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import Database
from hearing_server.errors import Conflict, Forbidden, Invalid, NotFound
from hearing_server.i18n import LazyText, gettext
from hearing_server.issuance.codes import new_verification_code
from hearing_server.issuance.compose import (
    compose_from_db,
    member_ids,
    ruling_content,
    signature_rule,
    snapshot,
    text_digest,
)
from hearing_server.issuance.files import load_blob
from hearing_server.issuance.models import (
    Approval,
    MissingSignature,
    Notification,
    NotificationMethod,
    Ruling,
    RulingState,
)
from hearing_server.issuance.notices import do_notify_party
from hearing_server.issuance.progress import IssueProgress
from hearing_server.issuance.queries import (
    access_ruling,
    approvals_of,
    lock_ruling,
    missing_signatures_of,
    notification_of,
    parties_of,
    require_staff,
)
from hearing_server.issuance.signing import render_and_sign, render_preview
from hearing_server.notifications.services import do_notify_user
from hearing_server.text import normalize_persian
from rulings import compose as rc

# --------------------------------------------------------------------------- draft

log = logging.getLogger(__name__)


async def do_draft_ruling(
    session: AsyncSession, settings: Settings, *, actor: User, case_id: int
) -> Ruling:
    """Compose (or re-compose) the draft ruling of a decided case for the members to approve.

    A new draft is a new version; an existing draft is updated in place and keeps its
    approvals only if its text did not change.
    """
    # Another party's case is 404 like a missing one; a party of this case is told why not.
    await access.access_case(
        session, actor, case_id, staff_only="Only the board secretary may do this."
    )
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
        data = snapshot(content, ids)
        if text_digest(data) != before:  # a new text: its signatures start again
            for approval in await approvals_of(session, draft.id):
                await session.delete(approval)
            for record in await missing_signatures_of(session, draft.id):
                await session.delete(record)
        draft.content = data
        draft.hearing_id = hearing_id
        await session.flush()
        await do_record(
            session,
            actor_id=actor.id,
            action="ruling.redrafted",
            subject_type="ruling",
            subject_id=draft.id,
            payload={"text_sha256": text_digest(data)},
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
    data = snapshot(content, ids)
    ruling = Ruling(
        case_id=case.id,
        hearing_id=hearing_id,
        version=version,
        number=number,
        verification_code=code,
        state=RulingState.DRAFT,
        content=data,
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
        payload={"case": case.number, "number": number, "text_sha256": text_digest(data)},
    )
    return ruling


async def render_draft_pdf(
    session: AsyncSession, *, actor: User, ruling_id: int
) -> tuple[Ruling, bytes]:
    """An unsigned preview of a draft for the board (members read it before approving)."""
    ruling, _case = await access_ruling(session, actor, ruling_id)
    if actor.role == Role.PARTY or ruling.state != RulingState.DRAFT:
        raise NotFound("No such ruling.")
    return ruling, await render_preview(ruling_content(ruling))


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
    ruling = await lock_ruling(session, ruling_id)
    await access.access_case(session, actor, ruling.case_id)
    if ruling.state != RulingState.DRAFT:
        raise Conflict(
            "Cannot approve ruling {number}, because it is {state}.",
            number=ruling.number,
            state=LazyText(ruling.state.value),
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


def signatures_needed(ruling: Ruling) -> int:
    """Every member who voted signs (or the secretary records why not)."""
    return len(member_ids(ruling))


# --------------------------------------------------------------------------- missing


async def do_record_missing_signature(
    session: AsyncSession,
    *,
    actor: User,
    ruling_id: int,
    member_id: int,
    reason: str,
) -> MissingSignature:
    """The secretary records why a member who voted has not signed the draft ruling."""
    require_staff(actor)
    ruling = await lock_ruling(session, ruling_id)
    await access.access_case(session, actor, ruling.case_id)
    if ruling.state != RulingState.DRAFT:
        raise Conflict(
            "Cannot change the signatures of ruling {number}, because it is {state}.",
            number=ruling.number,
            state=LazyText(ruling.state.value),
        )
    if member_id not in member_ids(ruling):
        raise Invalid("Choose one of the members who voted on this case.", field="member_id")
    why = normalize_persian(reason or "").strip()
    if not why:
        raise Invalid("Give the reason the signature is missing.", field="reason")
    if len(why) > 2000:
        raise Invalid("The reason is too long (at most 2000 characters).", field="reason")
    name = _member_name(ruling, member_id)
    signed = await session.scalar(
        select(Approval.id).where(
            Approval.ruling_id == ruling.id,
            Approval.member_id == member_id,
            Approval.approved.is_(True),
        )
    )
    if signed is not None:
        raise Conflict(
            "{name} has already signed ruling {number}.", name=name, number=ruling.number
        )
    already = Conflict(
        "Why {name} did not sign ruling {number} is already recorded.",
        name=name,
        number=ruling.number,
    )
    recorded = await session.scalar(
        select(MissingSignature.id).where(
            MissingSignature.ruling_id == ruling.id, MissingSignature.member_id == member_id
        )
    )
    if recorded is not None:
        raise already
    record = MissingSignature(
        ruling_id=ruling.id, member_id=member_id, reason=why, recorded_by_id=actor.id, at=utcnow()
    )
    try:
        async with session.begin_nested():
            session.add(record)
            await session.flush()
    except IntegrityError:
        raise already from None
    await do_record(
        session,
        actor_id=actor.id,
        action="ruling.signature_missing",
        subject_type="ruling",
        subject_id=ruling.id,
        payload={"member_id": member_id, "reason": why},
    )
    return record


def _member_name(ruling: Ruling, member_id: int) -> str:
    """The member's name as the ruling's snapshot prints it."""
    for i, member in zip(member_ids(ruling), ruling.content.get("members", []), strict=False):
        if i == member_id:
            return str(member.get("name", ""))
    return ""


async def check_signatures(
    session: AsyncSession, ruling: Ruling, case: Case
) -> tuple[dict[int, datetime], dict[int, str]]:
    """The signatures of ``ruling`` if it may issue: who signed when, and the recorded
    reasons of those who did not. Raises Conflict naming what is missing."""
    voters = member_ids(ruling)
    signed = {
        a.member_id: a.at
        for a in await approvals_of(session, ruling.id)
        if a.approved and a.member_id in voters
    }
    missing = {
        m.member_id: m.reason
        for m in await missing_signatures_of(session, ruling.id)
        if m.member_id in voters and m.member_id not in signed
    }
    unaccounted = [i for i in voters if i not in signed and i not in missing]
    if unaccounted:
        raise Conflict(
            "Ruling {number} cannot issue until every member who voted has signed it or the secretary has recorded why the signature is missing: {names}.",  # noqa: E501  # one-line msgid for scripts/po.py
            number=ruling.number,
            names=", ".join(_member_name(ruling, i) for i in unaccounted),
        )
    for majority in await signature_rule(session, case):
        have = len(majority.in_favour & signed.keys())
        if have < majority.needed:
            raise Conflict(
                "Ruling {number} needs the signatures of at least {need} members who voted for its decision on «{claim}»; {have} have signed.",  # noqa: E501  # one-line msgid for scripts/po.py
                number=ruling.number,
                need=majority.needed,
                claim=majority.title,
                have=have,
            )
    return signed, missing


# --------------------------------------------------------------------------- issue


@dataclass(frozen=True)
class IssuePlan:
    """What the first, short transaction of an issue read: the text to render and sign,
    and what the second transaction checks is still so before it records the issue."""

    ruling_id: int
    number: str
    content: rc.RulingContent
    data: dict[str, Any]  # the snapshot the issued ruling keeps (its text and signatures)
    at: datetime


async def compose_issue(
    session: AsyncSession, settings: Settings, *, actor: User, ruling_id: int
) -> IssuePlan:
    """Check that the approved draft may issue and compose its final text with the
    signatures: the first transaction of :func:`issue_ruling` (it writes nothing)."""
    require_staff(actor)
    ruling, case = await _issuable(session, actor, ruling_id)
    at = utcnow()
    content, data = await _compose_final(session, settings, ruling, case, at)
    if text_digest(data) != text_digest(ruling.content):
        raise Conflict(
            "The votes changed after ruling {number} was drafted: draft it again.",
            number=ruling.number,
        )
    return IssuePlan(ruling.id, ruling.number, content, data, at)


async def _issuable(session: AsyncSession, actor: User, ruling_id: int) -> tuple[Ruling, Case]:
    """The draft ruling and its case, locked, if the case is where a ruling issues."""
    ruling = await lock_ruling(session, ruling_id)
    await access.access_case(session, actor, ruling.case_id)
    if ruling.state != RulingState.DRAFT:
        raise Conflict(
            "Cannot issue ruling {number}, because it is {state}.",
            number=ruling.number,
            state=LazyText(ruling.state.value),
        )
    case = await session.scalar(
        select(Case)
        .options(selectinload(Case.parties), selectinload(Case.claims))
        .where(Case.id == ruling.case_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if case is None:
        raise NotFound("The record is missing.")
    if case.status not in (CaseStatus.DECIDED, CaseStatus.RULING_ISSUED):
        raise Conflict(
            "Cannot issue a ruling for case {number}, because it is {status}.",
            number=case.number,
            status=LazyText(case.status.value),
        )
    return ruling, case


async def _compose_final(
    session: AsyncSession, settings: Settings, ruling: Ruling, case: Case, at: datetime
) -> tuple[rc.RulingContent, dict[str, Any]]:
    yes, missing = await check_signatures(session, ruling, case)
    content, ids, _hearing_id = await compose_from_db(
        session,
        settings,
        case,
        number=ruling.number,
        code=ruling.verification_code,
        issued_at=at,
        approved=yes,
        missing=missing,
    )
    return content, snapshot(content, ids)


async def do_record_issue(
    session: AsyncSession,
    settings: Settings,
    *,
    actor: User,
    plan: IssuePlan,
    stored: StoredBytes,
) -> Ruling:
    """The second transaction of :func:`issue_ruling`: check that nothing changed while
    the PDF was rendered and signed with no transaction open — the ruling still a draft
    (not issued by another request meanwhile), the case where it was, the same votes,
    signatures and text — then record the issue. Anything changed is a Conflict (409)
    and nothing is written."""
    ruling, case = await _issuable(session, actor, plan.ruling_id)
    _content, data = await _compose_final(session, settings, ruling, case, plan.at)
    if data != plan.data:
        raise Conflict(
            "Ruling {number} changed while it was being signed (a vote, a signature or its text): nothing was issued. Issue it again.",  # noqa: E501  # one-line msgid for scripts/po.py
            number=ruling.number,
        )
    digest = await do_record_file(session, settings.files_dir, stored)
    now = plan.at
    final = plan.content.is_final_on_issue
    ruling.content = data
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
            "text_sha256": text_digest(data),
            "final": final,
        },
    )
    await _notify_parties_issued(session, case, ruling)
    return ruling


async def issue_ruling(
    db: Database,
    settings: Settings,
    *,
    actor: User,
    ruling_id: int,
    progress: IssueProgress | None = None,
) -> Ruling:
    """Render the approved draft with its approvals, sign it (PAdES), store and issue it.

    Owns its transactions (the boundary passes the database, not a session), so that no
    slow work runs inside one: a short transaction composes the text
    (:func:`compose_issue`); the PDF is rendered and signed in the pool with no
    transaction open, and its file written and fsynced; a second short transaction
    re-checks and records (:func:`do_record_issue`) — a change meanwhile (another request
    issued it, a vote or a signature changed) is refused with 409, nothing recorded and
    the file removed again.

    A diagnosis ruling waits for notification and objection; a settlement ruling (no
    objection window) is final on issue. A previously issued version becomes superseded.
    Each step is reported to ``progress`` (every process's issue page reads it), and a
    failure too; a report that cannot be stored is logged and the issue goes on.
    """
    require_staff(actor)

    async def report(name: str, error: str | None = None) -> None:
        if progress is None:
            return
        try:
            await progress.report(ruling_id, name, error)
        except Exception:  # the page shows "waiting" longer; the issue itself goes on
            log.exception("the progress of issuing ruling %s could not be stored", ruling_id)

    async def step(name: str) -> None:
        await report(name)

    await step("composing")
    try:
        async with db.transaction(write=False) as session:
            plan = await compose_issue(session, settings, actor=actor, ruling_id=ruling_id)
        signed = await render_and_sign(settings, plan.content, step)
        await step("storing")
        stored = await store_file_bytes(settings.files_dir, signed)
        try:
            async with db.transaction() as session:
                ruling = await do_record_issue(
                    session, settings, actor=actor, plan=plan, stored=stored
                )
        except BaseException:
            await discard_unrecorded(db, settings.files_dir, stored)
            raise
    except Exception as exc:
        message = getattr(exc, "message", None) or "The ruling could not be issued."
        await report("failed", message)
        raise
    await step("issued")
    return ruling


async def do_issue_ruling(
    session: AsyncSession, settings: Settings, *, actor: User, ruling_id: int
) -> Ruling:
    """Issue in the caller's one transaction: for the demo seed (``heyat demo``, a CLI
    command that builds a whole installation in one transaction while nothing else runs).
    A served request issues with :func:`issue_ruling`, which keeps the slow work out of
    every transaction."""
    plan = await compose_issue(session, settings, actor=actor, ruling_id=ruling_id)

    async def no_progress(_step: str) -> None:
        return None

    signed = await render_and_sign(settings, plan.content, no_progress)
    stored = await store_file_bytes(settings.files_dir, signed)
    return await do_record_issue(session, settings, actor=actor, plan=plan, stored=stored)


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
            office_id=case.office_id,
        )


# --------------------------------------------------------------------------- download


async def do_record_download(
    session: AsyncSession, *, actor: User, ruling: Ruling
) -> list[Notification]:
    """A party's first download of an issued ruling is its notification (ابلاغ).

    It starts the window of each party ``actor`` is or represents, and only theirs; later
    downloads change nothing. A ruling under appeal can still be served to the other party,
    whose own window then runs.
    """
    if ruling.state not in (RulingState.ISSUED, RulingState.APPEALED):
        return []
    made: list[Notification] = []
    for party in await parties_of(session, actor, ruling.case_id):
        if await notification_of(session, ruling, party) is not None:
            continue
        note = await do_notify_party(
            session, ruling, party, at=utcnow(), method=NotificationMethod.DOWNLOAD, user=actor
        )
        if note is not None:
            made.append(note)
    await session.flush()
    return made


async def read_ruling_pdf(
    session: AsyncSession, settings: Settings, *, actor: User, ruling_id: int
) -> tuple[Ruling, bytes]:
    """The signed PDF for someone who may read the case; records a party's notification."""
    ruling, _case = await access_ruling(session, actor, ruling_id)
    if ruling.pdf_sha256 is None:
        raise Conflict("Ruling {number} has not been issued yet.", number=ruling.number)
    await do_record_download(session, actor=actor, ruling=ruling)
    return ruling, await load_blob(settings.files_dir, ruling.pdf_sha256)
