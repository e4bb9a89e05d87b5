"""A party's objection to an issued ruling: within that party's own window, written
grounds open the appeal case at the office's dispute settlement board, with the parties
and claims copied and the ruling's PDF attached, and the ruling becomes appealed. Every
party may object once; a later party's objection within its own window joins the same
appeal case (both are listed there, see :func:`objections_of_case`)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.audit.services import do_record
from hearing_server.boards.models import Board
from hearing_server.cases import access
from hearing_server.cases.models import (
    Case,
    CaseParty,
    CaseStatus,
    Claim,
    Document,
    DocumentVisibility,
    FiledVia,
)
from hearing_server.cases.numbers import do_take_case_number, do_take_tracking_code
from hearing_server.cases.reasons import system_reason
from hearing_server.cases.search import do_index_search_terms
from hearing_server.cases.workflow import do_transition
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import Conflict, Forbidden, Invalid, NotFound
from hearing_server.i18n import LazyText, gettext
from hearing_server.issuance.compose import RULING_LOCALE
from hearing_server.issuance.models import Objection, Ruling, RulingState
from hearing_server.issuance.notices import window_of
from hearing_server.issuance.queries import (
    lock_ruling,
    notification_of,
    parties_of,
)
from hearing_server.issuance.rulings import do_record_download
from hearing_server.law.rules import BoardType
from hearing_server.notifications.services import do_notify_user
from hearing_server.text import normalize_persian

MAX_OBJECTION_CHARS = 5000


async def settlement_board(session: AsyncSession, office_id: int) -> Board:
    """The office's dispute settlement board, which hears objections to its rulings."""
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
    ruling = await lock_ruling(session, ruling_id)
    case, _standing = await access.access_case(session, actor, ruling.case_id, full=True)
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
    if ruling.state not in (RulingState.ISSUED, RulingState.APPEALED):
        raise Conflict(
            "Cannot object to ruling {number}, because it is {state}.",
            number=ruling.number,
            state=LazyText(ruling.state.value),
        )
    earlier = list(
        await session.scalars(
            select(Objection).where(Objection.ruling_id == ruling.id).order_by(Objection.id)
        )
    )
    done = {o.party_id for o in earlier}
    waiting = [p for p in parties if p.id not in done]
    if not waiting:
        raise Conflict("You have already objected to ruling {number}.", number=ruling.number)
    party = waiting[0]
    notification = await notification_of(session, ruling, party)
    if notification is None:  # objecting shows the party has the ruling: that serves it
        await do_record_download(session, actor=actor, ruling=ruling)
        notification = await notification_of(session, ruling, party)
    window = await window_of(session, ruling, notification)
    now = utcnow()
    if window is None or not window.is_open(now):
        raise Conflict(
            "The objection period for ruling {number} ended on {deadline}.",
            number=ruling.number,
            deadline=window.last_day if window else now.date(),
        )
    joined = next((o.appeal_case_id for o in earlier if o.appeal_case_id), None)
    if joined is not None:
        return await _do_join_appeal(
            session, actor=actor, ruling=ruling, case=case, party=party, body=body, appeal_id=joined
        )
    board = await settlement_board(session, case.office_id)
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
            title=f"{gettext('ruling', RULING_LOCALE)} {ruling.number}",
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
        session,
        case,
        CaseStatus.APPEALED,
        actor=actor,
        reason=system_reason("appeal", number=appeal.number),
    )
    await do_record(
        session,
        actor_id=actor.id,
        action="ruling.objected",
        subject_type="ruling",
        subject_id=ruling.id,
        payload={"appeal_case": appeal.number, "party_id": party.id},
    )
    await _do_tell_objector(session, actor, case, appeal, objection)
    return objection


async def _do_tell_objector(
    session: AsyncSession, actor: User, case: Case, appeal: Case, objection: Objection
) -> None:
    """The objecting party hears which appeal case now carries their objection."""
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
        office_id=appeal.office_id,
    )


async def _do_join_appeal(
    session: AsyncSession,
    *,
    actor: User,
    ruling: Ruling,
    case: Case,
    party: CaseParty,
    body: str,
    appeal_id: int,
) -> Objection:
    """A further party's objection joins the appeal case the first one opened."""
    appeal = await session.get(Case, appeal_id)
    if appeal is None:
        raise NotFound("The record is missing.")
    objection = Objection(
        ruling_id=ruling.id,
        party_id=party.id,
        user_id=actor.id,
        text=body,
        at=utcnow(),
        appeal_case_id=appeal.id,
    )
    try:
        async with session.begin_nested():
            session.add(objection)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "You have already objected to ruling {number}.", number=ruling.number
        ) from None
    await do_record(
        session,
        actor_id=actor.id,
        action="ruling.objected",
        subject_type="ruling",
        subject_id=ruling.id,
        payload={"appeal_case": appeal.number, "party_id": party.id, "joined": True},
    )
    await do_record(
        session,
        actor_id=actor.id,
        action="case.objection_joined",
        subject_type="case",
        subject_id=appeal.id,
        payload={"ruling": ruling.number, "party_id": party.id},
    )
    await _do_tell_objector(session, actor, case, appeal, objection)
    return objection


async def objections_of_case(
    session: AsyncSession, actor: User, case_id: int
) -> list[tuple[Objection, CaseParty, Ruling]]:
    """The objections heard in appeal case ``case_id`` (or made against the rulings of a
    first-instance case), oldest first, for whoever may read that case."""
    await access.access_case(session, actor, case_id)
    rows = await session.execute(
        select(Objection, CaseParty, Ruling)
        .join(CaseParty, CaseParty.id == Objection.party_id)
        .join(Ruling, Ruling.id == Objection.ruling_id)
        .where(or_(Objection.appeal_case_id == case_id, Ruling.case_id == case_id))
        .order_by(Objection.at, Objection.id)
    )
    return [(o, p, r) for o, p, r in rows.all()]
