"""Cases from petition to final ruling (DESIGN.md §4): filing, numbers, the state machine,
tracking, search and history.

Every function takes the session first and flushes, never commits; the boundary owns
the transaction. The allowed transitions are defined once, in :data:`TRANSITIONS`;
other parts (scheduling, rooms, voting, rulings) move a case only through
:func:`do_transition`, which refuses an illegal change with a readable error and
leaves the state as it was.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from persiantools.jdatetime import JalaliDate
from sqlalchemy import ColumnElement, and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, selectinload

from hearing_server.accounts import services as accounts
from hearing_server.accounts.models import Role, User
from hearing_server.audit.models import AuditEvent
from hearing_server.audit.services import do_record
from hearing_server.boards.models import Board
from hearing_server.cases.access import is_staff, readable_clause
from hearing_server.cases.models import (
    Case,
    CaseAccess,
    CaseNumberCounter,
    CaseParty,
    CaseSearchTerm,
    CaseStatus,
    CaseTransition,
    Claim,
    ClaimKind,
    FiledVia,
    PartyRole,
)
from hearing_server.clock import utcnow
from hearing_server.errors import Conflict, Forbidden, Invalid, NotFound, ValidationErrors
from hearing_server.i18n import LazyText, gettext, lazy
from hearing_server.notifications.services import do_enqueue, do_notify_user
from hearing_server.scheduling.models import AgendaItem, Hearing, HearingStatus
from hearing_server.text import (
    normalize_digits,
    normalize_mobile,
    normalize_national_id,
    normalize_persian,
    parse_rials,
)
from rulings.persian import TEHRAN, to_tehran

# ---------------------------------------------------------------- vocabulary

STATUS_LABELS: dict[CaseStatus, str] = {
    CaseStatus.DRAFT: lazy("draft"),
    CaseStatus.FILED: lazy("filed"),
    CaseStatus.RETURNED: lazy("returned"),
    CaseStatus.ACCEPTED: lazy("accepted"),
    CaseStatus.SCHEDULED: lazy("scheduled"),
    CaseStatus.IN_HEARING: lazy("in hearing"),
    CaseStatus.DECIDED: lazy("decided"),
    CaseStatus.RULING_ISSUED: lazy("ruling issued"),
    CaseStatus.APPEALED: lazy("appealed"),
    CaseStatus.FINAL: lazy("final"),
    CaseStatus.WITHDRAWN: lazy("withdrawn"),
}

CLAIM_LABELS: dict[ClaimKind, str] = {
    ClaimKind.UNPAID_WAGES: lazy("Unpaid wages"),
    ClaimKind.OVERTIME: lazy("Overtime"),
    ClaimKind.SEVERANCE: lazy("Severance (years-of-service pay)"),
    ClaimKind.ANNUAL_LEAVE: lazy("Annual leave pay"),
    ClaimKind.YEAR_END_BONUS: lazy("End-of-year bonus"),
    ClaimKind.REINSTATEMENT: lazy("Unjust dismissal / Reinstatement"),
    ClaimKind.INSURANCE: lazy("Social insurance contributions"),
    ClaimKind.OTHER: lazy("Other claim"),
}

# The documents to bring or upload for each kind of claim.
CHECKLIST: dict[ClaimKind, list[str]] = {
    ClaimKind.UNPAID_WAGES: [
        lazy("Payslips or bank statements of wages paid"),
        lazy("Employment contract, if there is one"),
    ],
    ClaimKind.OVERTIME: [
        lazy("Attendance records or time sheets"),
        lazy("Payslips of the period"),
    ],
    ClaimKind.SEVERANCE: [
        lazy("Employment contract, if there is one"),
        lazy("Social security insurance record"),
    ],
    ClaimKind.ANNUAL_LEAVE: [lazy("Leave records or a letter about leave taken")],
    ClaimKind.YEAR_END_BONUS: [lazy("Payslips of the year")],
    ClaimKind.REINSTATEMENT: [
        lazy("Dismissal letter or notice"),
        lazy("Employment contract, if there is one"),
    ],
    ClaimKind.INSURANCE: [lazy("Social security insurance record")],
    ClaimKind.OTHER: [lazy("Any document that supports the claim")],
}
COMMON_DOCUMENTS = [lazy("The worker's national ID card")]

DOCUMENT_KINDS: dict[str, str] = {
    "evidence": lazy("Evidence"),
    "contract": lazy("Employment contract"),
    "payslip": lazy("Payslip"),
    "insurance": lazy("Insurance record"),
    "id_card": lazy("National ID card"),
    "brief": lazy("Written brief"),
    "other": lazy("Other document"),
}

MONEY_CLAIMS = set(ClaimKind) - {ClaimKind.REINSTATEMENT}

# ---------------------------------------------------------------- the state machine


@dataclass(frozen=True)
class Move:
    """One allowed change of state. ``roles`` None: the calling part checks permission."""

    roles: frozenset[Role] | None
    needs_reason: bool = False


_STAFF = frozenset({Role.SECRETARY, Role.ADMIN})
_BOARD = frozenset({Role.SECRETARY, Role.ADMIN, Role.MEMBER})
_S = CaseStatus

TRANSITIONS: dict[tuple[CaseStatus, CaseStatus], Move] = {
    (_S.DRAFT, _S.FILED): Move(None),  # submit: the filer
    (_S.FILED, _S.ACCEPTED): Move(_STAFF),
    (_S.FILED, _S.RETURNED): Move(_STAFF, needs_reason=True),
    (_S.RETURNED, _S.FILED): Move(None),  # resubmit: the filer
    (_S.ACCEPTED, _S.SCHEDULED): Move(_BOARD),
    (_S.SCHEDULED, _S.ACCEPTED): Move(_BOARD),  # the hearing was cancelled
    (_S.SCHEDULED, _S.IN_HEARING): Move(_BOARD),
    (_S.IN_HEARING, _S.SCHEDULED): Move(_BOARD),  # postponed to a set date
    (_S.IN_HEARING, _S.ACCEPTED): Move(_BOARD),  # no quorum or no majority: to be reheard
    (_S.IN_HEARING, _S.DECIDED): Move(_BOARD),
    (_S.DECIDED, _S.RULING_ISSUED): Move(_BOARD),
    (_S.DECIDED, _S.FINAL): Move(_STAFF),  # a settlement board's ruling is final on issue
    (_S.RULING_ISSUED, _S.FINAL): Move(_STAFF),  # or the system when the window passed
    (_S.RULING_ISSUED, _S.APPEALED): Move(frozenset({Role.PARTY, *_STAFF})),
    (_S.APPEALED, _S.FINAL): Move(_STAFF),
    (_S.DRAFT, _S.WITHDRAWN): Move(None),
    (_S.FILED, _S.WITHDRAWN): Move(None),
    (_S.RETURNED, _S.WITHDRAWN): Move(None),
    (_S.ACCEPTED, _S.WITHDRAWN): Move(None),
    (_S.SCHEDULED, _S.WITHDRAWN): Move(None),
}

# What a refused move says, by the state it aimed at.
REFUSALS: dict[CaseStatus, str] = {
    _S.FILED: lazy("Cannot submit case {number}, because it is {status}."),
    _S.ACCEPTED: lazy("Cannot accept case {number}, because it is {status}."),
    _S.RETURNED: lazy("Cannot return case {number}, because it is {status}."),
    _S.SCHEDULED: lazy("Cannot schedule case {number}, because it is {status}."),
    _S.IN_HEARING: lazy("Cannot open the hearing of case {number}, because it is {status}."),
    _S.DECIDED: lazy("Cannot record a decision on case {number}, because it is {status}."),
    _S.RULING_ISSUED: lazy("Cannot issue a ruling on case {number}, because it is {status}."),
    _S.APPEALED: lazy("Cannot appeal case {number}, because it is {status}."),
    _S.FINAL: lazy("Cannot make case {number} final, because it is {status}."),
    _S.WITHDRAWN: lazy("Cannot withdraw case {number}, because it is {status}."),
    _S.DRAFT: lazy("Cannot make case {number} a draft again, because it is {status}."),
}


def case_label(case: Case) -> str:
    return case.number or f"#{case.id}"


def status_text(status: CaseStatus) -> LazyText:
    return LazyText(STATUS_LABELS[status])


def allowed_moves(status: CaseStatus) -> list[CaseStatus]:
    return [to for (frm, to) in TRANSITIONS if frm == status]


async def do_transition(
    session: AsyncSession,
    case: Case,
    to_status: CaseStatus,
    *,
    actor: User | None,
    reason: str | None = None,
) -> CaseTransition:
    """Move ``case`` to ``to_status`` if the table allows it from its current state.

    The state is re-read under a row lock (a conditional UPDATE), so two concurrent
    moves cannot both succeed. Writes a CaseTransition row and an audit event, and
    queues the parties' notifications. ``actor`` None means the system itself.
    Raises Conflict (state unchanged) for a move the table does not allow.
    """
    current = await session.scalar(select(Case.status).where(Case.id == case.id).with_for_update())
    if current is None:
        raise NotFound("No such case.")
    case.status = current
    move = TRANSITIONS.get((current, to_status))
    if move is None:
        raise Conflict(REFUSALS[to_status], number=case_label(case), status=status_text(current))
    if actor is not None and move.roles is not None and actor.role not in move.roles:
        raise Forbidden("You may not change the state of case {number}.", number=case_label(case))
    reason = normalize_persian(reason or "") or None
    if move.needs_reason and not reason:
        raise Invalid("Give the reason, so the filer knows what to correct.", field="reason")
    if reason and len(reason) > 2000:
        raise Invalid("The reason is too long (at most 2000 characters).", field="reason")
    values: dict[str, Any] = {"status": to_status}
    if to_status == _S.RETURNED:
        values["return_reason"] = reason
    changed = await session.execute(
        update(Case)
        .where(Case.id == case.id, Case.status == current)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(changed, "rowcount", 0) or 0) != 1:
        raise Conflict(REFUSALS[to_status], number=case_label(case), status=status_text(current))
    case.status = to_status
    if to_status == _S.RETURNED:
        case.return_reason = reason
    row = CaseTransition(
        case_id=case.id,
        from_status=current.value,
        to_status=to_status.value,
        actor_id=actor.id if actor else None,
        reason=reason,
        at=utcnow(),
    )
    session.add(row)
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id if actor else None,
        action=f"case.{to_status.value}",
        subject_type="case",
        subject_id=case.id,
        payload={"number": case.number, "from": current.value, "to": to_status.value}
        | ({"reason": reason} if reason else {}),
    )
    await _notify_parties(session, case, current, to_status, reason, row.id)
    return row


# ---------------------------------------------------------------- notifications

FILED_SMS = lazy(
    "Heyat: case {number} registered. Tracking code {code}. Track it with your national ID."
)

# A case that goes back to the board's queue (hearing cancelled, no quorum, no majority).
BACK_IN_QUEUE = (
    lazy("Case {number} will be heard at a new session"),
    lazy("Heyat: case {number} will be heard at a new session. You will be told the date."),
)

_MESSAGES: dict[CaseStatus, tuple[str, str]] = {
    _S.FILED: (
        lazy("Complaint registered: case {number}"),
        FILED_SMS,
    ),
    _S.ACCEPTED: (
        lazy("Case {number} accepted"),
        lazy("Heyat: case {number} was accepted by the board. You will be told the hearing date."),
    ),
    _S.RETURNED: (
        lazy("Case {number} returned to you"),
        lazy("Heyat: case {number} was returned to you: {reason} Correct it and submit it again."),
    ),
}


async def _notify_parties(
    session: AsyncSession,
    case: Case,
    from_status: CaseStatus,
    to_status: CaseStatus,
    reason: str | None,
    transition_id: int,
) -> None:
    """Queue the claimant's SMS (and email when they have one) for filed/accepted/returned."""
    if to_status not in _MESSAGES:
        return
    subject_id, body_id = _MESSAGES[to_status]
    if to_status == _S.ACCEPTED and from_status in (_S.SCHEDULED, _S.IN_HEARING):
        subject_id, body_id = BACK_IN_QUEUE  # accepted long ago: it is to be heard again
    claimants = list(
        await session.scalars(
            select(CaseParty).where(
                CaseParty.case_id == case.id, CaseParty.role == PartyRole.CLAIMANT
            )
        )
    )
    for party in claimants:
        user = await session.get(User, party.user_id) if party.user_id else None
        locale = user.locale if user else "fa"
        params = {
            "number": case.number or "",
            "code": format_tracking_code(case.tracking_code or ""),
            "reason": (reason or "")[:140],
        }
        subject = gettext(subject_id, locale, **params)
        body = gettext(body_id, locale, **params)
        key = f"case:{case.id}:{transition_id}:{party.id}"
        if user is not None and (user.mobile or user.email):
            await do_notify_user(
                session, user, subject=subject, body=body, sms=body, dedupe_key=key
            )
        elif party.mobile:
            await do_enqueue(
                session,
                channel="sms",
                address=party.mobile,
                subject=subject,
                body=body,
                dedupe_key=f"{key}:sms",
            )


