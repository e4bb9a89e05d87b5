"""The live hearing room (DESIGN.md §5): who may enter, phases, presence and quorum,
reviewing the file together, the floor, chat, and the numbered replay log.

Every function takes the session first and flushes, never commits; the boundary (the
Socket.IO namespace or an HTTP view) owns the transaction. State lives in the database:
``Hearing`` carries phase, presenter, view and floor; ``RoomEvent`` is the replay log,
numbered per hearing by ``Hearing.room_seq``, which :func:`do_append_event` increments in
the same transaction as the row it numbers. Events reach sockets only after the commit
(``rooms.events.emit_after_commit``). No Quart, no Socket.IO in here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import (
    Boolean,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from hearing_server.accounts.models import LoginSession, Role, SessionStage, User
from hearing_server.accounts.services import SESSION_TOUCH_EVERY
from hearing_server.audit.services import do_record
from hearing_server.boards.models import BoardRulesVersion
from hearing_server.cases.files import file_path
from hearing_server.cases.models import (
    Case,
    CaseStatus,
    Document,
    DocumentVisibility,
    StoredFile,
)
from hearing_server.cases.services import do_transition
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import table_of
from hearing_server.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from hearing_server.i18n import lazy
from hearing_server.law.rules import BoardRules, QuorumStatus, SeatGroup, quorum_status
from hearing_server.rooms import events as ev
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.models import (
    Attendance,
    Highlight,
    PageView,
    PrivateNote,
    RaisedHand,
    RoomEvent,
    Statement,
)
from hearing_server.scheduling.models import (
    AgendaItem,
    Hearing,
    HearingStatus,
    PanelSeat,
    RoomPhase,
    Summons,
)
from hearing_server.voting.models import Motion, MotionState

MAX_REPLAY = 500  # more missed events than this: the client gets a snapshot instead
CHAT_IN_SNAPSHOT = 200
ROOM_TOKEN_SECONDS = 120

PHASE_LABELS = {
    RoomPhase.LOBBY: lazy("the lobby"),
    RoomPhase.HEARING: lazy("the hearing of the parties"),
    RoomPhase.DELIBERATION: lazy("deliberation"),
    RoomPhase.VOTING: lazy("voting"),
    RoomPhase.CLOSED: lazy("the end of the session"),
}

# Which phase may follow which. Deliberation and voting alternate (one motion per claim);
# there is no way back to the public hearing once the parties are out.
PHASE_NEXT: dict[RoomPhase, frozenset[RoomPhase]] = {
    RoomPhase.LOBBY: frozenset({RoomPhase.HEARING, RoomPhase.CLOSED}),
    RoomPhase.HEARING: frozenset({RoomPhase.DELIBERATION, RoomPhase.CLOSED}),
    RoomPhase.DELIBERATION: frozenset({RoomPhase.VOTING, RoomPhase.CLOSED}),
    RoomPhase.VOTING: frozenset({RoomPhase.DELIBERATION, RoomPhase.CLOSED}),
    RoomPhase.CLOSED: frozenset(),
}
PUBLIC_PHASES = frozenset({RoomPhase.LOBBY, RoomPhase.HEARING})


# ---------------------------------------------------------------- who is in the room


@dataclass(frozen=True)
class Participant:
    """A user's standing in one hearing."""

    user: User
    role: str  # chair, member, secretary, admin, claimant, respondent, representative
    group: SeatGroup | None = None
    case_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_board(self) -> bool:
        return self.role in ev.BOARD_ROLES

    @property
    def is_moderator(self) -> bool:
        return self.role in ev.MODERATOR_ROLES


async def require_hearing(session: AsyncSession, hearing_id: int, *, lock: bool = False) -> Hearing:
    stmt = select(Hearing).where(Hearing.id == hearing_id).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    hearing = await session.scalar(stmt)
    if hearing is None:
        raise NotFound("No such hearing.")
    return hearing


async def get_participant(
    session: AsyncSession, user: User, hearing: Hearing
) -> Participant | None:
    """The user's standing in ``hearing``, or None when they were not summoned to it."""
    seat = await session.scalar(
        select(PanelSeat).where(PanelSeat.hearing_id == hearing.id, PanelSeat.member_id == user.id)
    )
    if seat is not None:
        return Participant(user, "chair" if seat.is_chair else "member", seat.group)
    if user.role == Role.SECRETARY:
        return Participant(user, "secretary")
    if user.role == Role.ADMIN:
        return Participant(user, "admin")
    summonses = list(
        await session.scalars(
            select(Summons).where(Summons.hearing_id == hearing.id, Summons.user_id == user.id)
        )
    )
    if user.role == Role.PARTY and summonses:
        roles = {s.role for s in summonses}
        role = next((r for r in ("claimant", "respondent") if r in roles), "representative")
        return Participant(
            user, role, case_ids=frozenset(s.case_id for s in summonses if s.case_id is not None)
        )
    return None


async def check_participant(session: AsyncSession, user: User, hearing_id: int) -> Participant:
    hearing = await require_hearing(session, hearing_id)
    participant = await get_participant(session, user, hearing)
    if participant is None:
        raise Forbidden("You are not summoned to this hearing.", code="not_summoned")
    if hearing.status in (HearingStatus.CANCELLED, HearingStatus.POSTPONED):
        raise Conflict("This hearing was cancelled or postponed.", code="hearing_unavailable")
    if not participant.is_board:
        if hearing.phase == RoomPhase.CLOSED:
            raise Forbidden("The hearing is closed.", code="room_closed")
        if hearing.phase not in PUBLIC_PHASES:
            raise Forbidden(
                "The board is deliberating; parties cannot join now.", code="deliberation"
            )
    return participant


# ---------------------------------------------------------------- authentication of sockets


async def check_login_session(
    session: AsyncSession, settings: Settings, login_session_id: int
) -> LoginSession:
    """The socket's login session is still good: not revoked, not expired, user active.

    Socket traffic counts as activity, so the idle timeout is not applied here; the
    namespace touches the session while the socket is busy."""
    row = await session.get(LoginSession, login_session_id, populate_existing=True)
    now = utcnow()
    if (
        row is None
        or row.revoked_at is not None
        or row.stage != SessionStage.FULL
        or not row.user.is_active
        or now >= row.expires_at
    ):
        raise Unauthenticated("Your session has ended. Please sign in again.", code="session_ended")
    return row


async def check_socket_session(session: AsyncSession, login_session_id: int) -> bool:
    """:func:`check_login_session` for a busy socket, as one light read (no ORM rows):
    the same conditions, the same error. Returns whether the session's ``last_seen_at``
    is due a touch (``accounts.needs_touch``: at most once a minute)."""
    now = utcnow()
    row = await _SESSION_CHECK.first(
        session, {"id": login_session_id, "now": now, "touch_before": now - SESSION_TOUCH_EVERY}
    )
    if row is None:
        raise Unauthenticated("Your session has ended. Please sign in again.", code="session_ended")
    return bool(row[0])


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt="heyat-room-token")


