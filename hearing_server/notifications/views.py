"""/dev/outbox: what the development senders "sent", for admins (and for demos)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, render_template
from sqlalchemy import select

from hearing_server.accounts.models import Role
from hearing_server.notifications.models import OutboxMessage
from hearing_server.web.context import db_session, login_required, no_store

blueprint = Blueprint("notifications", __name__)


@blueprint.get("/dev/outbox")
@login_required(Role.ADMIN)
async def dev_outbox() -> Any:
    session = await db_session()
    messages = list(
        await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200))
    )
    page = await render_template("notifications/outbox.html", messages=messages)
    return no_store(Response(page))