# ---------------------------------------------------------------- numbers and codes

TRACKING_ALPHABET = "ACDEFHJKMNPQRTUVWXY34679"  # no 0/O, 1/I/L, 2/Z, 5/S, 8/B, 6/G
TRACKING_LENGTH = 10


def new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


def format_tracking_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}" if len(code) == TRACKING_LENGTH else code


def normalize_tracking_code(text: str) -> str:
    return "".join(c for c in normalize_digits(text).upper() if c.isalnum())


def jalali_year(moment: datetime) -> int:
    return int(JalaliDate(to_tehran(moment).date()).year)  # type: ignore[no-untyped-call]  # persiantools is untyped


async def do_take_case_number(session: AsyncSession, office_id: int, moment: datetime) -> str:
    """The next number of ``office_id`` for the Jalali year of ``moment``: 1405-000123.

    Gap-free and collision-free: the counter row is incremented by a conditional
    UPDATE ... RETURNING that takes its row lock (PostgreSQL) inside the caller's
    write transaction (BEGIN IMMEDIATE on SQLite); a rolled-back filing rolls the
    increment back with it.
    """
    year = jalali_year(moment)
    bump = (
        update(CaseNumberCounter)
        .where(CaseNumberCounter.office_id == office_id, CaseNumberCounter.jalali_year == year)
        .values(last_value=CaseNumberCounter.last_value + 1)
        .returning(CaseNumberCounter.last_value)
        .execution_options(synchronize_session=False)
    )
    value = (await session.execute(bump)).scalar_one_or_none()
    if value is None:
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]  # same API on both dialects
        await session.execute(
            dialect_insert(CaseNumberCounter)
            .values(office_id=office_id, jalali_year=year, last_value=0)
            .on_conflict_do_nothing()
        )
        value = (await session.execute(bump)).scalar_one()
    return f"{year}-{value:06d}"