def make_room_token(settings: Settings, login: LoginSession, hearing_id: int) -> dict[str, Any]:
    """A short-lived signed token for one hearing, tied to the login session that asked."""
    expires = utcnow() + timedelta(seconds=ROOM_TOKEN_SECONDS)
    token = _serializer(settings).dumps(
        {"s": login.id, "u": login.user_id, "h": hearing_id, "e": int(expires.timestamp())}
    )
    return {"token": token, "expires_at": expires.isoformat(), "hearing_id": hearing_id}


async def check_room_token(
    session: AsyncSession, settings: Settings, token: str, hearing_id: int
) -> LoginSession:
    try:
        data = _serializer(settings).loads(token)
    except BadSignature:
        raise Unauthenticated("The room token is not valid.", code="bad_token") from None
    if not isinstance(data, dict) or data.get("h") != hearing_id:
        raise Unauthenticated("The room token is not valid.", code="bad_token")
    if int(data.get("e", 0)) < int(utcnow().timestamp()):
        raise Unauthenticated("The room token has expired.", code="token_expired")
    row = await check_login_session(session, settings, int(data["s"]))
    if row.user_id != data.get("u"):
        raise Unauthenticated("The room token is not valid.", code="bad_token")
    return row


# ---------------------------------------------------------------- the replay log


def public_audience(hearing: Hearing) -> str:
    """ "all" while the parties may be present, "board" once they are out."""
    return ev.AUDIENCE_ALL if hearing.phase in PUBLIC_PHASES else ev.AUDIENCE_BOARD


