"""The hearing room's vocabulary: event names, payload schemas, audiences and socket room
names, who sends an event (``RoomContext``), and the delivery of committed events.

No Socket.IO import here either: the namespace hands its app's delivery (``Realtime``) to
the runtime (``rt.rooms.realtime``) and :func:`emit_after_commit` gives committed room
events to it. Services in any part (rooms, voting) append events with
``rooms.log.do_append_event`` and never emit themselves. The actions a client may send are
declared in ``rooms.actions`` (``rooms.registry`` says how).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.db import after_commit

if TYPE_CHECKING:
    from hearing_server.accounts.models import User
    from hearing_server.config import Settings
    from hearing_server.rooms.models import RoomEvent
    from hearing_server.rooms.registry import RoomWiring

NAMESPACE = "/hearing"
# Every sequenced event reaches clients as this one Socket.IO event; its ``type`` says what.
ROOM_EVENT = "room"
# Sent (unsequenced) to a party just before the server disconnects them.
REMOVED_EVENT = "removed"

MAX_EVENT_BYTES = 8 * 1024  # serialized payload of one client event
MAX_CHAT_CHARS = 2000
MAX_NOTE_CHARS = 4000

# Client → server events handled by the rooms part (their actions: ``rooms.actions``).
SYNC = "sync"
PHASE_SET = "phase.set"
ADMIT = "admit"
CASE_SET = "case.set"
PRESENTER_SET = "presenter.set"
VIEW_SET = "view.set"
HIGHLIGHT_ADD = "highlight.add"
NOTE_ADD = "note.add"
READING_LOG = "reading.log"
HAND_RAISE = "hand.raise"
HAND_LOWER = "hand.lower"
FLOOR_GIVE = "floor.give"
FLOOR_TAKE = "floor.take"
CHAT_SEND = "chat.send"


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class Empty(Payload):
    pass


class SyncIn(Payload):
    last_seq: int | None = Field(default=None, ge=0)


class PhaseIn(Payload):
    phase: Literal["lobby", "hearing", "deliberation", "voting", "closed"]


class UserIn(Payload):
    user_id: int = Field(gt=0)


class CaseIn(Payload):
    case_id: int = Field(gt=0)


class ViewIn(Payload):
    document_id: int = Field(gt=0)
    page: int = Field(ge=1, le=10_000)
    zoom: int = Field(default=100, ge=25, le=400)


class Rect(Payload):
    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    w: float = Field(gt=0, le=1)
    h: float = Field(gt=0, le=1)


class HighlightIn(Payload):
    document_id: int = Field(gt=0)
    page: int = Field(ge=1, le=10_000)
    rect: Rect
    note: str | None = Field(default=None, max_length=500)


class NoteIn(Payload):
    case_id: int = Field(gt=0)
    document_id: int | None = Field(default=None, gt=0)
    page: int | None = Field(default=None, ge=1, le=10_000)
    body: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)


class ReadingIn(Payload):
    document_id: int = Field(gt=0)
    page: int = Field(ge=1, le=10_000)
    seconds: int = Field(ge=0, le=3600)


class ChatIn(Payload):
    body: str = Field(min_length=1, max_length=MAX_CHAT_CHARS)
    kind: Literal["chat", "statement"] = "chat"


def payload_size(data: Any) -> int:
    """Bytes of ``data`` as JSON (what the size cap measures)."""
    try:
        return len(json.dumps(data, ensure_ascii=False, default=str).encode())
    except (TypeError, ValueError):
        return MAX_EVENT_BYTES + 1


# ---------------------------------------------------------------- audiences and rooms

AUDIENCE_ALL = "all"  # the board and admitted parties
AUDIENCE_BOARD = "board"  # panel members, the secretary, admins


def audience_user(user_id: int) -> str:
    return f"user:{user_id}"


def socket_room(hearing_id: int, audience: str) -> str:
    """The Socket.IO room that receives events for ``audience`` of one hearing."""
    if audience == AUDIENCE_ALL:
        return f"h{hearing_id}:all"
    if audience == AUDIENCE_BOARD:
        return f"h{hearing_id}:board"
    if audience.startswith("user:"):
        return f"h{hearing_id}:u{int(audience[5:])}"
    raise ValueError(f"unknown audience {audience!r}")


def event_dict(event: RoomEvent) -> dict[str, Any]:
    """What a client receives for one room event (live or replayed)."""
    return {
        "seq": event.seq,
        "type": event.type,
        "op": event.op,
        "payload": event.payload,
        "actor_id": event.actor_id,
        "at": event.at.isoformat(),
    }


# ---------------------------------------------------------------- emit after commit

Emitter = Callable[[int, str, dict[str, Any]], Awaitable[None]]
Disconnector = Callable[[list[str]], Awaitable[None]]
RoomEntrant = Callable[[list[str], int, str], Awaitable[None]]


@dataclass
class Realtime:
    """What the namespace gives services to reach sockets after a commit; the app's runtime
    holds it (``rt.rooms.realtime``)."""

    emit: Emitter  # (hearing_id, audience, event dict)
    disconnect: Disconnector  # socket ids, on whichever process they live
    enter: RoomEntrant  # (socket ids, hearing_id, audience): put sockets into a room


# The runtimes' room wirings in this process, by the database they serve (its URL without
# the password), weakly: an entry goes with its app (tests build many apps per process).
# A committed session reaches every app on its database: the HTTP requests of one app and
# the sockets of another (the tests' ``client`` beside their ``live_server``) share rooms
# as processes do through Redis.
_wirings: dict[str, weakref.WeakSet[RoomWiring]] = {}


def _database_key(url: Any) -> str:
    return str(make_url(url).set(password=None).render_as_string(hide_password=False))


def attach(database_url: str, rooms: RoomWiring) -> None:
    """Called by the namespace: committed events of ``database_url`` go to
    ``rooms.realtime``."""
    _wirings.setdefault(_database_key(database_url), weakref.WeakSet()).add(rooms)


def detach(database_url: str, rooms: RoomWiring) -> None:
    _wirings.get(_database_key(database_url), weakref.WeakSet()).discard(rooms)


def _targets(session: AsyncSession) -> list[Realtime]:
    # Engine.engine is the engine itself; Connection.engine its engine.
    return _targets_of(session.get_bind().engine.url)


def _targets_of(database_url: Any) -> list[Realtime]:
    found = _wirings.get(_database_key(database_url), ())
    return [rooms.realtime for rooms in found if rooms.realtime is not None]


async def emit_committed(database_url: str, events: list[RoomEvent]) -> None:
    """Broadcast events already committed (by a group commit) to their audiences."""
    await _emit(_targets_of(database_url), events)


async def _emit(targets: list[Realtime], events: list[RoomEvent]) -> None:
    for event in events:
        data = event_dict(event)
        for target in targets:
            await target.emit(event.hearing_id, event.audience, data)


def emit_after_commit(session: AsyncSession, event: RoomEvent) -> None:
    """Queue ``event`` for broadcast to its audience once the transaction commits."""
    pending: list[RoomEvent] | None = session.info.get("room_emit")
    if pending is None:
        pending = session.info["room_emit"] = []
        targets = _targets(session)

        async def flush() -> None:
            await _emit(targets, session.info.pop("room_emit", []))

        after_commit(session, flush)
    pending.append(event)


def disconnect_after_commit(session: AsyncSession, sids: list[str]) -> None:
    if not sids:
        return
    targets = _targets(session)

    async def run() -> None:
        for target in targets:
            await target.disconnect(sids)

    after_commit(session, run)


def enter_after_commit(
    session: AsyncSession, sids: list[str], hearing_id: int, audience: str
) -> None:
    if not sids:
        return
    targets = _targets(session)

    async def run() -> None:
        for target in targets:
            await target.enter(sids, hearing_id, audience)

    after_commit(session, run)


# ---------------------------------------------------------------- who sends an event

OpenVoteCases = Callable[[AsyncSession, int], Awaitable[Collection[int]]]
"""``(session, hearing_id)`` → the ids of the hearing's cases with a vote still open. The
voting part answers it (``rt.rooms.open_vote_cases``, set in ``create_app``); the room asks
when it closes, so that such a case is not sent back to the board's queue."""