# ---------------------------------------------------------------- the petition


@dataclass
class ClaimInput:
    kind: str
    amount: int | str | None = None
    period_from: date | str | None = None
    period_to: date | str | None = None
    title: str | None = None
    description: str | None = None


@dataclass
class PetitionInput:
    """What a filing form or the API sends. Text is normalised and checked here."""

    board_id: int | None = None
    claimant_name: str | None = None
    claimant_national_id: str | None = None
    claimant_mobile: str | None = None
    claimant_address: str | None = None
    employer_name: str | None = None
    workshop_name: str | None = None
    workshop_address: str | None = None
    employer_national_id: str | None = None
    employer_registration_number: str | None = None
    employer_mobile: str | None = None
    employment_start: date | str | None = None
    employment_end: date | str | None = None
    last_monthly_wage: int | str | None = None
    description: str | None = None
    claims: list[ClaimInput] = field(default_factory=list)


Errors = dict[str, tuple[str, dict[str, Any]]]

EMPLOYER_ID_MESSAGE = lazy(
    "Enter the employer's national ID (10 digits) or company ID (11 digits)."
)

_JALALI = re.compile(r"^(\d{4})[/\-.](\d{1,2})[/\-.](\d{1,2})$")


def parse_date(value: date | str | None) -> date | None:
    """A date typed as Jalali (1403/05/01, any digits) or ISO Gregorian (2024-07-22)."""
    if value is None or isinstance(value, date):
        return value
    text = normalize_digits(value).strip()
    if not text:
        return None
    match = _JALALI.match(text)
    if not match:
        raise ValueError("date_format")
    year, month, day = (int(g) for g in match.groups())
    try:
        if year < 1700:
            return JalaliDate(year, month, day).to_gregorian()  # type: ignore[no-untyped-call]  # persiantools is untyped
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError("date_invalid") from exc


