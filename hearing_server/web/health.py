from __future__ import annotations

from typing import Any

from quart import Blueprint, url_for
from sqlalchemy import text

from hearing_server.accounts.models import Role
from hearing_server.web.context import current_user, runtime
from hearing_server.web.responses import redirect

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
async def healthz() -> Any:
    """The process is alive and serving."""
    return {"status": "ok"}


@blueprint.get("/readyz")
async def readyz() -> Any:
    """The database answers."""
    try:
        async with runtime().db.transaction(write=False) as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready", and we say which
        return {"status": "unavailable", "database": type(exc).__name__}, 503
    return {"status": "ok", "database": "ok"}


HOME_BY_ROLE = {
    Role.ADMIN: "offices.admin_users",
    Role.SECRETARY: "accounts.account",
    Role.MEMBER: "accounts.account",
    Role.CLERK: "accounts.account",
    Role.PARTY: "accounts.account",
}


def home_endpoint(role: Role) -> str:
    return HOME_BY_ROLE.get(role, "accounts.account")


@blueprint.get("/")
async def index() -> Any:
    user = current_user()
    if user is None:
        return redirect(url_for("accounts.login"))
    return redirect(url_for(home_endpoint(user.role)))
