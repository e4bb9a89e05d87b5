"""The outbox pages: /messages for staff (what was sent to whom, what the SMS provider
said, re-send what failed) and /dev/outbox, what the development senders "sent"."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, render_template, request, url_for

from hearing_server.accounts.models import Role
from hearing_server.notifications.services import STATES, do_resend, list_messages
from hearing_server.web.context import db_session, login_required, no_store, require_user
from hearing_server.web.responses import redirect

blueprint = Blueprint("notifications", __name__)


@blueprint.get("/messages")
@login_required(Role.SECRETARY, Role.ADMIN)
async def messages() -> Any:
    state = request.args.get("state") or None
    found = await list_messages(await db_session(), viewer=require_user(), state=state)
    page = await render_template(
        "notifications/messages.html", messages=found, state=state, states=STATES
    )
    return no_store(Response(page))


@blueprint.post("/messages/<int:message_id>/resend")
@login_required(Role.SECRETARY, Role.ADMIN)
async def resend(message_id: int) -> Any:
    await do_resend(await db_session(), actor=require_user(), message_id=message_id)
    return redirect(url_for("notifications.messages", state="queued"))


@blueprint.get("/dev/outbox")
@login_required(Role.ADMIN)
async def dev_outbox() -> Any:
    session = await db_session()
    messages = await list_messages(session, viewer=require_user())
    page = await render_template("notifications/outbox.html", messages=messages)
    return no_store(Response(page))