def _text(value: str | None, limit: int) -> str | None:
    cleaned = normalize_persian(value or "")
    return cleaned[:limit] or None


@dataclass
class CleanPetition:
    board_id: int | None
    claimant_name: str | None
    claimant_national_id: str | None
    claimant_mobile: str | None
    claimant_address: str | None
    employer_name: str | None
    workshop_name: str | None
    workshop_address: str | None
    employer_national_id: str | None
    employer_registration_number: str | None
    employer_mobile: str | None
    employment_start: date | None
    employment_end: date | None
    last_monthly_wage: int | None
    description: str | None
    claims: list[Claim]


def _date_field(errors: Errors, key: str, value: date | str | None) -> date | None:
    try:
        parsed = parse_date(value)
    except ValueError:
        errors[key] = (lazy("Enter the date as year/month/day, e.g. 1403/05/01."), {})
        return None
    if parsed is not None and parsed > to_tehran(utcnow()).date() + timedelta(days=366):
        errors[key] = (lazy("This date is too far in the future."), {})
    return parsed


def _amount_field(errors: Errors, key: str, value: int | str | None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int):
        amount = value
    else:
        try:
            amount = parse_rials(value)
        except ValueError:
            errors[key] = (lazy("Enter the amount in rials, in digits only."), {})
            return None
    if amount <= 0 or amount > 10**15:
        errors[key] = (lazy("The amount must be more than zero rials."), {})
        return None
    return amount


def clean_petition(data: PetitionInput, *, complete: bool) -> CleanPetition:
    """Normalise and check the petition; every problem at once as ValidationErrors.

    With ``complete`` False (a draft) only what was typed is checked; when filing,
    everything required must be there.
    """
    errors: Errors = {}
    nid: str | None = None
    if data.claimant_national_id and data.claimant_national_id.strip():
        try:
            nid = normalize_national_id(data.claimant_national_id)
        except ValueError:
            errors["claimant_national_id"] = (
                "The national ID is not valid: it must be 10 digits with a correct check digit.",
                {},
            )
    mobile: str | None = None
    if data.claimant_mobile and data.claimant_mobile.strip():
        try:
            mobile = normalize_mobile(data.claimant_mobile)
        except ValueError:
            errors["claimant_mobile"] = ("The mobile number is not valid, e.g. 09121234567.", {})
    employer_nid: str | None = None
    if data.employer_national_id and data.employer_national_id.strip():
        digits = "".join(c for c in normalize_digits(data.employer_national_id) if c.isalnum())
        if len(digits) == 10:
            try:
                employer_nid = normalize_national_id(digits)
            except ValueError:
                errors["employer_national_id"] = (
                    EMPLOYER_ID_MESSAGE,
                    {},
                )
        elif len(digits) == 11 and digits.isascii() and digits.isdigit():
            employer_nid = digits
        else:
            errors["employer_national_id"] = (
                EMPLOYER_ID_MESSAGE,
                {},
            )
    employer_mobile: str | None = None
    if data.employer_mobile and data.employer_mobile.strip():
        try:
            employer_mobile = normalize_mobile(data.employer_mobile)
        except ValueError:
            errors["employer_mobile"] = ("The mobile number is not valid, e.g. 09121234567.", {})
    registration = _text(data.employer_registration_number, 32)
    if registration:
        registration = normalize_digits(registration)
    start = _date_field(errors, "employment_start", data.employment_start)
    end = _date_field(errors, "employment_end", data.employment_end)
    if start and end and end < start:
        errors["employment_end"] = ("The end of employment is before its start.", {})
    wage = _amount_field(errors, "last_monthly_wage", data.last_monthly_wage)
    claims: list[Claim] = []
    seen: set[ClaimKind] = set()
    for position, item in enumerate(data.claims, start=1):
        try:
            kind = ClaimKind(item.kind)
        except ValueError:
            errors["claims"] = ("Choose the claims from the list.", {})
            continue
        prefix = f"claims.{kind.value}"
        if kind in seen:
            errors[prefix] = (lazy("Each kind of claim may be listed once."), {})
            continue
        seen.add(kind)
        amount = _amount_field(errors, f"{prefix}.amount", item.amount)
        if kind == ClaimKind.REINSTATEMENT:
            amount = None
        elif complete and amount is None and f"{prefix}.amount" not in errors:
            errors[f"{prefix}.amount"] = (lazy("Enter the amount claimed, in rials."), {})
        period_from = _date_field(errors, f"{prefix}.period_from", item.period_from)
        period_to = _date_field(errors, f"{prefix}.period_to", item.period_to)
        if period_from and period_to and period_to < period_from:
            errors[f"{prefix}.period_to"] = (lazy("The end of the period is before its start."), {})
        title = _text(item.title, 200)
        if kind == ClaimKind.OTHER and complete and not title:
            errors[f"{prefix}.title"] = (lazy("Say what the other claim is."), {})
        claims.append(
            Claim(
                position=position,
                kind=kind,
                amount=amount,
                period_from=period_from,
                period_to=period_to,
                title=title,
                description=_text(item.description, 2000),
            )
        )
    clean = CleanPetition(
        board_id=data.board_id,
        claimant_name=_text(data.claimant_name, 200),
        claimant_national_id=nid,
        claimant_mobile=mobile,
        claimant_address=_text(data.claimant_address, 1000),
        employer_name=_text(data.employer_name, 200),
        workshop_name=_text(data.workshop_name, 200),
        workshop_address=_text(data.workshop_address, 1000),
        employer_national_id=employer_nid,
        employer_registration_number=registration,
        employer_mobile=employer_mobile,
        employment_start=start,
        employment_end=end,
        last_monthly_wage=wage,
        description=_text(data.description, 5000),
        claims=claims,
    )
    if complete:
        required = {
            "claimant_name": ("Enter the worker's full name.", clean.claimant_name),
            "claimant_national_id": ("Enter the worker's national ID.", nid),
            "claimant_mobile": ("Enter the worker's mobile number.", mobile),
            "employer_name": ("Enter the employer's name.", clean.employer_name),
            "workshop_address": ("Enter the workshop's address.", clean.workshop_address),
            "employment_start": ("Enter when the employment started.", start),
            "last_monthly_wage": ("Enter the last monthly wage, in rials.", wage),
        }
        for key, (message, value) in required.items():
            if value is None and key not in errors:
                errors[key] = (message, {})
        if not employer_nid and not registration and "employer_national_id" not in errors:
            errors["employer_national_id"] = (
                "Enter the employer's national ID or the workshop's registration number.",
                {},
            )
        if not claims and "claims" not in errors:
            errors["claims"] = ("Choose at least one claim.", {})
    if errors:
        raise ValidationErrors(errors)
    return clean


