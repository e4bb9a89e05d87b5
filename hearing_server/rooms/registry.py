"""How a room action is declared and found, and what an app plugs into its rooms.

A room action is one declaration (:func:`room_action`): its name, the schema its payload
must match, who may send it (the permission, checked before anything is read), whether it
writes, and a thin handler that calls one service — the service holds the state guard
("Cannot move the room from … to …") and records what happened (room events, audit). The
same declaration serves the socket and any HTTP route: :meth:`RoomAction.parse` validates
a raw payload, :meth:`RoomAction.perform` checks the permission and runs the handler in the
caller's transaction. The rooms part's own actions are in ``rooms.actions``.

The registry is no module global filled by imports: each app's runtime holds one
(``rt.rooms.actions``), filled explicitly in ``create_app`` — the rooms part's actions by
``rooms.namespace.register``, other parts' (voting's ``vote.cast``) beside it. A name is
taken once, whichever part comes first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.errors import Forbidden, Invalid
from hearing_server.rooms.events import (
    BOARD_ROLES,
    MODERATOR_ROLES,
    OpenVoteCases,
    Realtime,
    RoomContext,
    RoomMedia,
    no_open_votes,
)

if TYPE_CHECKING:
    from hearing_server.group_commit import GroupCommit, Guarded
    from hearing_server.rooms.models import RoomEvent

P = TypeVar("P", bound=BaseModel)
Handler = Callable[[AsyncSession, RoomContext, P], Awaitable[dict[str, Any]]]
"""``(session, ctx, payload) -> ack``: the payload is the validated schema instance."""


@dataclass(frozen=True)
class Grouped:
    """What a group-committed action did: its ack, and the room events it committed."""

    ack: dict[str, Any]
    events: list[RoomEvent]


GroupedHandler = Callable[["GroupCommit | Guarded", RoomContext, P], Awaitable[Grouped | None]]
"""``(group_commit, ctx, payload) -> Grouped | None``: the action in the next group
transaction (``hearing_server.group_commit``), committed when it returns; None when it did
nothing and the usual handler must run (it finds and says what is wrong, or takes the
long way)."""


@dataclass(frozen=True)
class Permission:
    """Who may send an action (their role in the room), and the refusal everyone else gets."""

    roles: frozenset[str]
    message: str
    code: str

    def check(self, ctx: RoomContext) -> None:
        if ctx.role not in self.roles:
            raise Forbidden(self.message, code=self.code)


MODERATORS = Permission(
    MODERATOR_ROLES, "Only the secretary or the chair may do this.", "not_moderator"
)


def board_only(message: str) -> Permission:
    """Panel members, the secretary and admins; ``message`` says what others may not do."""
    return Permission(BOARD_ROLES, message, "not_board")


@dataclass(frozen=True)
class RoomAction(Generic[P]):
    """One thing a person in the room may ask for."""

    name: str
    schema: type[P]
    handler: Handler[P]
    permission: Permission | None = None  # None: anyone in the room
    write: bool = True  # a write transaction (SQLite: BEGIN IMMEDIATE)
    grouped: GroupedHandler[P] | None = None  # the hot path, where a group commit runs

    async def perform_grouped(
        self, group_commit: GroupCommit | Guarded, ctx: RoomContext, payload: P
    ) -> Grouped | None:
        """Check the permission, then try the group-committed handler (None: not done)."""
        if self.grouped is None:
            return None
        if self.permission is not None:
            self.permission.check(ctx)
        return await self.grouped(group_commit, ctx, payload)

    def parse(self, data: Any) -> P:
        """The payload as the schema reads it; ``Invalid`` (with the fields) otherwise."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise Invalid("The event is not valid.", code="invalid")
        try:
            return self.schema.model_validate(data)
        except ValidationError as exc:
            raise Invalid(
                "The event is not valid.",
                code="invalid",
                _details=[
                    {"field": ".".join(str(p) for p in e.get("loc", ())), "type": e.get("type")}
                    for e in exc.errors()
                ],
            ) from None

    async def perform(self, session: AsyncSession, ctx: RoomContext, payload: P) -> dict[str, Any]:
        """Check the permission, then run the handler in the caller's transaction."""
        if self.permission is not None:
            self.permission.check(ctx)
        return await self.handler(session, ctx, payload)


def room_action(
    name: str,
    *,
    schema: type[P],
    permission: Permission | None = None,
    write: bool = True,
    grouped: GroupedHandler[P] | None = None,
) -> Callable[[Handler[P]], RoomAction[P]]:
    """Declare a room action: the decorated handler becomes a :class:`RoomAction` (nothing is
    registered; the app adds it to ``rt.rooms.actions``)."""

    def declare(handler: Handler[P]) -> RoomAction[P]:
        return RoomAction(name, schema, handler, permission, write, grouped)

    return declare


class RoomActions:
    """The actions one app's rooms answer, by name."""

    def __init__(self) -> None:
        self._by_name: dict[str, RoomAction[Any]] = {}

    def add(self, *actions: RoomAction[Any]) -> None:
        for action in actions:
            if action.name in self._by_name:
                raise ValueError(f"the room action {action.name!r} is declared twice")
            self._by_name[action.name] = action

    def replace(self, action: RoomAction[Any]) -> RoomAction[Any]:
        """Put ``action`` in place of the one of the same name (instrumentation: the
        benchmarks time a handler this way); returns the one it replaced."""
        old = self._by_name[action.name]
        self._by_name[action.name] = action
        return old

    def get(self, name: str) -> RoomAction[Any] | None:
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[RoomAction[Any]]:
        return iter(self._by_name.values())


@dataclass(eq=False)
class RoomWiring:
    """What one app's rooms are plugged into (the runtime's ``rooms``): the actions they
    answer, the delivery of committed events to this app's sockets (the namespace sets
    it), and the question the voting part answers for them."""

    actions: RoomActions = field(default_factory=RoomActions)
    realtime: Realtime | None = None
    open_vote_cases: OpenVoteCases = no_open_votes
    # The audio/video part (hearing_server.media), when a media server is configured.
    media: RoomMedia | None = None
