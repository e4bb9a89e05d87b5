"""Admission to audio/video follows admission to the room.

One private VideoRoom per hearing (string id ``hearing-<id>``), created when the hearing
opens or when its first participant asks to join, destroyed when it closes. A person the
room admits (the board; a party admitted from the lobby, in a public phase, not removed
from the media by the chair) gets, through the ``media.join`` socket event: the Janus URL
browsers use, the room id, a core token and a room token (signed, short-lived, for this
hearing only), the publisher id to join with and TURN credentials (REST-style, expiring).
The room token is also put in the room's ``allowed`` list: signed tokens cannot be
revoked, the list can.

Tokens and publisher ids are derived, not stored: a person's room token for a time
window is ``HMAC(token secret, hearing, user, window end)``, so the server can always name
(and remove from ``allowed``) every token of a person that is still good — this window's
and the next. A publisher id ``u<user>-<mac>`` says whose it is and proves that Heyat
issued it; cutting the parties kicks every publisher whose id is not a board member's.

With the app's database (``MediaService(config, db)``) the rooms are spread over the table
of media servers (:mod:`.fleet`): each hearing's room pinned to one, every server
health-checked (:meth:`MediaService.run_health_checks`), and the rooms of a server that
died made again on another (:meth:`MediaService.move`), the room told ``media/moved``.
Whatever talks to a hearing's room asks :meth:`MediaService.janus_for` for its server's
client; ``MediaService.janus`` is the configured (``local``) server's only.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.config import Settings
from hearing_server.db import Database
from hearing_server.errors import Conflict, Forbidden, NotFound
from hearing_server.media import fleet, tokens
from hearing_server.media.fleet import Server
from hearing_server.media.janus import JanusClient, JanusError, JanusUnavailable
from hearing_server.media.render import media_paths
from hearing_server.rooms import events as ev
from hearing_server.rooms.access import check_participant, is_admitted
from hearing_server.rooms.log import PUBLIC_PHASES, do_append_event
from hearing_server.rooms.models import RoomEvent
from hearing_server.scheduling.models import Hearing, RoomPhase

if TYPE_CHECKING:
    from hearing_server.media.recording import Recorder

log = logging.getLogger(__name__)


def room_id(hearing_id: int) -> str:
    return f"hearing-{hearing_id}"


def hearing_of_room(room: str) -> int | None:
    prefix, _, number = room.partition("-")
    return int(number) if prefix == "hearing" and number.isdigit() else None


@dataclass(frozen=True)
class MediaConfig:
    """What the media part needs of the settings, secrets filled."""

    janus_url: str
    public_janus_url: str
    api_secret: str
    admin_key: str
    token_secret: str
    turn_secret: str
    turn_urls: tuple[str, ...]
    token_seconds: int
    turn_seconds: int
    rec_dir: str
    health_seconds: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaConfig | None:
        """None when no media server is configured (the room works without audio/video)."""
        if settings.media_disabled or not settings.media_janus_url:
            return None
        return cls(
            janus_url=settings.media_janus_url,
            public_janus_url=settings.media_public_janus_url or settings.media_janus_url,
            api_secret=settings.media_api_secret,
            admin_key=settings.media_admin_key,
            token_secret=settings.media_token_secret,
            turn_secret=settings.media_turn_secret,
            turn_urls=settings.media_turn_urls,
            token_seconds=max(10, settings.media_token_seconds),
            turn_seconds=max(10, settings.media_turn_seconds),
            rec_dir=str(media_paths(settings).recordings.absolute()),
            health_seconds=max(0.2, settings.media_health_seconds),
        )


class MediaService:
    """The media part of one app (``rt.rooms.media``)."""

    def __init__(self, config: MediaConfig, db: Database | None = None) -> None:
        """``db``: the installation's table of media servers (:mod:`.fleet`) is used, and
        each hearing's room pinned to one of them; without it, the one server of
        ``config`` holds every room."""
        self.config = config
        self.db = db
        # The rooms' own secret (kick, moderate, destroy): derived, so every process of
        # one installation computes the same.
        self._room_secret = self._mac("room-secret")
        self._clients: dict[tuple[str, str], JanusClient] = {}
        # The configured server (``local`` in the table): the only one without ``db``.
        self.janus = self._client_for(config.janus_url, config.api_secret)
        self.local = Server(0, fleet.LOCAL, config.janus_url, config.public_janus_url, "", True)
        # Told the servers after every round of health checks (the app keeps the room
        # page's CSP connect-src open to their public origins).
        self.on_servers: Callable[[list[Server]], None] = lambda servers: None
        # Consented recording (hearing_server.media.recording), set in create_app.
        self.recorder: Recorder | None = None

    async def close(self) -> None:
        if self.recorder is not None:
            await self.recorder.close()
        for client in self._clients.values():
            await client.close()
        self._clients.clear()

    def _client_for(self, url: str, api_secret: str) -> JanusClient:
        key = (url, api_secret)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = JanusClient(
                url,
                api_secret=api_secret,
                admin_key=self.config.admin_key,
                room_secret=self._room_secret,
            )
        return client

    def client(self, server: Server) -> JanusClient:
        """The Janus client of ``server``, with its API secret: the installation's, or
        the environment variable its ``secret_ref`` names."""
        if not server.secret_ref:
            return self._client_for(server.url, self.config.api_secret)
        secret = os.environ.get(server.secret_ref)
        if not secret:
            raise JanusUnavailable(f"{server.secret_ref} is not set (media server {server.name})")
        return self._client_for(server.url, secret)

    # --- derived credentials -----------------------------------------------------------

    def _mac(self, *parts: object) -> str:
        data = ":".join(str(part) for part in parts).encode()
        return hmac.new(self.config.token_secret.encode(), data, hashlib.sha256).hexdigest()

    def feed_id(self, hearing_id: int, user_id: int) -> str:
        return f"u{user_id}-{self._mac('feed', hearing_id, user_id)[:12]}"

    def feed_user(self, hearing_id: int, feed: str) -> int | None:
        """The user a publisher id was issued to, when Heyat issued it for this hearing."""
        head, _, _mac = str(feed).partition("-")
        if not head.startswith("u") or not head[1:].isdigit():
            return None
        user_id = int(head[1:])
        return (
            user_id if hmac.compare_digest(str(feed), self.feed_id(hearing_id, user_id)) else None
        )

    def _window_ends(self, now: float) -> list[int]:
        """The ends of the token windows still good at ``now``: this one and the next."""
        step = self.config.token_seconds
        base = int(now) // step * step
        return [base + step, base + 2 * step]

    def room_token(self, hearing_id: int, user_id: int, expires: int) -> str:
        grant = self._mac("grant", hearing_id, user_id, expires)[:16]
        return tokens.room_token(self.config.token_secret, expires, room_id(hearing_id), grant)

    def live_room_tokens(self, hearing_id: int, user_id: int, now: float) -> list[str]:
        return [self.room_token(hearing_id, user_id, end) for end in self._window_ends(now)]

    def credentials(
        self, hearing_id: int, user_id: int, now: float, server: Server | None = None
    ) -> dict[str, Any]:
        """What ``media.join`` answers (the room token is the next window's: good for at
        least ``token_seconds``), for the room on ``server`` (the configured one by
        default)."""
        server = server or self.local
        expires = self._window_ends(now)[1]
        turn = tokens.turn_credential(
            self.config.turn_secret,
            f"h{hearing_id}u{user_id}",
            int(now) + self.config.turn_seconds,
            self.config.turn_urls,
        )
        return {
            "available": True,
            "janus_url": server.public_url,
            "server": server.name,
            "room": room_id(hearing_id),
            "core_token": tokens.core_token(self.config.token_secret, expires),
            "room_token": self.room_token(hearing_id, user_id, expires),
            "expires_at": expires,
            "feed_id": self.feed_id(hearing_id, user_id),
            "ice_servers": [turn.ice_server()] if turn.urls else [],
            "turn_expires_at": turn.expires,
        }

    # --- admission -----------------------------------------------------------------------

    async def do_join(self, session: AsyncSession, ctx: ev.RoomContext) -> dict[str, Any]:
        """Credentials for a person the room admits now; refused otherwise."""
        participant = await check_participant(session, ctx.user, ctx.hearing_id)
        hearing = await session.get(Hearing, ctx.hearing_id)
        if hearing is None:
            raise NotFound("No such hearing.")
        if hearing.phase == RoomPhase.CLOSED:
            raise Forbidden("The hearing is closed.", code="room_closed")
        if not participant.is_board:
            if hearing.phase not in PUBLIC_PHASES:
                raise Forbidden(
                    "The board is deliberating; parties cannot join now.", code="deliberation"
                )
            if not await is_admitted(session, ctx.hearing_id, ctx.user.id):
                raise Forbidden("Please wait until the secretary admits you.", code="not_admitted")
        if await self.is_removed(session, ctx.hearing_id, ctx.user.id):
            raise Forbidden(
                "The chair removed you from the audio and video of this hearing.",
                code="media_removed",
            )
        for attempt in (1, 2):
            server: Server | None = None
            try:
                server = await self.server_for(ctx.hearing_id, open_room=True)
                answer = self.credentials(ctx.hearing_id, ctx.user.id, time.time(), server)
                janus = self.client(server)
                await self._ensure_room_on(janus, ctx.hearing_id)
                await janus.allowed(room_id(ctx.hearing_id), "add", [answer["room_token"]])
                return answer
            except JanusUnavailable as error:
                log.warning("media.join for hearing %s: %s", ctx.hearing_id, error)
                # The server did not answer: down now, and the room moves (once).
                if attempt == 1 and server is not None and self.db is not None:
                    await self.mark_down(server)
                    continue
            except JanusError as error:
                log.warning("media.join for hearing %s: %s", ctx.hearing_id, error)
            break
        raise Conflict("Audio and video are unavailable right now.", code="media_unavailable")

    @staticmethod
    async def is_removed(session: AsyncSession, hearing_id: int, user_id: int) -> bool:
        """The chair's last word on this person's media: ``media/remove`` or ``restore``."""
        last = await session.scalar(
            select(RoomEvent.op)
            .where(
                RoomEvent.hearing_id == hearing_id,
                RoomEvent.type == "media",
                RoomEvent.op.in_(("remove", "restore")),
                RoomEvent.audience == ev.AUDIENCE_BOARD,
                RoomEvent.payload["user_id"].as_integer() == user_id,
            )
            .order_by(RoomEvent.seq.desc())
            .limit(1)
        )
        return last == "remove"

    # --- the room's life -------------------------------------------------------------

    async def ensure_room(self, hearing_id: int) -> bool:
        """Make the hearing's room on its server (pinned now if it was not)."""
        server = await self.server_for(hearing_id, open_room=True)
        return await self._ensure_room_on(self.client(server), hearing_id)

    async def _ensure_room_on(
        self, janus: JanusClient, hearing_id: int, allowed: Iterable[str] = ()
    ) -> bool:
        return await janus.ensure_room(
            room_id(hearing_id),
            description=f"Heyat hearing {hearing_id}",
            allowed=allowed,
            rec_dir=f"{self.config.rec_dir}/{room_id(hearing_id)}",
        )

    async def janus_in(self, session: AsyncSession, hearing_id: int) -> JanusClient:
        """The client of the server the hearing's room is pinned to, read in the caller's
        transaction: a room action holds one, and on SQLite a second transaction opened
        from inside it would wait for it (and fail as "database is locked")."""
        if self.db is None:
            return self.janus
        pinned = await fleet.get_pin(session, hearing_id)
        return self.client(pinned if pinned is not None else self.local)

    async def ensure_room_in(self, session: AsyncSession, hearing_id: int) -> bool:
        """:meth:`ensure_room` for a caller inside a transaction (see :meth:`janus_in`):
        the room is made on the server it is pinned to, never moved."""
        return await self._ensure_room_on(await self.janus_in(session, hearing_id), hearing_id)

    async def janus_for(self, hearing_id: int) -> JanusClient:
        """The client of the server holding the hearing's room (no room is made or moved:
        a room that does not exist answers Janus's 426)."""
        return self.client(await self.server_for(hearing_id, open_room=False))

    async def phase_changed(self, hearing_id: int, phase: str, party_ids: Iterable[int]) -> None:
        """After the commit of a phase change (rooms.phases): the hearing opening creates the
        room; leaving the public phases cuts every party's media; closing destroys it.
        Never raises: the room's phase stands whatever the media server does.
        A recording stops first (it records the public part only), in this same step."""
        target = RoomPhase(phase)
        if target not in PUBLIC_PHASES and self.recorder is not None:
            try:
                await self.recorder.phase_changed(hearing_id, target)
            except Exception:  # the phase stands; the log says why nothing was stored
                log.exception("stopping the recording of hearing %s", hearing_id)
        try:
            if target == RoomPhase.CLOSED:
                janus = await self.janus_for(hearing_id)
                await janus.destroy_room(room_id(hearing_id))
                await self._unpin(hearing_id)
            elif target in PUBLIC_PHASES:
                await self.ensure_room(hearing_id)
            else:
                await self.cut(hearing_id, set(party_ids))
        except (JanusUnavailable, JanusError) as error:
            log.warning("media for hearing %s at %s: %s", hearing_id, phase, error)

    async def cut(self, hearing_id: int, revoke: set[int]) -> list[str]:
        """Remove ``revoke``'s tokens from ``allowed``, then kick their publishers and any
        publisher whose id Heyat did not issue. Returns the kicked ids."""
        room = room_id(hearing_id)
        now = time.time()
        stale = [
            tok for uid in sorted(revoke) for tok in self.live_room_tokens(hearing_id, uid, now)
        ]
        janus = await self.janus_for(hearing_id)
        try:
            if stale:
                await janus.allowed(room, "remove", stale)
            participants = await janus.participants(room)
        except JanusError as error:
            if error.code == 426:  # no such room: nobody to cut
                return []
            raise
        kicked = []
        for entry in participants:
            feed = str(entry.get("id"))
            owner = self.feed_user(hearing_id, feed)
            if owner is not None and owner not in revoke:
                continue
            try:
                await janus.kick(room, feed)
                kicked.append(feed)
            except JanusError as error:
                log.info("kick %s in %s: %s", feed, room, error)
        return kicked

    async def remove_user(self, hearing_id: int, user_id: int) -> list[str]:
        """Cut one person's media (their tokens out of ``allowed``, their publisher kicked)."""
        room = room_id(hearing_id)
        janus = await self.janus_for(hearing_id)
        await janus.allowed(room, "remove", self.live_room_tokens(hearing_id, user_id, time.time()))
        kicked = []
        for entry in await janus.participants(room):
            feed = str(entry.get("id"))
            if self.feed_user(hearing_id, feed) == user_id:
                await janus.kick(room, feed)
                kicked.append(feed)
        return kicked

    async def mute(self, hearing_id: int, user_id: int, mute: bool) -> int:
        """Mute (or unmute) ``user_id``'s audio server-side (``moderate``): their client
        keeps sending, Janus forwards nothing. Returns how many streams it touched."""
        room = room_id(hearing_id)
        feed = self.feed_id(hearing_id, user_id)
        # Heyat looks at the room as a participant does to learn the audio mids.
        expires = self._window_ends(time.time())[0]
        token = tokens.room_token(self.config.token_secret, expires, room, self._mac("peek")[:16])
        janus = await self.janus_for(hearing_id)
        await janus.allowed(room, "add", [token])
        try:
            publishers = await janus.publishers(room, token)
        finally:
            await janus.allowed(room, "remove", [token])
        done = 0
        for entry in publishers:
            if str(entry.get("id")) != feed:
                continue
            for stream in entry.get("streams", []):
                if stream.get("type") == "audio" and not stream.get("disabled"):
                    await janus.moderate(room, feed, str(stream["mid"]), mute)
                    done += 1
        return done

    # --- several media servers (the table of :mod:`.fleet`) -------------------------

    async def register_local(self) -> None:
        """The configured server, as ``local`` in the table (the app's start)."""
        if self.db is None:
            return
        async with self.db.transaction() as session:
            local = await fleet.do_register_local(
                session, self.config.janus_url, self.config.public_janus_url
            )
        self.local = local

    async def server_for(self, hearing_id: int, *, open_room: bool) -> Server:
        """The server holding the hearing's room. ``open_room``: pin one now if none is
        (the least loaded healthy server), and move the room if its server is down."""
        if self.db is None:
            return self.local
        async with self.db.transaction() as session:
            pinned = await fleet.get_pin(session, hearing_id)
            if pinned is not None and (pinned.healthy or not open_room):
                return pinned
            if pinned is None:
                if not open_room:
                    return self.local
                target = await fleet.choose_server(session)
                if target is None:
                    raise JanusUnavailable("no media server is healthy")
                return await fleet.do_pin(session, hearing_id, target.id)
        await self.move(hearing_id, pinned)
        async with self.db.transaction(write=False) as session:
            now = await fleet.get_pin(session, hearing_id)
        if now is None or not now.healthy:
            raise JanusUnavailable("no media server is healthy")
        return now

    async def _unpin(self, hearing_id: int) -> None:
        if self.db is not None:
            async with self.db.transaction() as session:
                await fleet.do_unpin(session, hearing_id)

    async def mark_down(self, server: Server) -> None:
        if self.db is None:
            return
        async with self.db.transaction() as session:
            await fleet.do_mark_down(session, server.id)

    async def move(self, hearing_id: int, dead: Server) -> Server | None:
        """Make the hearing's room again on the least loaded healthy server other than
        ``dead``, with the ``allowed`` list of who is admitted to its media now, pin it
        there and tell the room (``media/moved``: clients join the new server without
        leaving the hearing). None when no server can take it, or when another process
        moved it first (the pin is compared and set)."""
        if self.db is None:
            return None
        async with self.db.transaction() as session:
            target = await fleet.choose_server(session, exclude=dead.id)
            if target is None:
                log.warning("hearing %s: no healthy media server to move to", hearing_id)
                return None
            if not await fleet.do_repin(session, hearing_id, dead.id, target.id):
                return None
            hearing = await session.get(Hearing, hearing_id)
            if hearing is None or hearing.phase == RoomPhase.CLOSED:
                await fleet.do_unpin(session, hearing_id)
                return None
            now = time.time()
            allowed = [
                token
                for user_id in await fleet.media_admitted_users(session, hearing_id, hearing.phase)
                if not await self.is_removed(session, hearing_id, user_id)
                for token in self.live_room_tokens(hearing_id, user_id, now)
            ]
            # Raises (and the pin stays where it was) when the target fails too.
            janus = self.client(target)
            if not await self._ensure_room_on(janus, hearing_id, allowed) and allowed:
                # The target still had a room of this hearing (it held it before and was
                # taken for dead, or a restart of ours left it): its allowed list is old,
                # and the people admitted now would be refused (433).
                await janus.allowed(room_id(hearing_id), "add", allowed)
            await do_append_event(
                session, hearing, "media", "moved", {"server": target.name}, ev.AUDIENCE_ALL
            )
        log.warning(
            "hearing %s: media room moved from %s to %s", hearing_id, dead.name, target.name
        )
        return target

    async def check_servers(self) -> None:
        """One round of health checks (``GET /info`` on every server), then every room on
        a server that is down moves to a healthy one."""
        if self.db is None:
            return
        async with self.db.transaction(write=False) as session:
            servers = [load.server for load in await fleet.list_servers(session)]
        self.on_servers(servers)
        answers = await asyncio.gather(*(self._answers(server) for server in servers))
        async with self.db.transaction() as session:
            for server, ok in zip(servers, answers, strict=True):
                if await fleet.do_record_check(session, server.id, ok):
                    log.warning("media server %s (%s) is down", server.name, server.url)
        async with self.db.transaction(write=False) as session:
            down = await fleet.servers_down_with_rooms(session)
            moving = [(server, await fleet.pinned_hearings(session, server.id)) for server in down]
        for server, hearings in moving:
            for hearing_id in hearings:
                try:
                    await self.move(hearing_id, server)
                except (JanusUnavailable, JanusError) as error:
                    log.warning("hearing %s: media room could not move: %s", hearing_id, error)

    async def _answers(self, server: Server) -> bool:
        try:
            info = await self.client(server).info()
        except JanusUnavailable:
            return False
        except Exception:  # an answer that is not Janus's
            return False
        return info.get("janus") == "server_info"

    async def run_health_checks(self) -> None:
        """Forever (a served app's background task): :meth:`check_servers` every
        ``health_seconds``."""
        while True:
            await asyncio.sleep(self.config.health_seconds)
            try:
                await self.check_servers()
            except asyncio.CancelledError:
                raise
            except Exception:  # a busy database: the next round tries again
                log.exception("media health check failed")
