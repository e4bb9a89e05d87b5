"""The self-check page before a hearing: camera, microphone, and a connection through
TURN (the relay phones and home internet behind strict NATs need), for a person with a
place in that hearing."""

from __future__ import annotations

import time
from typing import Any

from quart import Blueprint, Response, render_template

from hearing_server.media import tokens
from hearing_server.media.service import MediaService
from hearing_server.rooms.access import check_participant
from hearing_server.web.context import db_session, login_required, no_store, require_user, runtime

blueprint = Blueprint("media", __name__)

CHECK_SECONDS = 300  # the self-check's TURN credential: enough for one check, no hearing


@blueprint.get("/hearings/<int:hearing_id>/media-check")
@login_required()
async def check(hearing_id: int) -> Any:
    """The page; the TURN credential it tests with is short-lived and relays nothing to
    the hearing's video room (no Janus token: that comes with admission)."""
    user = require_user()
    await check_participant(await db_session(), user, hearing_id)
    media = runtime().rooms.media
    config: dict[str, Any] = {"hearing_id": hearing_id, "ice_servers": [], "available": False}
    if isinstance(media, MediaService):
        turn = tokens.turn_credential(
            media.config.turn_secret,
            f"check-h{hearing_id}u{user.id}",
            int(time.time()) + CHECK_SECONDS,
            media.config.turn_urls,
        )
        config.update(available=True, ice_servers=[turn.ice_server()] if turn.urls else [])
    html = await render_template("media/check.html", config=config, hearing_id=hearing_id)
    return no_store(Response(html, mimetype="text/html"))