async def do_append_event(
    session: AsyncSession,
    hearing: Hearing,
    type: str,
    op: str,
    payload: dict[str, Any],
    audience: str = ev.AUDIENCE_ALL,
    *,
    actor_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> RoomEvent:
    """Number and store a room event; it is broadcast to ``audience`` after the commit.

    The hearing's counter is incremented by one UPDATE … RETURNING in this transaction, so
    two concurrent appends never share a number and a rolled-back one leaves no gap.
    ``audience`` is "all", "board" or "user:<id>" (see ``rooms.events``). ``changes`` are
    further columns of the hearing written by the same UPDATE (the presenter's view)."""
    ev.socket_room(hearing.id, audience)  # validates the audience
    # The caller's pending changes reach the database first (the ORM UPDATE autoflushed).
    await session.flush()
    seq: int | None
    if changes:
        seq = await session.scalar(
            update(Hearing)
            .where(Hearing.id == hearing.id)
            .values(room_seq=Hearing.room_seq + 1, **changes)
            .returning(Hearing.room_seq)
            .execution_options(synchronize_session=False)
        )
    else:
        row = await _SEQ_UPDATE.first(session, {"hearing": hearing.id})
        seq = None if row is None else int(row[0])
    if seq is None:
        raise NotFound("No such hearing.")
    set_committed_value(hearing, "room_seq", seq)
    for name, value in (changes or {}).items():
        set_committed_value(hearing, name, value)
    return await _insert_event(
        session,
        hearing_id=hearing.id,
        seq=seq,
        type=type,
        op=op,
        payload=payload,
        audience=audience,
        actor_id=actor_id,
    )


async def is_admitted(session: AsyncSession, hearing_id: int, user_id: int) -> bool:
    found = await session.scalar(
        select(Attendance.id)
        .where(
            Attendance.hearing_id == hearing_id,
            Attendance.user_id == user_id,
            Attendance.admitted.is_(True),
        )
        .limit(1)
    )
    return found is not None


def can_see(audience: str, *, user_id: int, is_board: bool, admitted: bool) -> bool:
    if audience == ev.AUDIENCE_BOARD:
        return is_board
    if audience == ev.AUDIENCE_ALL:
        return is_board or admitted
    return audience == ev.audience_user(user_id)


def visible_audiences(*, user_id: int, is_board: bool, admitted: bool) -> list[str]:
    out = [ev.audience_user(user_id)]
    if is_board or admitted:
        out.append(ev.AUDIENCE_ALL)
    if is_board:
        out.append(ev.AUDIENCE_BOARD)
    return out


async def get_missed(
    session: AsyncSession, ctx: RoomContext, last_seq: int | None
) -> dict[str, Any]:
    """What a (re)connecting client needs: the events after ``last_seq`` it may see, or a
    full snapshot when it has none, is too far behind, or is ahead of the server."""
    hearing = await require_hearing(session, ctx.hearing_id)
    admitted = ctx.is_board or await is_admitted(session, hearing.id, ctx.user.id)
    if last_seq is None or last_seq > hearing.room_seq or hearing.room_seq - last_seq > MAX_REPLAY:
        return {"seq": hearing.room_seq, "snapshot": await get_snapshot(session, ctx, hearing)}
    audiences = visible_audiences(user_id=ctx.user.id, is_board=ctx.is_board, admitted=admitted)
    rows = await session.scalars(
        select(RoomEvent)
        .where(
            RoomEvent.hearing_id == hearing.id,
            RoomEvent.seq > last_seq,
            RoomEvent.audience.in_(audiences),
        )
        .order_by(RoomEvent.seq)
    )
    return {"seq": hearing.room_seq, "events": [ev.event_dict(row) for row in rows]}


# ---------------------------------------------------------------- presence and quorum


async def _rules_of(session: AsyncSession, hearing: Hearing) -> BoardRules:
    version = await session.get(BoardRulesVersion, hearing.rules_version_id)
    if version is None:  # the foreign key makes this impossible; say so if it happens
        raise NotFound("No such hearing.")
    return version.rules


async def present_user_ids(session: AsyncSession, hearing_id: int) -> set[int]:
    rows = await session.scalars(
        select(Attendance.user_id).where(
            Attendance.hearing_id == hearing_id, Attendance.left_at.is_(None)
        )
    )
    return set(rows)


async def get_quorum(session: AsyncSession, hearing: Hearing) -> QuorumStatus:
    """Live quorum from the panel members present now (open attendance rows)."""
    present = await present_user_ids(session, hearing.id)
    seats = await session.scalars(select(PanelSeat).where(PanelSeat.hearing_id == hearing.id))
    counts: dict[SeatGroup, int] = defaultdict(int)
    for seat in seats:
        if seat.member_id in present:
            counts[seat.group] += 1
    return quorum_status(await _rules_of(session, hearing), counts)


async def do_join(
    session: AsyncSession, hearing: Hearing, participant: Participant, sid: str
) -> Attendance:
    """Record a socket joining the room. A user's earlier rows still open on a socket that
    no longer exists (a killed server) are closed, so presence stays true."""
    user = participant.user
    now = utcnow()
    admitted = participant.is_board or await is_admitted(session, hearing.id, user.id)
    await session.execute(
        update(Attendance)
        .where(
            Attendance.hearing_id == hearing.id,
            Attendance.user_id == user.id,
            Attendance.left_at.is_(None),
        )
        .values(left_at=now)
        .execution_options(synchronize_session=False)
    )
    row = Attendance(
        hearing_id=hearing.id,
        user_id=user.id,
        role=participant.role,
        joined_at=now,
        sid=sid,
        admitted=admitted,
    )
    session.add(row)
    await session.flush()
    quorum = await get_quorum(session, hearing)
    await do_append_event(
        session,
        hearing,
        "presence",
        "join",
        {
            "user_id": user.id,
            "name": user.full_name,
            "role": participant.role,
            "group": participant.group.value if participant.group else None,
            "admitted": admitted,
            "quorum": quorum.to_dict(),
        },
        public_audience(hearing) if admitted else ev.AUDIENCE_BOARD,
        actor_id=user.id,
    )
    return row


async def do_leave(session: AsyncSession, hearing_id: int, sid: str) -> Attendance | None:
    """Record a socket leaving. Nothing is sent when the row was already closed."""
    row = await session.scalar(
        select(Attendance).where(
            Attendance.hearing_id == hearing_id,
            Attendance.sid == sid,
            Attendance.left_at.is_(None),
        )
    )
    if row is None:
        return None
    hearing = await require_hearing(session, hearing_id, lock=True)
    row.left_at = utcnow()
    await session.flush()
    quorum = await get_quorum(session, hearing)
    await do_append_event(
        session,
        hearing,
        "presence",
        "leave",
        {"user_id": row.user_id, "quorum": quorum.to_dict()},
        public_audience(hearing) if row.admitted else ev.AUDIENCE_BOARD,
        actor_id=row.user_id,
    )
    return row


async def attendance_record(session: AsyncSession, hearing_id: int) -> list[dict[str, Any]]:
    """For the minutes: each person's role and their join/leave intervals, in order."""
    rows = await session.execute(
        select(Attendance, User.full_name)
        .join(User, User.id == Attendance.user_id)
        .where(Attendance.hearing_id == hearing_id)
        .order_by(Attendance.joined_at, Attendance.id)
    )
    people: dict[int, dict[str, Any]] = {}
    for attendance, name in rows:
        person = people.setdefault(
            attendance.user_id,
            {"user_id": attendance.user_id, "name": name, "role": attendance.role, "periods": []},
        )
        person["periods"].append(
            {
                "joined_at": attendance.joined_at.isoformat(),
                "left_at": attendance.left_at.isoformat() if attendance.left_at else None,
            }
        )
    return list(people.values())


# ---------------------------------------------------------------- guards


def _require_moderator(ctx: RoomContext) -> None:
    if not ctx.is_moderator:
        raise Forbidden("Only the secretary or the chair may do this.", code="not_moderator")


async def _require_active(session: AsyncSession, ctx: RoomContext, *, lock: bool = True) -> Hearing:
    """The hearing, for an action: refused when closed, and for parties outside the
    public hearing or before admission."""
    hearing = await require_hearing(session, ctx.hearing_id, lock=lock)
    if hearing.phase == RoomPhase.CLOSED:
        raise Conflict(
            "The hearing is closed; nothing more can be done in this room.", code="room_closed"
        )
    if not ctx.is_board:
        if hearing.phase != RoomPhase.HEARING:
            raise Forbidden("Parties may speak only during the hearing.", code="not_in_hearing")
        if not await is_admitted(session, hearing.id, ctx.user.id):
            raise Forbidden("Please wait until the secretary admits you.", code="not_admitted")
    return hearing


async def _hearing_case_ids(session: AsyncSession, hearing_id: int) -> list[int]:
    rows = await session.scalars(
        select(AgendaItem.case_id)
        .where(AgendaItem.hearing_id == hearing_id)
        .order_by(AgendaItem.position)
    )
    return list(rows)


async def _party_case_ids(session: AsyncSession, hearing_id: int, user_id: int) -> set[int]:
    rows = await session.scalars(
        select(Summons.case_id).where(Summons.hearing_id == hearing_id, Summons.user_id == user_id)
    )
    return {case_id for case_id in rows if case_id is not None}


def party_may_see(document: Document) -> bool:
    return document.visibility == DocumentVisibility.PARTIES and document.withdrawn_at is None


async def check_document(
    session: AsyncSession, *, user: User, hearing_id: int, document_id: int, is_board: bool
) -> Document:
    """A document of this hearing's cases that ``user`` may read; NotFound otherwise
    (a party learns nothing about board-only documents, not even that they exist)."""
    document = await session.get(Document, document_id)
    if document is None:
        raise NotFound("No such document.")
    if is_board:
        allowed = set(await _hearing_case_ids(session, hearing_id))
    else:
        allowed = await _party_case_ids(session, hearing_id, user.id)
    if document.case_id not in allowed or (not is_board and not party_may_see(document)):
        raise NotFound("No such document.")
    return document


def document_audience(document: Document, hearing: Hearing) -> str:
    return public_audience(hearing) if party_may_see(document) else ev.AUDIENCE_BOARD


# ---------------------------------------------------------------- phases


async def _mark_cases_in_hearing(session: AsyncSession, hearing: Hearing, actor: User) -> None:
    """scheduled → in_hearing for the hearing's cases, through the case state machine."""
    case_ids = await _hearing_case_ids(session, hearing.id)
    if not case_ids:
        return
    for case in await session.scalars(select(Case).where(Case.id.in_(case_ids))):
        if case.status == CaseStatus.SCHEDULED:
            await do_transition(
                session, case, CaseStatus.IN_HEARING, actor=actor, reason=f"hearing {hearing.id}"
            )


async def _return_undecided_cases(session: AsyncSession, hearing: Hearing, actor: User) -> None:
    """The room closed: a case still in hearing (its vote ended with no majority, or it was
    not voted on) goes back to the board's queue, accepted, to be reheard at a new session;
    the scheduling form offers it again. A case with a vote still open stays as it is."""
    case_ids = await _hearing_case_ids(session, hearing.id)
    if not case_ids:
        return
    voting = set(
        await session.scalars(
            select(Motion.case_id).where(
                Motion.hearing_id == hearing.id, Motion.state == MotionState.OPEN
            )
        )
    )
    for case in await session.scalars(select(Case).where(Case.id.in_(case_ids))):
        if case.status == CaseStatus.IN_HEARING and case.id not in voting:
            await do_transition(
                session,
                case,
                CaseStatus.ACCEPTED,
                actor=actor,
                reason=f"hearing {hearing.id} closed without a decision: to be reheard",
            )


async def do_set_phase(session: AsyncSession, ctx: RoomContext, phase: str) -> Hearing:
    _require_moderator(ctx)
    hearing = await require_hearing(session, ctx.hearing_id, lock=True)
    target = RoomPhase(phase)
    current = hearing.phase
    if target not in PHASE_NEXT[current]:
        raise Conflict(
            "The room cannot move from {current} to {target}.",
            code="bad_phase",
            current=PHASE_LABELS[current],
            target=PHASE_LABELS[target],
        )
    hearing.phase = target
    if target == RoomPhase.HEARING:
        if hearing.status == HearingStatus.SCHEDULED:
            hearing.status = HearingStatus.IN_PROGRESS
        await _mark_cases_in_hearing(session, hearing, ctx.user)
    if target == RoomPhase.CLOSED and hearing.status == HearingStatus.IN_PROGRESS:
        hearing.status = HearingStatus.HELD
    if target == RoomPhase.CLOSED:
        await _return_undecided_cases(session, hearing, ctx.user)
    removed: list[str] = []
    if target not in PUBLIC_PHASES:
        removed = await _remove_parties(session, hearing)
    await session.flush()
    await do_record(
        session,
        actor_id=ctx.user.id,
        action="room.phase",
        subject_type="hearing",
        subject_id=hearing.id,
        payload={"from": current.value, "to": target.value},
    )
    # Everyone learns the phase, parties included: it tells them why they are leaving.
    await do_append_event(
        session,
        hearing,
        "phase",
        "set",
        {"phase": target.value, "from": current.value},
        ev.AUDIENCE_ALL,
        actor_id=ctx.user.id,
    )
    ev.disconnect_after_commit(session, removed)
    return hearing


async def _remove_parties(session: AsyncSession, hearing: Hearing) -> list[str]:
    """Close the parties' attendance and hands; give back a party's floor. Returns the
    socket ids to disconnect after the commit."""
    now = utcnow()
    rows = list(
        await session.scalars(
            select(Attendance).where(
                Attendance.hearing_id == hearing.id,
                Attendance.left_at.is_(None),
                Attendance.role.in_(sorted(ev.PARTY_ROLES)),
            )
        )
    )
    party_ids = {row.user_id for row in rows}
    for row in rows:
        row.left_at = now
    all_party_ids = set(
        await session.scalars(
            select(Summons.user_id).where(
                Summons.hearing_id == hearing.id, Summons.user_id.is_not(None)
            )
        )
    ) - {seat.member_id for seat in await _panel(session, hearing.id)}
    party_ids |= {uid for uid in all_party_ids if uid is not None}
    if party_ids:
        hands = await session.scalars(
            select(RaisedHand).where(
                RaisedHand.hearing_id == hearing.id, RaisedHand.user_id.in_(party_ids)
            )
        )
        for hand in hands:
            await session.delete(hand)
        if hearing.floor_user_id in party_ids:
            hearing.floor_user_id = None
    await session.flush()
    return [row.sid for row in rows if row.sid]


async def _panel(session: AsyncSession, hearing_id: int) -> list[PanelSeat]:
    return list(
        await session.scalars(
            select(PanelSeat).where(PanelSeat.hearing_id == hearing_id).order_by(PanelSeat.id)
        )
    )


async def do_admit(session: AsyncSession, ctx: RoomContext, user_id: int) -> None:
    """Let a waiting party in from the lobby."""
    _require_moderator(ctx)
    hearing = await _require_active(session, ctx)
    if hearing.phase not in PUBLIC_PHASES:
        raise Conflict("Parties can be admitted only before deliberation.", code="bad_phase")
    rows = list(
        await session.scalars(
            select(Attendance).where(
                Attendance.hearing_id == hearing.id,
                Attendance.user_id == user_id,
                Attendance.left_at.is_(None),
            )
        )
    )
    if not rows:
        raise NotFound("This person is not waiting in the lobby.", code="not_waiting")
    if all(row.admitted for row in rows):
        raise Conflict("This person has already been admitted.", code="already_admitted")
    for row in rows:
        row.admitted = True
    await session.flush()
    sids = [row.sid for row in rows if row.sid]
    ev.enter_after_commit(session, sids, hearing.id, ev.AUDIENCE_ALL)
    await do_append_event(
        session,
        hearing,
        "admit",
        "set",
        {"user_id": user_id},
        ev.AUDIENCE_BOARD,
        actor_id=ctx.user.id,
    )
    await do_append_event(
        session,
        hearing,
        "admitted",
        "set",
        {"user_id": user_id},
        ev.audience_user(user_id),
        actor_id=ctx.user.id,
    )


# ---------------------------------------------------------------- reviewing the file


async def do_set_case(session: AsyncSession, ctx: RoomContext, case_id: int) -> Hearing:
    _require_moderator(ctx)
    hearing = await _require_active(session, ctx)
    if case_id not in await _hearing_case_ids(session, hearing.id):
        raise NotFound("This case is not on the hearing's agenda.", code="not_on_agenda")
    hearing.current_case_id = case_id
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "case",
        "set",
        {"case_id": case_id},
        public_audience(hearing),
        actor_id=ctx.user.id,
    )
    return hearing