def _filed_via(actor: User) -> FiledVia:
    if actor.role == Role.PARTY:
        return FiledVia.SELF
    if actor.role == Role.CLERK:
        return FiledVia.CLERK
    if is_staff(actor):
        return FiledVia.SECRETARY
    raise Forbidden("You may not file complaints.")


async def _default_board(session: AsyncSession, board_id: int | None) -> Board:
    from hearing_server.law.rules import BoardType

    if board_id is not None:
        board = await session.get(Board, board_id)
        if board is None:
            raise ValidationErrors({"board_id": ("Choose a board from the list.", {})})
        return board
    board = await session.scalar(
        select(Board).where(Board.type == BoardType.DIAGNOSIS).order_by(Board.id).limit(1)
    )
    if board is None:
        raise Conflict("No diagnosis board is set up yet. Ask the administrator.")
    return board


async def require_editable_case(session: AsyncSession, *, actor: User, case_id: int) -> Case:
    """A draft or returned case that ``actor`` filed (or staff), with parties and claims."""
    case = await session.scalar(
        select(Case)
        .options(selectinload(Case.parties), selectinload(Case.claims))
        .where(Case.id == case_id, readable_clause(actor))
    )
    if case is None:
        raise NotFound("No such case.")
    if case.created_by_id != actor.id and not is_staff(actor):
        raise Forbidden("Only the person who filed this complaint may change it.")
    if case.status not in (_S.DRAFT, _S.RETURNED):
        raise Conflict(
            "Cannot change the petition of case {number}, because it is {status}.",
            number=case_label(case),
            status=status_text(case.status),
        )
    return case


async def do_save_petition(
    session: AsyncSession,
    *,
    actor: User,
    data: PetitionInput,
    case_id: int | None = None,
    complete: bool = False,
) -> Case:
    """Create or update a draft (or a returned case being corrected). Nothing is filed yet."""
    via = _filed_via(actor)
    if via == FiledVia.SELF:
        if not actor.national_id:
            raise ValidationErrors(
                {
                    "claimant_national_id": (
                        "Your account has no national ID. Ask the labour office to add it.",
                        {},
                    )
                }
            )
        data.claimant_name = actor.full_name
        data.claimant_national_id = actor.national_id
        data.claimant_mobile = data.claimant_mobile or actor.mobile
    clean = clean_petition(data, complete=complete)
    board = await _default_board(session, clean.board_id)
    if case_id is None:
        case = Case(
            office_id=board.office_id,
            board_id=board.id,
            status=_S.DRAFT,
            filed_via=via,
            created_by_id=actor.id,
            created_at=utcnow(),
        )
        session.add(case)
        await session.flush()
        if via == FiledVia.CLERK:
            session.add(CaseAccess(case_id=case.id, user_id=actor.id, reason="filed"))
    else:
        case = await require_editable_case(session, actor=actor, case_id=case_id)
        if case.status == _S.RETURNED and case.board_id != board.id:
            board = await _default_board(session, case.board_id)
        await session.execute(delete(CaseParty).where(CaseParty.case_id == case.id))
        await session.execute(delete(Claim).where(Claim.case_id == case.id))
        session.expire(case, ["parties", "claims"])
    case.board_id = board.id
    case.office_id = board.office_id
    case.workshop_name = clean.workshop_name
    case.workshop_address = clean.workshop_address
    case.employment_start = clean.employment_start
    case.employment_end = clean.employment_end
    case.last_monthly_wage = clean.last_monthly_wage
    case.description = clean.description
    session.add(
        CaseParty(
            case_id=case.id,
            role=PartyRole.CLAIMANT,
            user_id=actor.id if via == FiledVia.SELF else None,
            full_name=clean.claimant_name or "",
            national_id=clean.claimant_national_id,
            mobile=clean.claimant_mobile,
            address=clean.claimant_address,
        )
    )
    if clean.employer_name or clean.employer_national_id or clean.employer_registration_number:
        session.add(
            CaseParty(
                case_id=case.id,
                role=PartyRole.RESPONDENT,
                full_name=clean.employer_name or "",
                national_id=clean.employer_national_id,
                registration_number=clean.employer_registration_number,
                mobile=clean.employer_mobile,
                address=clean.workshop_address,
            )
        )
    for claim in clean.claims:
        claim.case_id = case.id
        session.add(claim)
    await session.flush()
    return await require_case(session, case.id)


