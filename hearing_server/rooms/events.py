"""The hearing room's vocabulary: event names, payload schemas, socket room names,
the registry other parts add event handlers to, and the emit-after-commit helper.

No Socket.IO import here either: the namespace registers an *emitter* per database
(see :func:`register_emitter`) and :func:`emit_after_commit` hands committed room
events to it. Services in any part (rooms, voting) append events with
``rooms.services.do_append_event`` and never emit themselves.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.db import after_commit

if TYPE_CHECKING:
    from hearing_server.accounts.models import User
    from hearing_server.config import Settings
    from hearing_server.rooms.models import RoomEvent

NAMESPACE = "/hearing"
# Every sequenced event reaches clients as this one Socket.IO event; its ``type`` says what.
ROOM_EVENT = "room"
# Sent (unsequenced) to a party just before the server disconnects them.
REMOVED_EVENT = "removed"

MAX_EVENT_BYTES = 8 * 1024  # serialized payload of one client event
MAX_CHAT_CHARS = 2000
MAX_NOTE_CHARS = 4000

# Client → server events handled by the rooms part.
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
    """What the namespace gives services to reach sockets after a commit."""

    emit: Emitter  # (hearing_id, audience, event dict)
    disconnect: Disconnector  # socket ids, on whichever process they live
    enter: RoomEntrant  # (socket ids, hearing_id, audience): put sockets into a room


# Weak references: a registry entry dies with its app (tests build many apps per process).
_realtime: dict[str, list[weakref.ref[Realtime]]] = {}


def _db_key(session: AsyncSession) -> str:
    # Engine.engine is the engine itself; Connection.engine its engine.
    return session.get_bind().engine.url.render_as_string(hide_password=False)


def register_emitter(database_url: str, realtime: Realtime) -> None:
    """Called by the namespace: committed events of ``database_url`` go to ``realtime``."""
    from sqlalchemy.engine import make_url

    key = make_url(database_url).render_as_string(hide_password=False)
    refs = [r for r in _realtime.get(key, []) if r() is not None]
    refs.append(weakref.ref(realtime))
    _realtime[key] = refs


def unregister_emitter(database_url: str, realtime: Realtime) -> None:
    from sqlalchemy.engine import make_url

    key = make_url(database_url).render_as_string(hide_password=False)
    _realtime[key] = [r for r in _realtime.get(key, []) if r() not in (None, realtime)]


def _targets(session: AsyncSession) -> list[Realtime]:
    found = (r() for r in _realtime.get(_db_key(session), []))
    return [target for target in found if target is not None]


def emit_after_commit(session: AsyncSession, event: RoomEvent) -> None:
    """Queue ``event`` for broadcast to its audience once the transaction commits."""
    pending: list[RoomEvent] | None = session.info.get("room_emit")
    if pending is None:
        pending = session.info["room_emit"] = []
        targets = _targets(session)

        async def flush() -> None:
            queued = session.info.pop("room_emit", [])
            for item in queued:
                data = event_dict(item)
                for target in targets:
                    await target.emit(item.hearing_id, item.audience, data)

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


# ---------------------------------------------------------------- handlers of other parts


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

    @property
    def is_board(self) -> bool:
        return self.role in BOARD_ROLES

    @property
    def is_moderator(self) -> bool:
        return self.role in MODERATOR_ROLES


BOARD_ROLES = frozenset({"chair", "member", "secretary", "admin"})
MODERATOR_ROLES = frozenset({"chair", "secretary"})
PARTY_ROLES = frozenset({"claimant", "respondent", "representative"})

Handler = Callable[[AsyncSession, RoomContext, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ExtraHandler:
    handler: Handler
    schema: type[Payload] | None
    write: bool


EXTRA_HANDLERS: dict[str, ExtraHandler] = {}


def register_handler(
    event: str, handler: Handler, *, schema: type[Payload] | None = None, write: bool = True
) -> None:
    """Let another part answer a room event (e.g. voting's ``vote.cast``).

    The namespace authenticates the socket, applies the size cap and rate limit,
    validates ``schema`` (the handler then gets ``model_dump()``), opens the
    transaction (``write``), calls ``handler(session, ctx, payload)``, and returns its
    dict as the ack. Raise ``DomainError`` kinds to refuse; the ack carries the
    localized error and the transaction rolls back (unless ``persist=True``).
    """
    if event in BUILTIN_EVENTS:
        raise ValueError(f"{event!r} is a rooms event")
    EXTRA_HANDLERS[event] = ExtraHandler(handler, schema, write)


BUILTIN_EVENTS = frozenset(
    {
        SYNC,
        PHASE_SET,
        ADMIT,
        CASE_SET,
        PRESENTER_SET,
        VIEW_SET,
        HIGHLIGHT_ADD,
        NOTE_ADD,
        READING_LOG,
        HAND_RAISE,
        HAND_LOWER,
        FLOOR_GIVE,
        FLOOR_TAKE,
        CHAT_SEND,
    }
)
