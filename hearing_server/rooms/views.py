"""HTTP side of the hearing room: the room page, a room token for non-browser clients,
and the case file's PDFs for the viewer (to people in the hearing only)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from quart import Blueprint, Response, render_template, url_for

from hearing_server.errors import NotFound, Unauthenticated
from hearing_server.rooms.access import check_participant, make_room_token
from hearing_server.rooms.documents import check_document_for_user, stored_file_path
from hearing_server.rooms.snapshot import room_page_context
from hearing_server.web.context import (
    current_login,
    db_session,
    login_required,
    no_store,
    require_user,
    runtime,
)
from hearing_server.web.responses import file_download

blueprint = Blueprint("rooms", __name__)


@blueprint.get("/hearings/<int:hearing_id>/room")
@login_required()
async def room(hearing_id: int) -> Any:
    """The room page; the live state comes over the socket."""
    user = require_user()
    context = await room_page_context(
        await db_session(), user, hearing_id, settings=runtime().settings
    )
    config = {
        "hearing_id": hearing_id,
        "user_id": user.id,
        "namespace": "/hearing",
        "document_base": url_for("rooms.document_pdf", hearing_id=hearing_id, document_id=0).rsplit(
            "/", 1
        )[0]
        + "/",
        "worker_url": url_for("static", filename="vendor/pdfjs/pdf.worker.min.mjs"),
        "pdfjs_url": url_for("static", filename="vendor/pdfjs/pdf.min.mjs"),
        # Audio/video (hearing_server.media) is configured; media.js asks for credentials.
        "media": runtime().rooms.media is not None,
    }
    html = await render_template("rooms/room.html", config=config, **context)
    return no_store(Response(html, mimetype="text/html"))


@blueprint.get("/api/v1/hearings/<int:hearing_id>/room/token")
@login_required()
async def room_token(hearing_id: int) -> Any:
    """A signed token valid for two minutes, for joining this hearing's room without the
    cookie: ``auth={"hearing_id": …, "token": …}``. Tied to the caller's login session."""
    user = require_user()
    login = current_login()
    if login is None:
        raise Unauthenticated("Please sign in.")
    session = await db_session()
    await check_participant(session, user, hearing_id, settings=runtime().settings)
    body = make_room_token(runtime().settings, login, hearing_id)
    return no_store(Response(json.dumps(body), mimetype="application/json"))


@blueprint.get("/hearings/<int:hearing_id>/room/documents/<int:document_id>.pdf")
@login_required()
async def document_pdf(hearing_id: int, document_id: int) -> Any:
    """A document's PDF, to people of this hearing allowed to read it."""
    user = require_user()
    document = await check_document_for_user(await db_session(), user, hearing_id, document_id)
    path = stored_file_path(runtime().settings, document.sha256)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise NotFound("The file of this document is missing.") from None
    name = f"document-{document.id}.pdf"
    response = file_download(data, mimetype="application/pdf", filename=name, fallback=name)
    response.headers["Cache-Control"] = "private, max-age=300"  # pages turn without a refetch
    return response
