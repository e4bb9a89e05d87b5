"""Who is in a hearing's room, and on what footing: a user's standing (``Participant``,
from the one hearing rule in ``scheduling.access``), the checks every room action starts
from, and the short-lived room token for clients without the cookie (its login session
is checked by the accounts part's one rule, ``accounts.sessions``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import LoginSession, User
from hearing_server.accounts.sessions import require_valid_session
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import Conflict, Forbidden, NotFound, Unauthenticated
from hearing_server.law.rules import SeatGroup
from hearing_server.rooms import events as ev
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.log import PUBLIC_PHASES
from hearing_server.rooms.models import Attendance
from hearing_server.scheduling.access import get_standing, hearing_in_office
from hearing_server.scheduling.access import require_hearing as require_loaded_hearing
from hearing_server.scheduling.models import (
    AgendaItem,
    Hearing,
    HearingStatus,
    PanelSeat,
    RoomPhase,
    Summons,
)
from hearing_server.scheduling.timing import check_lobby_open

ROOM_TOKEN_SECONDS = 120


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
    """``user``'s footing in the room of ``hearing``, from the one hearing rule
    (``scheduling.access``): None when they have no standing there, or a standing that
    does not admit them to the room (a member of the board who is not on this panel)."""
    loaded = await require_loaded_hearing(session, hearing.id)
    standing = await get_standing(session, user, loaded)
    if standing is None or not standing.may_enter_room:
        return None
    return Participant(user, standing.role.value, standing.group, standing.case_ids)


async def check_participant(
    session: AsyncSession, user: User, hearing_id: int, *, settings: Settings | None = None
) -> Participant:
    """The user's standing, when they may be in the room now; refused otherwise (a party
    only in the lobby and the hearing of the parties). A hearing that does not exist is
    ``NotFound``, as is one of another labour office than the user's; one of their office
    the user has no place in is refused with the reason (not summoned).
    ``settings``: entering the room (its page, its token, the socket): refused before
    the lobby opens."""
    hearing = await require_loaded_hearing(session, hearing_id)
    standing = await get_standing(session, user, hearing)
    if standing is None and not await hearing_in_office(session, user, hearing):
        raise NotFound("No such hearing.")
    if standing is None or not standing.may_enter_room:
        raise Forbidden("You are not summoned to this hearing.", code="not_summoned")
    participant = Participant(user, standing.role.value, standing.group, standing.case_ids)
    if hearing.status in (HearingStatus.CANCELLED, HearingStatus.POSTPONED):
        raise Conflict("This hearing was cancelled or postponed.", code="hearing_unavailable")
    if hearing.status == HearingStatus.MISSED:
        raise Conflict(
            "This hearing was not opened in its time and was marked missed.",
            code="hearing_unavailable",
        )
    if settings is not None:
        check_lobby_open(hearing, settings)
    if not participant.is_board:
        if hearing.phase == RoomPhase.CLOSED:
            raise Forbidden("The hearing is closed.", code="room_closed")
        if hearing.phase not in PUBLIC_PHASES:
            raise Forbidden(
                "The board is deliberating; parties cannot join now.", code="deliberation"
            )
    return participant


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


async def require_active(session: AsyncSession, ctx: RoomContext, *, lock: bool = True) -> Hearing:
    """The hearing, for an action in the room (the state guard of most room actions):
    refused when closed, and for parties outside the public hearing or before admission.
    ``lock``: the row is locked for the action's change."""
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


async def hearing_case_ids(session: AsyncSession, hearing_id: int) -> list[int]:
    """The cases on the hearing's agenda, in agenda order."""
    rows = await session.scalars(
        select(AgendaItem.case_id)
        .where(AgendaItem.hearing_id == hearing_id)
        .order_by(AgendaItem.position)
    )
    return list(rows)


async def party_case_ids(session: AsyncSession, hearing_id: int, user_id: int) -> set[int]:
    """The cases of this hearing a party was summoned for."""
    rows = await session.scalars(
        select(Summons.case_id).where(Summons.hearing_id == hearing_id, Summons.user_id == user_id)
    )
    return {case_id for case_id in rows if case_id is not None}


async def panel_seats(session: AsyncSession, hearing_id: int) -> list[PanelSeat]:
    return list(
        await session.scalars(
            select(PanelSeat).where(PanelSeat.hearing_id == hearing_id).order_by(PanelSeat.id)
        )
    )


# ---------------------------------------------------------------- room tokens


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
    """The login session behind a room token for ``hearing_id``, while both are good."""
    try:
        data = _serializer(settings).loads(token)
    except BadSignature:
        raise Unauthenticated("The room token is not valid.", code="bad_token") from None
    if not isinstance(data, dict) or data.get("h") != hearing_id:
        raise Unauthenticated("The room token is not valid.", code="bad_token")
    if int(data.get("e", 0)) < int(utcnow().timestamp()):
        raise Unauthenticated("The room token has expired.", code="token_expired")
    row = await require_valid_session(session, settings, int(data["s"]), idle=False)
    if row.user_id != data.get("u"):
        raise Unauthenticated("The room token is not valid.", code="bad_token")
    return row
