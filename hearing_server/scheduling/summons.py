"""Summonses: who is called to a hearing and what they are sent (e-mail with the .ics,
SMS), the reminders kept for each of them, and a panel member's answer.

Parties are summoned per case (and their representatives with them); a named party
with no account yet gets an SMS at the number on the petition. Panel members are asked
whether they will attend; a refusal reaches the secretary with the quorum forecast.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.audit.services import do_record
from hearing_server.boards.models import Board, Seat
from hearing_server.cases.models import Case, CaseParty
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import Conflict, Forbidden
from hearing_server.i18n import LazyText
from hearing_server.notifications.services import SMS_LIMIT, do_enqueue, do_notify_user
from hearing_server.scheduling.access import access_hearing, board_office_id
from hearing_server.scheduling.forecast import forecast_text, quorum_forecast, rules_of
from hearing_server.scheduling.ics import room_url
from hearing_server.scheduling.models import (
    Hearing,
    HearingStatus,
    PanelAnswer,
    PanelSeat,
    Reminder,
    Summons,
)
from hearing_server.scheduling.notices import hearing_ics, text_in

REMINDERS: dict[str, timedelta] = {"24h": timedelta(hours=24), "1h": timedelta(hours=1)}


def check_changeable(hearing: Hearing) -> None:
    """``Conflict`` unless the hearing is still scheduled and has not begun."""
    if hearing.status is not HearingStatus.SCHEDULED:
        raise Conflict(
            "Cannot change hearing {hearing}, because it is {status}.",
            hearing=hearing.id,
            status=LazyText(hearing.status.value),
        )
    if hearing.starts_at <= utcnow():
        raise Conflict("Cannot change hearing {hearing}, because it has begun.", hearing=hearing.id)


async def summon_everyone(
    session: AsyncSession,
    settings: Settings,
    hearing: Hearing,
    board: Board,
    cases: Sequence[Case],
    parties: Sequence[CaseParty],
    chosen: dict[int, tuple[Seat, User]],
) -> None:
    """Write the summonses of a new hearing's parties and panel (``chosen``: seat id →
    (seat, member)), send one message per person and keep their reminders."""
    now = utcnow()
    numbers_by_case = {c.id: c.number or str(c.id) for c in cases}
    all_numbers = [numbers_by_case[c.id] for c in cases]
    link = room_url(settings.base_url, hearing.id)
    # Parties: one summons per party of each case; one message per person.
    recipients: dict[int, tuple[User, list[str], str]] = {}
    for party in parties:
        number = numbers_by_case[party.case_id]
        session.add(
            Summons(
                hearing_id=hearing.id,
                case_id=party.case_id,
                user_id=party.user_id,
                party_id=party.id,
                role=party.role.value,
                sent_at=now,
            )
        )
        if party.representative_user_id:
            session.add(
                Summons(
                    hearing_id=hearing.id,
                    case_id=party.case_id,
                    user_id=party.representative_user_id,
                    party_id=party.id,
                    role="representative",
                    sent_at=now,
                )
            )
        for user_id in (party.user_id, party.representative_user_id):
            if user_id is None:
                continue
            user = await session.get(User, user_id)
            if user is None:
                continue
            entry = recipients.setdefault(user_id, (user, [], "party"))
            if number not in entry[1]:
                entry[1].append(number)
        if party.user_id is None and party.mobile:
            # A named party with no account yet: an SMS summons to the number on the petition.
            await do_enqueue(
                session,
                channel="sms",
                address=party.mobile,
                subject=text_in("fa", "Summons to a hearing"),
                body=_sms("fa", hearing, [number], link),
                dedupe_key=f"summons:{hearing.id}:party:{party.id}:sms",
                office_id=board.office_id,
            )
    for _seat, member in chosen.values():
        session.add(Summons(hearing_id=hearing.id, user_id=member.id, role="member", sent_at=now))
        recipients.setdefault(member.id, (member, list(all_numbers), "member"))
    await session.flush()
    for user, numbers, kind in recipients.values():
        await send_summons(session, settings, hearing, board, user, numbers, kind)
        await ensure_reminders(session, hearing, user.id)


def _sms(locale: str, hearing: Hearing, numbers: Sequence[str], link: str) -> str:
    text = text_in(
        locale,
        "Heyat: hearing of case {numbers} on {when}. Join: {link}",
        numbers=", ".join(numbers),
        when=hearing.starts_at,
        link=link,
    )
    return text[:SMS_LIMIT]


async def send_summons(
    session: AsyncSession,
    settings: Settings,
    hearing: Hearing,
    board: Board,
    user: User,
    numbers: Sequence[str],
    kind: str,
) -> None:
    """One summons message to ``user``; ``kind`` ``member`` asks for an answer, ``party``
    says how to be represented instead."""
    locale = user.locale
    link = room_url(settings.base_url, hearing.id)
    body_lines = [
        text_in(locale, "You are summoned to a hearing of the {board}.", board=board.name(locale)),
        text_in(
            locale,
            "When: {when} (Tehran time), {minutes} minutes.",
            when=hearing.starts_at,
            minutes=hearing.duration_minutes,
        ),
        text_in(locale, "Cases: {numbers}", numbers=", ".join(numbers)),
        text_in(locale, "Join from home: {link}", link=link),
    ]
    if kind == "member":
        body_lines.append(
            text_in(
                locale,
                "Please answer whether you will attend: {link}",
                link=f"{settings.base_url.rstrip('/')}/hearings/{hearing.id}",
            )
        )
    else:
        body_lines.append(
            text_in(
                locale,
                "If you cannot attend, you may send a representative or file a written brief before the hearing. Your absence does not stop the hearing.",  # noqa: E501  # one-line msgid for scripts/po.py
            )
        )
    await do_notify_user(
        session,
        user,
        subject=text_in(locale, "Summons: hearing on {when}", when=hearing.starts_at),
        body="\n".join(body_lines),
        sms=_sms(locale, hearing, numbers, link),
        attachments=[hearing_ics(settings, hearing, board, numbers, locale)],
        dedupe_key=f"summons:{hearing.id}:{user.id}",
        office_id=board.office_id,
    )


async def ensure_reminders(session: AsyncSession, hearing: Hearing, user_id: int) -> None:
    """Keep one reminder of each kind for ``user_id``, due before the hearing's start
    (an unsent one is revived and moved; none when the lead time has already passed)."""
    now = utcnow()
    for kind, before in REMINDERS.items():
        due = hearing.starts_at - before
        existing = await session.scalar(
            select(Reminder).where(
                Reminder.hearing_id == hearing.id,
                Reminder.user_id == user_id,
                Reminder.kind == kind,
            )
        )
        if existing is not None:
            if existing.sent_at is None:
                existing.cancelled_at = None
                existing.due_at = due
            continue
        if due <= now:
            continue  # scheduled closer than the reminder's lead time: the summons suffices
        session.add(Reminder(hearing_id=hearing.id, user_id=user_id, kind=kind, due_at=due))
    await session.flush()


async def cancel_reminders(
    session: AsyncSession, hearing_id: int, user_id: int | None = None
) -> None:
    """Cancel the hearing's unsent reminders (only ``user_id``'s when given)."""
    stmt = (
        update(Reminder)
        .where(
            Reminder.hearing_id == hearing_id,
            Reminder.sent_at.is_(None),
            Reminder.cancelled_at.is_(None),
        )
        .values(cancelled_at=utcnow())
    )
    if user_id is not None:
        stmt = stmt.where(Reminder.user_id == user_id)
    await session.execute(stmt)


async def do_answer_summons(
    session: AsyncSession, *, actor: User, settings: Settings, hearing_id: int, attending: bool
) -> PanelSeat:
    """A panel member says whether they will attend; the secretary is told of a refusal."""
    hearing, _standing = await access_hearing(session, actor, hearing_id)
    seat = next((s for s in hearing.panel if s.member_id == actor.id), None)
    if seat is None:
        raise Forbidden("Only members on this hearing's panel can answer its summons.")
    check_changeable(hearing)
    seat.answer = PanelAnswer.ATTENDING if attending else PanelAnswer.NOT_ATTENDING
    seat.answered_at = utcnow()
    summons = await session.scalar(
        select(Summons).where(
            Summons.hearing_id == hearing.id, Summons.user_id == actor.id, Summons.role == "member"
        )
    )
    if summons is not None:
        summons.answered_at = seat.answered_at
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="hearing.answered",
        subject_type="hearing",
        subject_id=hearing.id,
        payload={"answer": seat.answer.value},
    )
    if not attending:
        secretary = await session.get(User, hearing.created_by_id)
        if secretary is not None:
            forecast = quorum_forecast(await rules_of(session, hearing), hearing.panel)
            loc = secretary.locale
            await do_notify_user(
                session,
                secretary,
                subject=text_in(
                    loc,
                    "{name} will not attend the hearing on {when}",
                    name=actor.full_name,
                    when=hearing.starts_at,
                ),
                body=text_in(
                    loc,
                    "{name} will not attend the hearing on {when}",
                    name=actor.full_name,
                    when=hearing.starts_at,
                )
                + "\n"
                + forecast_text(forecast, loc)
                + "\n"
                + f"{settings.base_url.rstrip('/')}/hearings/{hearing.id}",
                dedupe_key=f"declined:{hearing.id}:{actor.id}:{int(utcnow().timestamp())}",
                office_id=await board_office_id(session, hearing.board_id),
            )
    return seat