async def no_open_votes(session: AsyncSession, hearing_id: int) -> frozenset[int]:
    """The answer without a voting part: no vote is open."""
    return frozenset()


class RoomMedia(Protocol):
    """The audio/video part's hook (``rt.rooms.media``, set in ``create_app`` when a media
    server is configured): told after the commit of a phase change, before the parties'
    sockets are closed, so their media is cut in the same step."""

    async def phase_changed(
        self, hearing_id: int, phase: str, party_ids: Collection[int]
    ) -> None: ...


def media_after_commit(
    session: AsyncSession,
    media: RoomMedia | None,
    hearing_id: int,
    phase: str,
    party_ids: Collection[int],
) -> None:
    if media is None:
        return

    async def run() -> None:
        await media.phase_changed(hearing_id, phase, party_ids)

    after_commit(session, run)


@dataclass
class RoomContext:
    """Who sends an event on which socket, as the namespace authenticated them."""

    sid: str
    user: User
    hearing_id: int
    role: str  # chair, member, secretary, admin, claimant, respondent, representative
    locale: str
    settings: Settings
    login_session_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The runtime's hook (``rt.rooms.open_vote_cases``), handed on by the boundary.
    open_vote_cases: OpenVoteCases = no_open_votes
    # The media part's hook (``rt.rooms.media``), handed on by the boundary.
    media: RoomMedia | None = None

    @property
    def is_board(self) -> bool:
        return self.role in BOARD_ROLES

    @property
    def is_moderator(self) -> bool:
        return self.role in MODERATOR_ROLES


BOARD_ROLES = frozenset({"chair", "member", "secretary", "admin"})
MODERATOR_ROLES = frozenset({"chair", "secretary"})
PARTY_ROLES = frozenset({"claimant", "respondent", "representative"})