async def do_set_presenter(session: AsyncSession, ctx: RoomContext, user_id: int) -> Hearing:
    """Hand the presentation to a board member in the room (or take it back)."""
    _require_moderator(ctx)
    hearing = await _require_active(session, ctx)
    target = await session.get(User, user_id)
    if target is None:
        raise NotFound("No such user.")
    standing = await get_participant(session, target, hearing)
    if standing is None or not standing.is_board:
        raise Invalid("Only a member of the board can present.", code="not_board")
    hearing.presenter_id = user_id
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "presenter",
        "set",
        {"user_id": user_id, "name": target.full_name},
        public_audience(hearing),
        actor_id=ctx.user.id,
    )
    return hearing


def may_present(ctx: RoomContext, hearing: Hearing) -> bool:
    return ctx.is_moderator or (hearing.presenter_id == ctx.user.id and ctx.is_board)


async def do_set_view(
    session: AsyncSession, ctx: RoomContext, document_id: int, page: int, zoom: int
) -> RoomEvent:
    """The presenter shows a document's page at a zoom; followers turn with them.

    This runs on every page turn, so a board member's turn is one guarded statement: the
    UPDATE that numbers the event carries every check of the slow path in its WHERE clause
    (room not closed, sender may present, document on this hearing's agenda with that
    page) and RETURNs what the event needs; then the INSERT into the log. When the UPDATE
    changes no row, :func:`_set_view_checked` does the same work the long way and raises
    the error that says why. Either way the checks read the database in this transaction,
    after the write lock was taken (nothing is cached)."""
    if ctx.is_board:
        at = utcnow()

        def event_values(row: Any) -> dict[str, Any]:
            seq, phase, case_id, party_visible = row
            public = ev.AUDIENCE_ALL if RoomPhase(phase) in PUBLIC_PHASES else ev.AUDIENCE_BOARD
            return {
                "hearing_id": ctx.hearing_id,
                "seq": seq,
                "type": "view",
                "op": "set",
                "payload": {
                    "document_id": document_id,
                    "case_id": case_id,
                    "page": page,
                    "zoom": zoom,
                },
                "audience": public if party_visible else ev.AUDIENCE_BOARD,
                "actor_id": ctx.user.id,
                "at": at,
            }

        # The guarded UPDATE and, when it numbered the event, the log's INSERT: one trip.
        found = await _VIEW_UPDATE.first_then(
            session,
            {
                "hearing": ctx.hearing_id,
                "moderator": ctx.is_moderator,
                "actor": ctx.user.id,
                "doc": document_id,
                "pg": page,
                "zm": zoom,
            },
            _EVENT_INSERT,
            event_values,
        )
        if found is not None:
            (seq, _phase, case_id, _visible), values = found
            loaded = session.identity_map.get(identity_key(Hearing, ctx.hearing_id))
            if isinstance(loaded, Hearing):  # keep a loaded Hearing in step with the database
                hearing = loaded
                set_committed_value(hearing, "room_seq", seq)
                set_committed_value(hearing, "view_document_id", document_id)
                set_committed_value(hearing, "view_page", page)
                set_committed_value(hearing, "view_zoom", zoom)
                set_committed_value(hearing, "current_case_id", case_id)
            return _queued(session, values)
    return await _set_view_checked(session, ctx, document_id, page, zoom)


