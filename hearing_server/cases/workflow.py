"""The state machine of a case (DESIGN.md §4), from filed to final.

The allowed transitions are defined once, in :data:`TRANSITIONS`; every part
(filing, scheduling, rooms, voting, rulings) moves a case only through
:func:`do_transition`, which refuses an illegal change with a readable error and
leaves the state as it was. A move to filed, accepted or returned tells the claimant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import Role, User
from hearing_server.audit.services import do_record
from hearing_server.boards.models import Board
from hearing_server.cases.models import Case, CaseParty, CaseStatus, CaseTransition, PartyRole
from hearing_server.cases.numbers import format_tracking_code
from hearing_server.cases.presentation import case_label, status_text
from hearing_server.clock import utcnow
from hearing_server.errors import Conflict, Forbidden, Invalid, NotFound
from hearing_server.i18n import gettext, lazy
from hearing_server.law.rules import BoardType
from hearing_server.notifications.services import do_enqueue, do_notify_user
from hearing_server.text import normalize_persian


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


# ---------------------------------------------------------------- referral

# A case in the diagnosis board's queue that the secretary may send to the settlement board.
REFERABLE = (_S.FILED, _S.ACCEPTED)


async def do_refer_to_settlement(
    session: AsyncSession, case: Case, *, actor: User, reason: str
) -> CaseTransition:
    """The secretary (or the administrator) refers a case waiting in a diagnosis board's
    queue to the office's dispute settlement board, saying why. The case keeps its status
    (it waits in the settlement board's queue now); the referral is a row of its timeline
    with the reason, and an audit event naming both boards."""
    if actor.role not in _STAFF:
        raise Forbidden("Only the board secretary may refer a case to another board.")
    reason = normalize_persian(reason or "").strip()
    if not reason:
        raise Invalid("Give the reason for the referral.", field="reason")
    if len(reason) > 2000:
        raise Invalid("The reason is too long (at most 2000 characters).", field="reason")
    row = (
        await session.execute(
            select(Case.status, Case.board_id).where(Case.id == case.id).with_for_update()
        )
    ).one_or_none()
    if row is None:
        raise NotFound("No such case.")
    current, board_id = row
    case.status, case.board_id = current, board_id
    board = await session.get(Board, board_id)
    if board is None or board.type != BoardType.DIAGNOSIS:
        raise Conflict(
            "Case {number} is not at a diagnosis board, so it cannot be referred.",
            number=case_label(case),
            code="not_diagnosis",
        )
    if current not in REFERABLE:
        raise Conflict(
            "Only a case waiting in the board's queue can be referred; case {number} is {status}.",
            number=case_label(case),
            status=status_text(current),
            code="not_referable",
        )
    target = await session.scalar(
        select(Board)
        .where(Board.office_id == board.office_id, Board.type == BoardType.SETTLEMENT)
        .order_by(Board.id)
        .limit(1)
    )
    if target is None:
        raise Conflict("This labour office has no dispute settlement board.")
    await session.execute(
        update(Case)
        .where(Case.id == case.id)
        .values(board_id=target.id)
        .execution_options(synchronize_session=False)
    )
    case.board_id = target.id
    transition = CaseTransition(
        case_id=case.id,
        from_status=current.value,
        to_status=current.value,
        actor_id=actor.id,
        reason=reason,
        at=utcnow(),
    )
    session.add(transition)
    await session.flush()
    await do_record(
        session,
        actor_id=actor.id,
        action="case.referred",
        subject_type="case",
        subject_id=case.id,
        payload={
            "number": case.number,
            "status": current.value,
            "from_board": board.id,
            "to_board": target.id,
            "reason": reason,
        },
    )
    return transition


# ---------------------------------------------------------------- telling the claimant


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
                session,
                user,
                subject=subject,
                body=body,
                sms=body,
                dedupe_key=key,
                office_id=case.office_id,
            )
        elif party.mobile:
            await do_enqueue(
                session,
                channel="sms",
                address=party.mobile,
                subject=subject,
                body=body,
                dedupe_key=f"{key}:sms",
                office_id=case.office_id,
            )
