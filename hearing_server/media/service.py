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
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.config import Settings
from hearing_server.errors import Conflict, Forbidden, NotFound
from hearing_server.media import tokens
from hearing_server.media.janus import JanusClient, JanusError, JanusUnavailable
from hearing_server.media.render import media_paths
from hearing_server.rooms import events as ev
from hearing_server.rooms.access import check_participant, is_admitted
from hearing_server.rooms.log import PUBLIC_PHASES
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
        )


class MediaService:
    """The media part of one app (``rt.rooms.media``)."""

    def __init__(self, config: MediaConfig) -> None:
        self.config = config
        # The rooms' own secret (kick, moderate, destroy): derived, so every process of
        # one installation computes the same.
        room_secret = self._mac("room-secret")
        self.janus = JanusClient(
            config.janus_url,
            api_secret=config.api_secret,
            admin_key=config.admin_key,
            room_secret=room_secret,
        )
        # Consented recording (hearing_server.media.recording), set in create_app.
        self.recorder: Recorder | None = None

    async def close(self) -> None:
        if self.recorder is not None:
            await self.recorder.close()
        await self.janus.close()

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

    def credentials(self, hearing_id: int, user_id: int, now: float) -> dict[str, Any]:
        """What ``media.join`` answers (the room token is the next window's: good for at
        least ``token_seconds``)."""
        expires = self._window_ends(now)[1]
        turn = tokens.turn_credential(
            self.config.turn_secret,
            f"h{hearing_id}u{user_id}",
            int(now) + self.config.turn_seconds,
            self.config.turn_urls,
        )
        return {
            "available": True,
            "janus_url": self.config.public_janus_url,
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
        now = time.time()
        answer = self.credentials(ctx.hearing_id, ctx.user.id, now)
        try:
            await self.ensure_room(ctx.hearing_id)
            await self.janus.allowed(room_id(ctx.hearing_id), "add", [answer["room_token"]])
        except (JanusUnavailable, JanusError) as error:
            log.warning("media.join for hearing %s: %s", ctx.hearing_id, error)
            raise Conflict(
                "Audio and video are unavailable right now.", code="media_unavailable"
            ) from None
        return answer

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
        return await self.janus.ensure_room(
            room_id(hearing_id),
            description=f"Heyat hearing {hearing_id}",
            rec_dir=f"{self.config.rec_dir}/{room_id(hearing_id)}",
        )

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
                await self.janus.destroy_room(room_id(hearing_id))
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
        try:
            if stale:
                await self.janus.allowed(room, "remove", stale)
            participants = await self.janus.participants(room)
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
                await self.janus.kick(room, feed)
                kicked.append(feed)
            except JanusError as error:
                log.info("kick %s in %s: %s", feed, room, error)
        return kicked

    async def remove_user(self, hearing_id: int, user_id: int) -> list[str]:
        """Cut one person's media (their tokens out of ``allowed``, their publisher kicked)."""
        room = room_id(hearing_id)
        await self.janus.allowed(
            room, "remove", self.live_room_tokens(hearing_id, user_id, time.time())
        )
        kicked = []
        for entry in await self.janus.participants(room):
            feed = str(entry.get("id"))
            if self.feed_user(hearing_id, feed) == user_id:
                await self.janus.kick(room, feed)
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
        await self.janus.allowed(room, "add", [token])
        try:
            publishers = await self.janus.publishers(room, token)
        finally:
            await self.janus.allowed(room, "remove", [token])
        done = 0
        for entry in publishers:
            if str(entry.get("id")) != feed:
                continue
            for stream in entry.get("streams", []):
                if stream.get("type") == "audio" and not stream.get("disabled"):
                    await self.janus.moderate(room, feed, str(stream["mid"]), mute)
                    done += 1
        return done