async def _set_view_checked(
    session: AsyncSession, ctx: RoomContext, document_id: int, page: int, zoom: int
) -> RoomEvent:
    """:func:`do_set_view` step by step: each check on its own, with its own error."""
    hearing = await _require_active(session, ctx)
    if not may_present(ctx, hearing):
        raise Forbidden("Only the presenter may turn the pages for everyone.", code="not_presenter")
    # One query: the document is on this hearing's agenda, with its page count.
    found = (
        await session.execute(
            select(Document, StoredFile.pages)
            .join(StoredFile, StoredFile.sha256 == Document.sha256)
            .join(AgendaItem, AgendaItem.case_id == Document.case_id)
            .where(Document.id == document_id, AgendaItem.hearing_id == hearing.id)
        )
    ).first()
    if found is None:
        raise NotFound("No such document.")
    document, pages = found
    if pages is not None and page > pages:
        raise Invalid("This document has only {pages} pages.", code="bad_page", pages=pages)
    return await do_append_event(
        session,
        hearing,
        "view",
        "set",
        {"document_id": document_id, "case_id": document.case_id, "page": page, "zoom": zoom},
        document_audience(document, hearing),
        actor_id=ctx.user.id,
        changes={
            "view_document_id": document_id,
            "view_page": page,
            "view_zoom": zoom,
            "current_case_id": document.case_id,
        },
    )


def _view_update() -> Any:
    """The page turn's guarded UPDATE (built once; compiled once per dialect)."""
    hearings = table_of(Hearing)
    documents = table_of(Document)
    agenda = table_of(AgendaItem)
    files = table_of(StoredFile)
    on_agenda_with_page = exists(
        select(literal(1))
        .select_from(
            documents.join(agenda, agenda.c.case_id == documents.c.case_id).join(
                files, files.c.sha256 == documents.c.sha256
            )
        )
        .where(
            documents.c.id == bindparam("doc"),
            agenda.c.hearing_id == hearings.c.id,
            or_(files.c.pages.is_(None), files.c.pages >= bindparam("pg")),
        )
    )
    document_case = (
        select(documents.c.case_id).where(documents.c.id == bindparam("doc")).scalar_subquery()
    )
    party_visible = (
        select(
            and_(
                documents.c.visibility == DocumentVisibility.PARTIES,
                documents.c.withdrawn_at.is_(None),
            )
        )
        .where(documents.c.id == bindparam("doc"))
        .scalar_subquery()
    )
    return (
        update(hearings)
        .where(
            hearings.c.id == bindparam("hearing"),
            hearings.c.phase != RoomPhase.CLOSED,
            or_(
                bindparam("moderator", type_=Boolean),
                hearings.c.presenter_id == bindparam("actor"),
            ),
            on_agenda_with_page,
        )
        .values(
            room_seq=hearings.c.room_seq + 1,
            view_document_id=bindparam("doc"),
            view_page=bindparam("pg"),
            view_zoom=bindparam("zm"),
            current_case_id=document_case,
        )
        .returning(hearings.c.room_seq, hearings.c.phase, hearings.c.current_case_id, party_visible)
    )


