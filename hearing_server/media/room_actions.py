"""The hearing room's audio/video events (docs/realtime.md, "Audio and video"), declared
like the rooms part's own actions and added to the app's registry in ``create_app``:

* ``media.join`` — credentials for the hearing's video room, to a person the room admits;
  ``{"available": false}`` when no media server is configured.
* ``media.mute`` ``{user_id, mute}`` — the secretary or the chair mutes (or unmutes) a
  person's audio on the server (Janus ``moderate``); the room hears of it (``media/mute``).
* ``media.remove`` / ``media.restore`` ``{user_id}`` — cut a person's audio and video for
  the rest of the hearing (their tokens out of ``allowed``, their publisher kicked; a
  new ``media.join`` is refused) or give it back.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.audit.services import do_record
from hearing_server.db import after_commit
from hearing_server.errors import Conflict, NotFound
from hearing_server.i18n import gettext
from hearing_server.media.janus import JanusError, JanusUnavailable
from hearing_server.media.service import MediaService
from hearing_server.rooms import events as ev
from hearing_server.rooms.access import get_participant, require_active
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.log import do_append_event
from hearing_server.rooms.registry import MODERATORS, RoomAction, room_action

log = logging.getLogger(__name__)

JOIN = "media.join"
MUTE = "media.mute"
REMOVE = "media.remove"
RESTORE = "media.restore"


class MuteIn(ev.Payload):
    user_id: int = Field(gt=0)
    mute: bool = True


def _service(ctx: RoomContext) -> MediaService | None:
    return ctx.media if isinstance(ctx.media, MediaService) else None


def _require_service(ctx: RoomContext) -> MediaService:
    service = _service(ctx)
    if service is None:
        raise Conflict("Audio and video are unavailable in this hearing.", code="media_unavailable")
    return service


@room_action(JOIN, schema=ev.Empty, write=False)
async def join(session: AsyncSession, ctx: RoomContext, p: ev.Empty) -> dict[str, Any]:
    """Guard: the room admits this person now (``MediaService.do_join``); a recording
    they have not agreed to pauses."""
    service = _service(ctx)
    if service is None:
        return {
            "available": False,
            "message": gettext("Audio and video are unavailable in this hearing.", ctx.locale),
        }
    answer = await service.do_join(session, ctx)
    if service.recorder is not None:
        # While the room records, someone who has not agreed pauses it before their
        # media can reach it (hearing_server.media.recording).
        await service.recorder.check_joining(ctx.hearing_id, ctx.user.id)
    return answer


async def _target(session: AsyncSession, ctx: RoomContext, user_id: int) -> User:
    user = await session.get(User, user_id)
    hearing = await require_active(session, ctx)
    if user is None or await get_participant(session, user, hearing) is None:
        raise NotFound("This person is not in this hearing.", code="not_found")
    return user


@room_action(MUTE, schema=MuteIn, permission=MODERATORS)
async def mute(session: AsyncSession, ctx: RoomContext, p: MuteIn) -> dict[str, Any]:
    """Guard: the room is open and the person in this hearing. Janus mutes (``moderate``),
    then ``media/mute`` (all) and ``room.media_mute`` (audit) are recorded."""
    service = _require_service(ctx)
    # Janus first, before the first statement takes the database's write lock: only that
    # person's publisher in this hearing's room can be touched (none: not_publishing).
    try:
        done = await service.mute(ctx.hearing_id, p.user_id, p.mute)
    except (JanusError, JanusUnavailable) as error:
        log.warning("mute in hearing %s: %s", ctx.hearing_id, error)
        raise Conflict(
            "Audio and video are unavailable right now.", code="media_unavailable"
        ) from None
    if not done:
        raise Conflict("This person is not sending audio now.", code="not_publishing")
    await _target(session, ctx, p.user_id)
    hearing = await require_active(session, ctx)
    await do_record(
        session,
        actor_id=ctx.user.id,
        action="room.media_mute",
        subject_type="hearing",
        subject_id=hearing.id,
        payload={"user_id": p.user_id, "mute": p.mute},
    )
    await do_append_event(
        session,
        hearing,
        "media",
        "mute",
        {"user_id": p.user_id, "muted": p.mute},
        ev.AUDIENCE_ALL,
        actor_id=ctx.user.id,
    )
    return {"ok": True, "muted": p.mute}


async def _set_removed(
    session: AsyncSession, ctx: RoomContext, user_id: int, removed: bool
) -> dict[str, Any]:
    service = _require_service(ctx)
    await _target(session, ctx, user_id)
    hearing = await require_active(session, ctx)
    if await service.is_removed(session, hearing.id, user_id) == removed:
        raise Conflict("Nothing to change.", code="unchanged")
    op = "remove" if removed else "restore"
    await do_record(
        session,
        actor_id=ctx.user.id,
        action=f"room.media_{op}",
        subject_type="hearing",
        subject_id=hearing.id,
        payload={"user_id": user_id},
    )
    # The board's record is the one is_removed reads; the person hears of it too.
    await do_append_event(
        session,
        hearing,
        "media",
        op,
        {"user_id": user_id},
        ev.AUDIENCE_BOARD,
        actor_id=ctx.user.id,
    )
    await do_append_event(
        session,
        hearing,
        "media",
        op,
        {"user_id": user_id},
        ev.audience_user(user_id),
        actor_id=ctx.user.id,
    )
    if removed:
        hearing_id = hearing.id

        async def cut() -> None:
            try:
                await service.remove_user(hearing_id, user_id)
            except (JanusError, JanusUnavailable) as error:
                log.warning("media.remove in hearing %s: %s", hearing_id, error)

        after_commit(session, cut)
    return {"ok": True}


@room_action(REMOVE, schema=ev.UserIn, permission=MODERATORS)
async def remove(session: AsyncSession, ctx: RoomContext, p: ev.UserIn) -> dict[str, Any]:
    return await _set_removed(session, ctx, p.user_id, True)


@room_action(RESTORE, schema=ev.UserIn, permission=MODERATORS)
async def restore(session: AsyncSession, ctx: RoomContext, p: ev.UserIn) -> dict[str, Any]:
    return await _set_removed(session, ctx, p.user_id, False)


MEDIA_ROOM_ACTIONS: tuple[RoomAction[Any], ...] = (join, mute, remove, restore)
