"""The minutes (صورتجلسه) of a held session: who attended (once each, with role, first
arrival, last departure and minutes present), the phases (a call-back of the parties
from deliberation marked), the statements of the hearing of the parties, every vote with
its ballots and the minority opinions; signed like a ruling, once per hearing, and
readable by staff and the parties of a case on its agenda. What the board said without
the parties (deliberation, voting) and ordinary chat are never in them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.audit.services import do_record
from hearing_server.cases.files import (
    StoredBytes,
    discard_unrecorded,
    do_record_file,
    store_file_bytes,
)
from hearing_server.cases.models import Case
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import Database
from hearing_server.errors import Conflict, NotFound
from hearing_server.i18n import LazyText
from hearing_server.issuance.codes import new_verification_code, verification_url
from hearing_server.issuance.compose import (
    RULING_LOCALE,
    ballots_of,
    chain_head_of,
    checkpoint_of,
    decision_of,
    document_board,
    losing_choice,
    panel_of,
    seat_groups,
    vote_of,
)
from hearing_server.issuance.files import load_blob
from hearing_server.issuance.models import Minutes
from hearing_server.issuance.queries import require_staff
from hearing_server.issuance.signing import render_and_sign
from hearing_server.rooms.chat import minutes_statements
from hearing_server.rooms.models import RoomEvent
from hearing_server.rooms.presence import attendance_by_person
from hearing_server.scheduling.access import access_hearing
from hearing_server.scheduling.models import AgendaItem, Hearing, HearingStatus
from hearing_server.voting.models import Motion, MotionState
from rulings import compose as rc

ATTENDANCE_ROLES = {
    "chair",
    "member",
    "secretary",
    "admin",
    "claimant",
    "respondent",
    "representative",
}
"""Roles the minutes name; anyone else in the room is listed as an observer."""


def _phase(value: object) -> rc.Phase | None:
    try:
        return rc.Phase(str(value))
    except ValueError:
        return None


async def compose_minutes(
    session: AsyncSession, settings: Settings, hearing: Hearing, *, code: str
) -> rc.MinutesContent:
    """The minutes' contents from the room's log, attendance, statements and closed votes."""
    board = await document_board(session, hearing.board_id)
    panel = await panel_of(session, hearing.id)
    agenda = list(
        await session.scalars(
            select(Case.number)
            .join(AgendaItem, AgendaItem.case_id == Case.id)
            .where(AgendaItem.hearing_id == hearing.id)
            .order_by(AgendaItem.position)
        )
    )
    people = await attendance_by_person(session, hearing)
    said = await minutes_statements(session, hearing.id)
    motions = list(
        await session.scalars(
            select(Motion)
            .where(Motion.hearing_id == hearing.id, Motion.state == MotionState.CLOSED)
            .order_by(Motion.closed_at, Motion.id)
        )
    )
    ballots = await ballots_of(session, motions)
    user_ids = {s.author_id for s in said}
    user_ids |= {b.member_id for items in ballots.values() for b in items}
    users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(user_ids)))}
    groups = seat_groups(motions, panel)

    def name(user_id: int) -> str:
        user = users.get(user_id)
        return user.full_name if user else f"#{user_id}"

    attendance = [
        rc.Attendance(
            name=person.name,
            role=person.role if person.role in ATTENDANCE_ROLES else "observer",
            seat_group=rc.SeatGroup(person.group.value) if person.group else None,
            joined_at=person.first_arrival,
            left_at=person.last_departure,
            minutes_present=round(person.seconds_present / 60),
        )
        for person in people
    ]
    phases: list[rc.PhaseRecord] = []
    for event in await session.scalars(
        select(RoomEvent)
        .where(RoomEvent.hearing_id == hearing.id, RoomEvent.type == "phase")
        .order_by(RoomEvent.seq)
    ):
        phase = _phase(event.payload.get("phase") or event.payload.get("to"))
        if phase is not None:
            # The board called the parties back from deliberation into the hearing.
            recalled = phase is rc.Phase.HEARING and _phase(event.payload.get("from")) in (
                rc.Phase.DELIBERATION,
                rc.Phase.VOTING,
            )
            phases.append(rc.PhaseRecord(phase, event.at, recalled))
    started = min((p.first_arrival for p in people), default=hearing.starts_at)
    closed_at = motions[-1].closed_at if motions else None
    if not phases:  # no room log: what the votes themselves show
        phases.append(rc.PhaseRecord(rc.Phase.HEARING, started))
        if motions:
            phases.append(rc.PhaseRecord(rc.Phase.VOTING, motions[0].opened_at))
        if closed_at is not None:
            phases.append(rc.PhaseRecord(rc.Phase.CLOSED, closed_at))
    closings = [p.started_at for p in phases if p.phase is rc.Phase.CLOSED]
    if closings:
        closed_at = closings[-1]
    records: list[rc.MotionRecord] = []
    dissents: list[rc.MinorityOpinion] = []
    for m in motions:
        decision, awarded = decision_of(m)
        records.append(
            rc.MotionRecord(
                title=m.text,
                result=decision,
                ballots=tuple(
                    rc.BallotRecord(
                        name(b.member_id),
                        rc.SeatGroup(groups.get(b.member_id, "government")),
                        vote_of(m.kind, b.choice),
                    )
                    for b in ballots[m.id]
                ),
                awarded_rials=awarded,
            )
        )
        losing = losing_choice(m)
        for b in ballots[m.id]:
            if losing and b.choice == losing and b.opinion and b.opinion.strip():
                dissents.append(rc.MinorityOpinion(name(b.member_id), b.opinion.strip()))
    checkpoint = await checkpoint_of(session)
    return rc.MinutesContent(
        board=board,
        hearing_ref=f"H-{hearing.id}",
        case_numbers=tuple(n for n in agenda if n),
        hearing_started_at=started,
        hearing_closed_at=closed_at,
        attendance=tuple(attendance),
        phases=tuple(phases),
        statements=tuple(rc.Statement(s.at, name(s.author_id), s.body) for s in said),
        motions=tuple(records),
        dissents=tuple(dissents),
        audit_chain_head=await chain_head_of(session, motions),
        audit_checkpoint_seq=checkpoint[0],
        audit_checkpoint_hash=checkpoint[1],
        verification_code=code,
        verification_url=verification_url(settings, code),
        locale=RULING_LOCALE,
    )


@dataclass(frozen=True)
class MinutesPlan:
    """What the first transaction of :func:`issue_minutes` composed."""

    hearing_id: int
    status: HearingStatus
    code: str
    content: rc.MinutesContent


async def _signable(session: AsyncSession, actor: User, hearing_id: int) -> Hearing:
    require_staff(actor)
    await access_hearing(session, actor, hearing_id)
    hearing = await session.scalar(
        select(Hearing)
        .where(Hearing.id == hearing_id)
        .with_for_update()
        .execution_options(populate_existing=True)
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
    return hearing


async def compose_minutes_issue(
    session: AsyncSession, settings: Settings, *, actor: User, hearing_id: int
) -> MinutesPlan:
    """The first transaction of :func:`issue_minutes`: check and compose (writes nothing)."""
    hearing = await _signable(session, actor, hearing_id)
    code = new_verification_code()
    content = await compose_minutes(session, settings, hearing, code=code)
    return MinutesPlan(hearing.id, hearing.status, code, content)


async def do_record_minutes(
    session: AsyncSession,
    settings: Settings,
    *,
    actor: User,
    plan: MinutesPlan,
    stored: StoredBytes,
) -> Minutes:
    """The second transaction of :func:`issue_minutes`: the minutes still unsigned (not
    signed by another request meanwhile) and the session where it was; then record."""
    hearing = await _signable(session, actor, plan.hearing_id)
    if hearing.status != plan.status:
        raise Conflict(
            "The session changed while its minutes were being signed: nothing was signed. Sign them again."  # noqa: E501  # one-line msgid for scripts/po.py
        )
    digest = await do_record_file(session, settings.files_dir, stored)
    minutes = Minutes(
        hearing_id=hearing.id,
        content=plan.content.to_dict(),
        pdf_sha256=digest,
        verification_code=plan.code,
        signed_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(minutes)
            await session.flush()
    except IntegrityError:
        raise Conflict("The minutes of this session have already been signed.") from None
    await do_record(
        session,
        actor_id=actor.id,
        action="minutes.signed",
        subject_type="hearing",
        subject_id=hearing.id,
        payload={"pdf_sha256": digest},
    )
    return minutes


async def _no_progress(_step: str) -> None:
    return None


async def issue_minutes(
    db: Database, settings: Settings, *, actor: User, hearing_id: int
) -> Minutes:
    """Compose, render, sign and store the minutes of a held session (once per hearing),
    with no slow work inside a transaction: compose in one, render, sign and write the
    file with none open, re-check and record in a second (a change meanwhile is 409)."""
    async with db.transaction(write=False) as session:
        plan = await compose_minutes_issue(session, settings, actor=actor, hearing_id=hearing_id)
    signed = await render_and_sign(settings, plan.content, _no_progress)
    stored = await store_file_bytes(settings.files_dir, signed)
    try:
        async with db.transaction() as session:
            return await do_record_minutes(session, settings, actor=actor, plan=plan, stored=stored)
    except BaseException:
        await discard_unrecorded(db, settings.files_dir, stored)
        raise


async def do_issue_minutes(
    session: AsyncSession, settings: Settings, *, actor: User, hearing_id: int
) -> Minutes:
    """Sign the minutes in the caller's one transaction: for the demo seed only (a CLI
    command while nothing else runs); a served request uses :func:`issue_minutes`."""
    plan = await compose_minutes_issue(session, settings, actor=actor, hearing_id=hearing_id)
    signed = await render_and_sign(settings, plan.content, _no_progress)
    stored = await store_file_bytes(settings.files_dir, signed)
    return await do_record_minutes(session, settings, actor=actor, plan=plan, stored=stored)


async def read_minutes_pdf(
    session: AsyncSession, settings: Settings, *, actor: User, minutes_id: int
) -> tuple[Minutes, bytes]:
    minutes = await access_minutes(session, actor, minutes_id)
    return minutes, await load_blob(settings.files_dir, minutes.pdf_sha256 or "")


async def access_minutes(session: AsyncSession, actor: User, minutes_id: int) -> Minutes:
    """Issued minutes, for whoever may see their hearing (the one hearing rule: staff,
    its panel, the board's seated members, parties of its cases); else ``NotFound``."""
    minutes = await session.get(Minutes, minutes_id)
    if minutes is None or minutes.pdf_sha256 is None:
        raise NotFound("No such minutes.")
    try:
        await access_hearing(session, actor, minutes.hearing_id)
    except NotFound:
        raise NotFound("No such minutes.") from None
    return minutes