class _HotStatement:
    """A Core statement of the room's hot path, built once.

    On SQLite it goes straight to the aiosqlite driver of the session's own connection,
    inside the session's transaction, past SQLAlchemy's execution and result layers (about
    40 µs a statement; the trip to the driver's thread is one either way, see
    ``hearing_server.sqlite_driver``), and :meth:`first_then` sends two statements in one
    trip. The SQL and the parameter order come from SQLAlchemy's compiler and the values
    pass through the columns' own bind processors, so it is the same statement either way.
    Elsewhere: SQLAlchemy Core."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        dialect = sqlite_dialect(paramstyle="qmark")
        compiled = statement.compile(dialect=dialect)
        self.sqlite_sql = str(compiled)
        names = tuple(compiled.positiontup or ())
        # (name, given by the caller?, the statement's own value, the column's processor)
        self.sqlite_params: list[tuple[str, bool, Any, Any]] = []
        for name in names:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            self.sqlite_params.append((name, bind.required, bind.value, processor))

    def _sqlite_values(self, params: dict[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, required, fixed, processor in self.sqlite_params:
            value = params[name] if required else fixed
            values.append(processor(value) if processor is not None else value)
        return tuple(values)

    async def rows(self, session: AsyncSession, params: dict[str, Any]) -> list[Any]:
        connection = await session.connection()  # begins the transaction (BEGIN IMMEDIATE)
        if connection.dialect.name == "sqlite":
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            return list(await driver.execute_fetchall(self.sqlite_sql, self._sqlite_values(params)))
        result = await connection.execute(self.statement, params)
        return list(result.all()) if result.returns_rows else []

    async def first(self, session: AsyncSession, params: dict[str, Any]) -> Any:
        found = await self.rows(session, params)
        return found[0] if found else None

    async def first_then(
        self,
        session: AsyncSession,
        params: dict[str, Any],
        then: _HotStatement,
        then_params: Callable[[Any], dict[str, Any]],
    ) -> tuple[Any, dict[str, Any]] | None:
        """This statement's first row, then ``then`` with ``then_params(row)``; None (and
        ``then`` not run) when there is no row. On SQLite both go in one trip to the driver's
        thread (``then_params`` runs there: keep it a pure function of the row)."""
        connection = await session.connection()  # begins the transaction (BEGIN IMMEDIATE)
        if connection.dialect.name != "sqlite":
            row = await self.first(session, params)
            if row is None:
                return None
            values = then_params(row)
            await then.rows(session, values)
            return row, values
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        first_values = self._sqlite_values(params)

        def both(db: Any) -> tuple[Any, dict[str, Any]] | None:
            row = db.execute(self.sqlite_sql, first_values).fetchone()
            if row is None:
                return None
            values = then_params(row)
            db.execute(then.sqlite_sql, then._sqlite_values(values)).fetchall()
            return row, values

        found: tuple[Any, dict[str, Any]] | None = await driver.run_in_thread(both)
        return found


_VIEW_UPDATE = _HotStatement(_view_update())


def _session_check() -> Any:
    sessions = table_of(LoginSession)
    users = table_of(User)
    return (
        select(sessions.c.last_seen_at <= bindparam("touch_before"))
        .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
        .where(
            sessions.c.id == bindparam("id"),
            sessions.c.revoked_at.is_(None),
            sessions.c.stage == SessionStage.FULL,
            users.c.is_active.is_(True),
            sessions.c.expires_at > bindparam("now"),
        )
    )


_SESSION_CHECK = _HotStatement(_session_check())
_SEQ_UPDATE = _HotStatement(
    update(table_of(Hearing))
    .where(table_of(Hearing).c.id == bindparam("hearing"))
    .values(room_seq=table_of(Hearing).c.room_seq + 1)
    .returning(table_of(Hearing).c.room_seq)
)
_EVENT_COLUMNS = ("hearing_id", "seq", "type", "op", "audience", "payload", "actor_id", "at")
_EVENT_INSERT = _HotStatement(
    insert(table_of(RoomEvent)).values({name: bindparam(name) for name in _EVENT_COLUMNS})
)


async def _insert_event(
    session: AsyncSession,
    *,
    hearing_id: int,
    seq: int,
    type: str,
    op: str,
    payload: dict[str, Any],
    audience: str,
    actor_id: int | None,
) -> RoomEvent:
    """Store an event numbered by the caller's UPDATE with one Core INSERT (no unit of work)
    and queue it for broadcast after the commit."""
    values = {
        "hearing_id": hearing_id,
        "seq": seq,
        "type": type,
        "op": op,
        "audience": audience,
        "payload": payload,
        "actor_id": actor_id,
        "at": utcnow(),
    }
    await _EVENT_INSERT.rows(session, values)
    return _queued(session, values)


def _queued(session: AsyncSession, values: dict[str, Any]) -> RoomEvent:
    """The event just stored with ``values`` (not in the session), queued for broadcast
    after the commit."""
    event = RoomEvent(**values)
    ev.emit_after_commit(session, event)
    return event


async def do_add_highlight(
    session: AsyncSession,
    ctx: RoomContext,
    *,
    document_id: int,
    page: int,
    rect: dict[str, float],
    note: str | None,
) -> Highlight:
    if not ctx.is_board:
        raise Forbidden("Only the board can highlight the file.", code="not_board")
    hearing = await _require_active(session, ctx)
    document = await check_document(
        session, user=ctx.user, hearing_id=hearing.id, document_id=document_id, is_board=True
    )
    highlight = Highlight(
        hearing_id=hearing.id,
        document_id=document_id,
        page=page,
        rect=rect,
        note=note.strip() if note else None,
        author_id=ctx.user.id,
        at=utcnow(),
    )
    session.add(highlight)
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "highlight",
        "add",
        highlight_dict(highlight, ctx.user.full_name),
        document_audience(document, hearing),
        actor_id=ctx.user.id,
    )
    return highlight


def highlight_dict(highlight: Highlight, author_name: str) -> dict[str, Any]:
    return {
        "id": highlight.id,
        "document_id": highlight.document_id,
        "page": highlight.page,
        "rect": highlight.rect,
        "note": highlight.note,
        "author_id": highlight.author_id,
        "author_name": author_name,
        "at": highlight.at.isoformat(),
    }


async def do_add_note(
    session: AsyncSession,
    ctx: RoomContext,
    *,
    case_id: int,
    document_id: int | None,
    page: int | None,
    body: str,
) -> PrivateNote:
    """A private note: stored for its author only (their other devices get it too)."""
    if not ctx.is_board:
        raise Forbidden("Only the board keeps notes in the room.", code="not_board")
    hearing = await _require_active(session, ctx, lock=False)
    if case_id not in await _hearing_case_ids(session, hearing.id):
        raise NotFound("This case is not on the hearing's agenda.", code="not_on_agenda")
    if document_id is not None:
        document = await check_document(
            session, user=ctx.user, hearing_id=hearing.id, document_id=document_id, is_board=True
        )
        if document.case_id != case_id:
            raise Invalid("The document is not part of this case.", code="wrong_case")
    note = PrivateNote(
        author_id=ctx.user.id,
        case_id=case_id,
        document_id=document_id,
        page=page,
        body=body.strip(),
        at=utcnow(),
    )
    session.add(note)
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "note",
        "add",
        note_dict(note),
        ev.audience_user(ctx.user.id),
        actor_id=ctx.user.id,
    )
    return note


def note_dict(note: PrivateNote) -> dict[str, Any]:
    return {
        "id": note.id,
        "case_id": note.case_id,
        "document_id": note.document_id,
        "page": note.page,
        "body": note.body,
        "at": note.at.isoformat(),
    }


async def do_log_reading(
    session: AsyncSession, ctx: RoomContext, *, document_id: int, page: int, seconds: int
) -> None:
    """Add ``seconds`` of reading of a page to the reading log. The first time a board
    member opens any document of the hearing, the board learns it (the "not opened" list)."""
    hearing = await require_hearing(session, ctx.hearing_id)
    await check_document(
        session,
        user=ctx.user,
        hearing_id=hearing.id,
        document_id=document_id,
        is_board=ctx.is_board,
    )
    case_ids = await _hearing_case_ids(session, hearing.id)
    first = ctx.is_board and not await _has_opened(session, ctx.user.id, case_ids)
    row = await session.scalar(
        select(PageView).where(
            PageView.hearing_id == hearing.id,
            PageView.user_id == ctx.user.id,
            PageView.document_id == document_id,
            PageView.page == page,
        )
    )
    if row is None:
        session.add(
            PageView(
                hearing_id=hearing.id,
                user_id=ctx.user.id,
                document_id=document_id,
                page=page,
                seconds=seconds,
                at=utcnow(),
            )
        )
    else:
        row.seconds += seconds
        row.at = utcnow()
    await session.flush()
    if first:
        await do_append_event(
            session,
            hearing,
            "reading",
            "opened",
            {"user_id": ctx.user.id},
            ev.AUDIENCE_BOARD,
            actor_id=ctx.user.id,
        )


async def _has_opened(session: AsyncSession, user_id: int, case_ids: list[int]) -> bool:
    if not case_ids:
        return False
    found = await session.scalar(
        select(PageView.id)
        .join(Document, Document.id == PageView.document_id)
        .where(PageView.user_id == user_id, Document.case_id.in_(case_ids))
        .limit(1)
    )
    return found is not None


async def reading_summary(session: AsyncSession, hearing: Hearing) -> dict[str, Any]:
    """Per panel member: documents and pages opened and seconds read; who opened nothing."""
    case_ids = await _hearing_case_ids(session, hearing.id)
    panel = await _panel(session, hearing.id)
    summary: dict[int, dict[str, Any]] = {
        seat.member_id: {"documents": 0, "pages": 0, "seconds": 0} for seat in panel
    }
    if case_ids and summary:
        rows = await session.execute(
            select(
                PageView.user_id,
                func.count(func.distinct(PageView.document_id)),
                func.count(PageView.id),
                func.coalesce(func.sum(PageView.seconds), 0),
            )
            .join(Document, Document.id == PageView.document_id)
            .where(Document.case_id.in_(case_ids), PageView.user_id.in_(list(summary)))
            .group_by(PageView.user_id)
        )
        for user_id, documents, pages, seconds in rows:
            summary[user_id] = {
                "documents": int(documents),
                "pages": int(pages),
                "seconds": int(seconds),
            }
    not_opened = [uid for uid, item in summary.items() if item["documents"] == 0]
    return {"members": {str(k): v for k, v in summary.items()}, "not_opened": not_opened}


# ---------------------------------------------------------------- the floor and chat


async def do_raise_hand(session: AsyncSession, ctx: RoomContext) -> None:
    hearing = await _require_active(session, ctx)
    exists = await session.scalar(
        select(RaisedHand.id).where(
            RaisedHand.hearing_id == hearing.id, RaisedHand.user_id == ctx.user.id
        )
    )
    if exists is not None:
        raise Conflict("Your hand is already raised.", code="hand_raised")
    session.add(RaisedHand(hearing_id=hearing.id, user_id=ctx.user.id, at=utcnow()))
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "hand",
        "raise",
        {"user_id": ctx.user.id, "name": ctx.user.full_name},
        public_audience(hearing),
        actor_id=ctx.user.id,
    )


async def _lower(session: AsyncSession, hearing: Hearing, user_id: int) -> bool:
    hand = await session.scalar(
        select(RaisedHand).where(RaisedHand.hearing_id == hearing.id, RaisedHand.user_id == user_id)
    )
    if hand is None:
        return False
    await session.delete(hand)
    await session.flush()
    return True


async def do_lower_hand(session: AsyncSession, ctx: RoomContext) -> None:
    hearing = await _require_active(session, ctx)
    if not await _lower(session, hearing, ctx.user.id):
        raise Conflict("Your hand is not raised.", code="hand_not_raised")
    await do_append_event(
        session,
        hearing,
        "hand",
        "lower",
        {"user_id": ctx.user.id},
        public_audience(hearing),
        actor_id=ctx.user.id,
    )


async def do_give_floor(session: AsyncSession, ctx: RoomContext, user_id: int) -> Hearing:
    _require_moderator(ctx)
    hearing = await _require_active(session, ctx)
    present = await present_user_ids(session, hearing.id)
    target = await session.get(User, user_id)
    if target is None or user_id not in present:
        raise Invalid("The floor can be given only to someone in the room.", code="not_present")
    standing = await get_participant(session, target, hearing)
    if standing is None or (not standing.is_board and hearing.phase != RoomPhase.HEARING):
        raise Invalid("The floor can be given only to someone in the room.", code="not_present")
    if not standing.is_board and not await is_admitted(session, hearing.id, user_id):
        raise Invalid("The floor can be given only to someone in the room.", code="not_present")
    hearing.floor_user_id = user_id
    await _lower(session, hearing, user_id)
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "floor",
        "give",
        {"user_id": user_id, "name": target.full_name},
        public_audience(hearing),
        actor_id=ctx.user.id,
    )
    return hearing


async def do_take_floor(session: AsyncSession, ctx: RoomContext) -> Hearing:
    """The moderator takes the floor back; the speaker may also yield it."""
    hearing = await _require_active(session, ctx)
    if not ctx.is_moderator and hearing.floor_user_id != ctx.user.id:
        raise Forbidden("Only the secretary or the chair may do this.", code="not_moderator")
    if hearing.floor_user_id is None:
        raise Conflict("Nobody has the floor.", code="no_floor")
    hearing.floor_user_id = None
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "floor",
        "take",
        {"user_id": None},
        public_audience(hearing),
        actor_id=ctx.user.id,
    )
    return hearing


async def do_chat(session: AsyncSession, ctx: RoomContext, *, body: str, kind: str) -> Statement:
    """A chat message or a statement for the minutes. A statement needs the floor (or the
    moderator's role). In deliberation and voting the chat is the board's only."""
    hearing = await _require_active(session, ctx, lock=False)
    text = body.strip()
    if not text:
        raise Invalid("The message is empty.", code="empty")
    if kind == "statement" and not (ctx.is_moderator or hearing.floor_user_id == ctx.user.id):
        raise Forbidden("You need the floor to make a statement.", code="no_floor")
    audience = public_audience(hearing)
    statement = Statement(
        hearing_id=hearing.id,
        case_id=hearing.current_case_id,
        author_id=ctx.user.id,
        kind=kind,
        audience=audience,
        body=text,
        at=utcnow(),
    )
    session.add(statement)
    await session.flush()
    await do_append_event(
        session,
        hearing,
        "chat",
        "add",
        statement_dict(statement, ctx.user.full_name),
        audience,
        actor_id=ctx.user.id,
    )
    return statement


def statement_dict(statement: Statement, author_name: str) -> dict[str, Any]:
    return {
        "id": statement.id,
        "author_id": statement.author_id,
        "author_name": author_name,
        "kind": statement.kind,
        "audience": statement.audience,
        "case_id": statement.case_id,
        "body": statement.body,
        "at": statement.at.isoformat(),
    }


# ---------------------------------------------------------------- snapshot


async def visible_documents(
    session: AsyncSession, hearing: Hearing, *, user_id: int, is_board: bool
) -> list[dict[str, Any]]:
    case_ids = (
        await _hearing_case_ids(session, hearing.id)
        if is_board
        else sorted(await _party_case_ids(session, hearing.id, user_id))
    )
    if not case_ids:
        return []
    rows = await session.execute(
        select(Document, StoredFile.pages, Case.number)
        .join(StoredFile, StoredFile.sha256 == Document.sha256)
        .join(Case, Case.id == Document.case_id)
        .where(Document.case_id.in_(case_ids))
        .order_by(Document.case_id, Document.id)
    )
    out = []
    for document, pages, number in rows:
        if not is_board and not party_may_see(document):
            continue
        out.append(
            {
                "id": document.id,
                "case_id": document.case_id,
                "case_number": number,
                "title": document.title,
                "kind": document.kind,
                "visibility": document.visibility.value,
                "pages": pages,
                "withdrawn": document.withdrawn_at is not None,
                "withdrawn_reason": document.withdrawn_reason,
            }
        )
    return out


async def get_snapshot(
    session: AsyncSession, ctx: RoomContext, hearing: Hearing | None = None
) -> dict[str, Any]:
    """The whole room as ``ctx``'s user may see it."""
    hearing = hearing or await require_hearing(session, ctx.hearing_id)
    is_board = ctx.is_board
    admitted = is_board or await is_admitted(session, hearing.id, ctx.user.id)
    documents = await visible_documents(session, hearing, user_id=ctx.user.id, is_board=is_board)
    doc_ids = {d["id"] for d in documents}
    sees_room = is_board or admitted
    view: dict[str, Any] = {"document_id": None, "page": 1, "zoom": 100}
    if sees_room and hearing.view_document_id in doc_ids:
        view = {
            "document_id": hearing.view_document_id,
            "page": hearing.view_page,
            "zoom": hearing.view_zoom,
        }
    people = await _people(session, hearing, is_board=is_board)
    highlights: list[dict[str, Any]] = []
    if sees_room and doc_ids:
        rows = await session.execute(
            select(Highlight, User.full_name)
            .join(User, User.id == Highlight.author_id)
            .where(Highlight.hearing_id == hearing.id, Highlight.document_id.in_(doc_ids))
            .order_by(Highlight.id)
        )
        highlights = [highlight_dict(h, name) for h, name in rows]
    notes = []
    if is_board:
        case_ids = await _hearing_case_ids(session, hearing.id)
        if case_ids:
            notes = [
                note_dict(n)
                for n in await session.scalars(
                    select(PrivateNote)
                    .where(PrivateNote.author_id == ctx.user.id, PrivateNote.case_id.in_(case_ids))
                    .order_by(PrivateNote.id)
                )
            ]
    chat: list[dict[str, Any]] = []
    if sees_room:
        audiences = ["all", "board"] if is_board else ["all"]
        rows2 = await session.execute(
            select(Statement, User.full_name)
            .join(User, User.id == Statement.author_id)
            .where(Statement.hearing_id == hearing.id, Statement.audience.in_(audiences))
            .order_by(Statement.id.desc())
            .limit(CHAT_IN_SNAPSHOT)
        )
        chat = [statement_dict(s, name) for s, name in rows2][::-1]
    hands = [
        uid
        for uid in await session.scalars(
            select(RaisedHand.user_id)
            .where(RaisedHand.hearing_id == hearing.id)
            .order_by(RaisedHand.at, RaisedHand.id)
        )
    ]
    if not is_board:
        visible_ids = {p["user_id"] for p in people}
        hands = [uid for uid in hands if uid in visible_ids]
    quorum = await get_quorum(session, hearing)
    snapshot: dict[str, Any] = {
        "hearing_id": hearing.id,
        "seq": hearing.room_seq,
        "phase": hearing.phase.value,
        "status": hearing.status.value,
        "presenter_id": hearing.presenter_id,
        "current_case_id": hearing.current_case_id,
        "floor_user_id": hearing.floor_user_id,
        "view": view,
        "me": {
            "user_id": ctx.user.id,
            "name": ctx.user.full_name,
            "role": ctx.role,
            "is_board": is_board,
            "is_moderator": ctx.is_moderator,
            "admitted": admitted,
        },
        "cases": await _cases(session, hearing, user_id=ctx.user.id, is_board=is_board),
        "documents": documents if sees_room else [],
        "people": people,
        "quorum": quorum.to_dict(),
        "hands": hands,
        "highlights": highlights,
        "notes": notes,
        "chat": chat,
    }
    if is_board:
        snapshot["reading"] = await reading_summary(session, hearing)
    return snapshot


async def _cases(
    session: AsyncSession, hearing: Hearing, *, user_id: int, is_board: bool
) -> list[dict[str, Any]]:
    case_ids = await _hearing_case_ids(session, hearing.id)
    if not is_board:
        mine = await _party_case_ids(session, hearing.id, user_id)
        case_ids = [c for c in case_ids if c in mine]
    if not case_ids:
        return []
    rows = await session.scalars(select(Case).where(Case.id.in_(case_ids)))
    by_id = {c.id: c for c in rows}
    return [
        {"id": cid, "number": by_id[cid].number, "status": by_id[cid].status.value}
        for cid in case_ids
        if cid in by_id
    ]


async def _people(
    session: AsyncSession, hearing: Hearing, *, is_board: bool
) -> list[dict[str, Any]]:
    """The panel, the staff in the room and the summoned parties, with presence. Parties see
    the board and the admitted parties."""
    present = await present_user_ids(session, hearing.id)
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    panel_rows = await session.execute(
        select(PanelSeat, User.full_name)
        .join(User, User.id == PanelSeat.member_id)
        .where(PanelSeat.hearing_id == hearing.id)
        .order_by(PanelSeat.id)
    )
    for seat, name in panel_rows:
        seen.add(seat.member_id)
        out.append(
            {
                "user_id": seat.member_id,
                "name": name,
                "role": "chair" if seat.is_chair else "member",
                "group": seat.group.value,
                "present": seat.member_id in present,
                "admitted": True,
            }
        )
    attendance = await session.execute(
        select(Attendance, User.full_name)
        .join(User, User.id == Attendance.user_id)
        .where(Attendance.hearing_id == hearing.id)
        .order_by(Attendance.id)
    )
    latest: dict[int, tuple[Attendance, str]] = {}
    admitted_ids: set[int] = set()
    for row, name in attendance:
        latest[row.user_id] = (row, name)
        if row.admitted:
            admitted_ids.add(row.user_id)
    for user_id, (row, name) in latest.items():
        if user_id in seen:
            continue
        seen.add(user_id)
        is_party = row.role in ev.PARTY_ROLES
        if is_party and not is_board and user_id not in admitted_ids:
            continue
        out.append(
            {
                "user_id": user_id,
                "name": name,
                "role": row.role,
                "group": None,
                "present": user_id in present,
                "admitted": (not is_party) or user_id in admitted_ids,
            }
        )
    if is_board:
        summoned = await session.execute(
            select(Summons.user_id, Summons.role, User.full_name)
            .join(User, User.id == Summons.user_id)
            .where(Summons.hearing_id == hearing.id)
        )
        for summoned_id, role, name in summoned:
            if summoned_id is None or summoned_id in seen:
                continue
            seen.add(summoned_id)
            out.append(
                {
                    "user_id": summoned_id,
                    "name": name,
                    "role": role,
                    "group": None,
                    "present": False,
                    "admitted": False,
                }
            )
    return out


# ---------------------------------------------------------------- files


def stored_file_path(settings: Settings, sha256: str) -> Path:
    """Where the file store keeps the bytes of ``sha256`` (``hearing_server.cases.files``)."""
    try:
        return file_path(settings.files_dir, sha256)
    except ValueError:
        raise NotFound("No such document.") from None


async def check_document_for_user(
    session: AsyncSession, user: User, hearing_id: int, document_id: int
) -> Document:
    """The room's PDF endpoint: the user is in this hearing and may read this document."""
    participant = await check_participant(session, user, hearing_id)
    return await check_document(
        session,
        user=user,
        hearing_id=hearing_id,
        document_id=document_id,
        is_board=participant.is_board,
    )


async def room_page_context(session: AsyncSession, user: User, hearing_id: int) -> dict[str, Any]:
    participant = await check_participant(session, user, hearing_id)
    hearing = await require_hearing(session, hearing_id)
    cases = await _cases(session, hearing, user_id=user.id, is_board=participant.is_board)
    return {"hearing": hearing, "participant": participant, "cases": cases}