async def require_case(session: AsyncSession, case_id: int) -> Case:
    case = await session.scalar(
        select(Case)
        .options(selectinload(Case.parties), selectinload(Case.claims))
        .where(Case.id == case_id)
        .execution_options(populate_existing=True)
    )
    if case is None:
        raise NotFound("No such case.")
    return case


def _input_from_case(case: Case) -> PetitionInput:
    claimant = next((p for p in case.parties if p.role == PartyRole.CLAIMANT), None)
    employer = next((p for p in case.parties if p.role == PartyRole.RESPONDENT), None)
    return PetitionInput(
        board_id=case.board_id,
        claimant_name=claimant.full_name if claimant else None,
        claimant_national_id=claimant.national_id if claimant else None,
        claimant_mobile=claimant.mobile if claimant else None,
        claimant_address=claimant.address if claimant else None,
        employer_name=employer.full_name if employer else None,
        workshop_name=case.workshop_name,
        workshop_address=case.workshop_address,
        employer_national_id=employer.national_id if employer else None,
        employer_registration_number=employer.registration_number if employer else None,
        employer_mobile=employer.mobile if employer else None,
        employment_start=case.employment_start,
        employment_end=case.employment_end,
        last_monthly_wage=case.last_monthly_wage,
        description=case.description,
        claims=[
            ClaimInput(
                kind=c.kind.value,
                amount=c.amount,
                period_from=c.period_from,
                period_to=c.period_to,
                title=c.title,
                description=c.description,
            )
            for c in case.claims
        ],
    )


async def _link_party_users(session: AsyncSession, case: Case) -> None:
    """Link the claimant (creating a party account keyed by national ID when there is
    none, so the worker can sign in later) and an employer who already has an account."""
    for party in case.parties:
        if party.user_id is not None or not party.national_id or len(party.national_id) != 10:
            continue
        user = await session.scalar(select(User).where(User.national_id == party.national_id))
        if user is None and party.role == PartyRole.CLAIMANT:
            user = await accounts.do_create_user(
                session,
                username=f"p{party.national_id}",
                full_name=party.full_name,
                password=secrets.token_urlsafe(24),
                role=Role.PARTY,
                national_id=party.national_id,
                mobile=party.mobile,
            )
        if user is not None and user.role == Role.PARTY:
            party.user_id = user.id
    await session.flush()


def _name_terms(*names: str | None) -> set[str]:
    terms: set[str] = set()
    for name in names:
        for word in normalize_persian(normalize_digits(name or "")).lower().split():
            word = word.strip("()[]«».,،:;\"'-")
            if len(word) >= 2:
                terms.add(word[:64])
    return terms


async def _index_terms(session: AsyncSession, case: Case) -> None:
    await do_index_search_terms(
        session, case.id, [case.workshop_name, *(p.full_name for p in case.parties)]
    )


async def do_index_search_terms(
    session: AsyncSession, case_id: int, names: list[str | None]
) -> None:
    """Replace the words the secretary's search finds ``case_id`` by (party and workshop names)."""
    await session.execute(delete(CaseSearchTerm).where(CaseSearchTerm.case_id == case_id))
    session.add_all([CaseSearchTerm(case_id=case_id, term=t) for t in sorted(_name_terms(*names))])
    await session.flush()


async def do_submit(session: AsyncSession, *, actor: User, case_id: int) -> Case:
    """File a draft, or resubmit a returned case: check it is complete, give it its
    number and tracking code (first filing only), and move it to ``filed``."""
    case = await require_editable_case(session, actor=actor, case_id=case_id)
    clean_petition(_input_from_case(case), complete=True)
    if case.status == _S.DRAFT:
        now = utcnow()
        case.number = await do_take_case_number(session, case.office_id, now)
        case.tracking_code = await do_take_tracking_code(session)
        case.filed_at = now
        await session.flush()
    await _link_party_users(session, case)
    await _index_terms(session, case)
    await do_transition(session, case, _S.FILED, actor=actor)
    return await require_case(session, case.id)


async def do_take_tracking_code(session: AsyncSession) -> str:
    while True:
        code = new_tracking_code()
        taken = await session.scalar(select(Case.id).where(Case.tracking_code == code))
        if taken is None:
            return code


async def do_file(session: AsyncSession, *, actor: User, data: PetitionInput) -> Case:
    """Save and file in one go (one transaction: all of it or nothing)."""
    draft = await do_save_petition(session, actor=actor, data=data, complete=True)
    return await do_submit(session, actor=actor, case_id=draft.id)


async def do_accept(session: AsyncSession, *, actor: User, case_id: int) -> Case:
    case = await require_case(session, case_id)
    await do_transition(session, case, _S.ACCEPTED, actor=actor)
    return case


async def do_return(session: AsyncSession, *, actor: User, case_id: int, reason: str) -> Case:
    case = await require_case(session, case_id)
    await do_transition(session, case, _S.RETURNED, actor=actor, reason=reason)
    return case


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class TimelineEntry:
    status: CaseStatus
    at: datetime
    reason: str | None


async def timeline(session: AsyncSession, case_id: int) -> list[TimelineEntry]:
    rows = await session.scalars(
        select(CaseTransition)
        .where(CaseTransition.case_id == case_id)
        .order_by(CaseTransition.at, CaseTransition.id)
    )
    return [TimelineEntry(CaseStatus(r.to_status), r.at, r.reason) for r in rows]


async def next_hearing(session: AsyncSession, case_id: int) -> datetime | None:
    return await session.scalar(
        select(AgendaItem.starts_at)
        .join(Hearing, Hearing.id == AgendaItem.hearing_id)
        .where(
            AgendaItem.case_id == case_id,
            AgendaItem.starts_at >= utcnow(),
            Hearing.status == HearingStatus.SCHEDULED,
        )
        .order_by(AgendaItem.starts_at)
        .limit(1)
    )


@dataclass(frozen=True)
class Tracked:
    number: str
    status: CaseStatus
    timeline: list[TimelineEntry]
    next_hearing: datetime | None


TRACK_LIMIT_PER_ADDRESS = 20
TRACK_LIMIT_PER_CODE = 5
TRACK_WINDOW = timedelta(minutes=15)


async def track(session: AsyncSession, *, code: str, national_id: str, ip: str) -> Tracked:
    """The public view of a case: status timeline and next hearing, nothing else.

    Wrong combinations are counted per address and per tracking code and throttled;
    the refusal is the same whether the code or the national ID was wrong.
    """
    normalized = normalize_tracking_code(code)[: TRACKING_LENGTH + 2]
    keys = [f"track:ip:{ip}", f"track:code:{normalized}"]
    await accounts.check_throttle(
        session, keys[:1], limit=TRACK_LIMIT_PER_ADDRESS, window=TRACK_WINDOW
    )
    await accounts.check_throttle(
        session, keys[1:], limit=TRACK_LIMIT_PER_CODE, window=TRACK_WINDOW
    )
    try:
        nid = normalize_national_id(national_id)
    except ValueError:
        nid = ""
    case = None
    if normalized and nid:
        case = await session.scalar(
            select(Case)
            .join(CaseParty, CaseParty.case_id == Case.id)
            .where(Case.tracking_code == normalized, CaseParty.national_id == nid)
            .limit(1)
        )
    if case is None or case.number is None:
        await accounts.do_count_attempt(session, keys)
        raise NotFound(
            "No case matches this tracking code and national ID.", code="track_miss", persist=True
        )
    return Tracked(
        number=case.number,
        status=case.status,
        timeline=[TimelineEntry(e.status, e.at, None) for e in await timeline(session, case.id)],
        next_hearing=await next_hearing(session, case.id),
    )


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    at: datetime
    action: str
    actor_name: str | None
    payload: dict[str, Any]


async def history(session: AsyncSession, *, actor: User, case_id: int) -> list[HistoryEntry]:
    """Every audit event about the case (transitions, uploads, downloads): staff only."""
    if not is_staff(actor):
        raise Forbidden("Only the board secretary sees a case's history.")
    rows = await session.execute(
        select(AuditEvent, User.full_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.subject_type == "case", AuditEvent.subject_id == str(case_id))
        .order_by(AuditEvent.seq)
    )
    return [
        HistoryEntry(event.seq, event.at, event.action, name, event.payload)
        for event, name in rows.all()
    ]


# ---------------------------------------------------------------- lists and search


@dataclass
class CaseFilter:
    status: CaseStatus | None = None
    board_id: int | None = None
    filed_from: date | None = None
    filed_to: date | None = None
    q: str | None = None
    page: int = 1
    per_page: int = 25
    include_drafts: bool = False


@dataclass(frozen=True)
class CaseRow:
    id: int
    number: str | None
    status: CaseStatus
    board_id: int
    filed_at: datetime | None
    created_at: datetime
    claimant: str | None
    respondent: str | None


@dataclass(frozen=True)
class CasePage:
    rows: list[CaseRow]
    page: int
    per_page: int
    has_next: bool


def _tehran_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=TEHRAN).astimezone(UTC)


def _prefix(column: InstrumentedAttribute[Any], value: str, dialect: str) -> ColumnElement[bool]:
    """``column`` starts with ``value``, as an index range on SQLite (whose LIKE ignores case
    and so skips the index) and as LIKE on PostgreSQL (whose collation may not sort bytes)."""
    if dialect == "sqlite":
        return and_(column >= value, column < value + "\uffff")
    return column.startswith(value, autoescape=True)


_NUMBER = re.compile(r"^\d{4}-\d{0,6}$")


def _search_condition(q: str, dialect: str) -> ColumnElement[bool] | None:
    text = normalize_persian(normalize_digits(q)).strip()
    if not text:
        return None
    compact = text.replace(" ", "")
    if _NUMBER.match(compact):
        if len(compact) == 11:
            return Case.number == compact
        return _prefix(Case.number, compact, dialect)
    if compact.isascii() and compact.isdigit() and len(compact) in (10, 11):
        return Case.id.in_(select(CaseParty.case_id).where(CaseParty.national_id == compact))
    code = normalize_tracking_code(compact)
    if (
        len(code) == TRACKING_LENGTH
        and code.isascii()
        and all(c in TRACKING_ALPHABET for c in code)
    ):
        return Case.tracking_code == code
    words = sorted(_name_terms(text))
    if not words:
        return Case.id.in_(select(CaseParty.case_id).where(CaseParty.full_name == text))
    conditions = [
        Case.id.in_(select(CaseSearchTerm.case_id).where(_prefix(CaseSearchTerm.term, w, dialect)))
        for w in words
    ]
    return and_(*conditions)


def case_query(actor: User, filters: CaseFilter, dialect: str) -> Any:  # a Select of row columns
    query = select(
        Case.id,
        Case.number,
        Case.status,
        Case.board_id,
        Case.filed_at,
        Case.created_at,
    ).where(readable_clause(actor))
    if filters.status is not None:
        query = query.where(Case.status == filters.status)
    elif not filters.include_drafts:
        query = query.where(Case.status != _S.DRAFT)
    if filters.board_id is not None:
        query = query.where(Case.board_id == filters.board_id)
    if filters.filed_from is not None:
        query = query.where(Case.filed_at >= _tehran_midnight(filters.filed_from))
    if filters.filed_to is not None:
        query = query.where(Case.filed_at < _tehran_midnight(filters.filed_to + timedelta(days=1)))
    if filters.q:
        condition = _search_condition(filters.q, dialect)
        if condition is not None:
            query = query.where(condition)
    return query


async def search_cases(session: AsyncSession, *, actor: User, filters: CaseFilter) -> CasePage:
    """One page of the cases ``actor`` may read, newest filing first; two queries in all
    (the page, then the parties' names of that page), whatever the page size."""
    page = max(1, filters.page)
    per_page = min(max(1, filters.per_page), 100)
    dialect = session.get_bind().dialect.name
    query = (
        case_query(actor, filters, dialect)
        .order_by(Case.filed_at.desc(), Case.id.desc())
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    )
    found = (await session.execute(query)).all()
    has_next = len(found) > per_page
    found = found[:per_page]
    names: dict[tuple[int, PartyRole], str] = {}
    if found:
        parties = await session.execute(
            select(CaseParty.case_id, CaseParty.role, CaseParty.full_name)
            .where(CaseParty.case_id.in_([r.id for r in found]))
            .order_by(CaseParty.id)
        )
        for case_id, role, name in parties.all():
            names.setdefault((case_id, role), name)
    rows = [
        CaseRow(
            id=r.id,
            number=r.number,
            status=r.status,
            board_id=r.board_id,
            filed_at=r.filed_at,
            created_at=r.created_at,
            claimant=names.get((r.id, PartyRole.CLAIMANT)),
            respondent=names.get((r.id, PartyRole.RESPONDENT)),
        )
        for r in found
    ]
    return CasePage(rows=rows, page=page, per_page=per_page, has_next=has_next)


async def inbox(session: AsyncSession, *, actor: User, page: int = 1) -> CasePage:
    """New and resubmitted filings waiting for the secretary, oldest first."""
    if not is_staff(actor):
        raise Forbidden("Only the board secretary has an inbox of filings.")
    per_page = 50
    query = (
        case_query(actor, CaseFilter(status=_S.FILED), session.get_bind().dialect.name)
        .order_by(Case.filed_at, Case.id)
        .limit(per_page + 1)
        .offset((max(1, page) - 1) * per_page)
    )
    found = (await session.execute(query)).all()
    ids = [r.id for r in found[:per_page]]
    names: dict[tuple[int, PartyRole], str] = {}
    if ids:
        for case_id, role, name in (
            await session.execute(
                select(CaseParty.case_id, CaseParty.role, CaseParty.full_name).where(
                    CaseParty.case_id.in_(ids)
                )
            )
        ).all():
            names.setdefault((case_id, role), name)
    rows = [
        CaseRow(
            r.id,
            r.number,
            r.status,
            r.board_id,
            r.filed_at,
            r.created_at,
            names.get((r.id, PartyRole.CLAIMANT)),
            names.get((r.id, PartyRole.RESPONDENT)),
        )
        for r in found[:per_page]
    ]
    return CasePage(rows, max(1, page), per_page, len(found) > per_page)


async def boards_by_id(session: AsyncSession) -> dict[int, Board]:
    return {b.id: b for b in await session.scalars(select(Board).order_by(Board.id))}


async def do_insert_search_terms(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Bulk insert of search terms (demo data and the benchmark)."""
    if rows:
        await session.execute(insert(CaseSearchTerm), rows)
