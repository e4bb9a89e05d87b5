"""Login sessions: opened at sign-in, kept alive by use, ended by sign-out, revocation or time.

Whether a session is still good is one rule, written once below as a SQL condition
(:func:`_good`) that every read of a session uses: an HTTP request's cookie, a socket's
connect (by cookie or by room token), a busy socket's check and the room's periodic
re-check. A session is good while

- it is not revoked,
- its user is active,
- its absolute lifetime (``session_absolute_hours``) has not run out, and
- where the idle timeout applies, it was used within ``session_idle_minutes``. It applies
  to HTTP requests; a socket's traffic is activity, so a socket is not held to it.

It is signed in when its stage is also FULL (the second factor done); before that it is a
sign-in in progress, good only for the code and enrolment pages. A use is written to
``last_seen_at`` at most once every ``SESSION_TOUCH_EVERY``.

A session asked for by id that is no longer good is refused with one error,
:func:`session_ended`; a cookie that stands for no good session is simply no session.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from hearing_server.accounts.models import LoginSession, Role, SecondFactor, SessionStage, User
from hearing_server.accounts.security import new_token, token_hash
from hearing_server.accounts.users import require_user
from hearing_server.audit.services import do_record
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import table_of
from hearing_server.errors import Forbidden, Unauthenticated

SESSION_TOUCH_EVERY = timedelta(seconds=60)
MAX_TOKEN_LENGTH = 100  # new_token() makes 43 characters; anything much longer is not ours

_SESSIONS = table_of(LoginSession)
_USERS = table_of(User)
_SESSIONS_USERS = _SESSIONS.join(_USERS, _USERS.c.id == _SESSIONS.c.user_id)


def session_ended() -> Unauthenticated:
    """The refusal of a session that is no longer good, wherever it is checked."""
    return Unauthenticated("Your session has ended. Please sign in again.", code="session_ended")


# ---------------------------------------------------------------- the rule


def _good(*, idle: bool) -> ColumnElement[bool]:
    """The session is still good, over ``login_sessions`` joined to its ``users`` row.

    Bind parameters: ``now``, and with ``idle`` also ``idle_since`` (now less the idle
    timeout)."""
    rule = and_(
        _SESSIONS.c.revoked_at.is_(None),
        _USERS.c.is_active.is_(True),
        _SESSIONS.c.expires_at > bindparam("now"),
    )
    if idle:
        rule = and_(rule, _SESSIONS.c.last_seen_at > bindparam("idle_since"))
    return rule


_SIGNED_IN = _SESSIONS.c.stage == SessionStage.FULL
# Bind parameter ``touch_before``: now less SESSION_TOUCH_EVERY.
_TOUCH_DUE = _SESSIONS.c.last_seen_at <= bindparam("touch_before")


def _params(settings: Settings | None = None) -> dict[str, Any]:
    """The rule's bind parameters at this moment (``idle_since`` when ``settings`` are given)."""
    now = utcnow()
    params: dict[str, Any] = {"now": now, "touch_before": now - SESSION_TOUCH_EVERY}
    if settings is not None:
        params["idle_since"] = now - timedelta(minutes=settings.session_idle_minutes)
    return params


def _with_user(*conditions: ColumnElement[bool], columns: tuple[Any, ...] = ()) -> Any:
    """Sessions meeting ``conditions``, each with its user from the same join (one read)."""
    return (
        select(LoginSession, *columns)
        .join(LoginSession.user)
        .options(contains_eager(LoginSession.user))
        .where(*conditions)
        .execution_options(populate_existing=True)
    )


# The reads, built once.
_BY_TOKEN = _with_user(
    LoginSession.token_hash == bindparam("token"),
    _good(idle=True),
    columns=(_SIGNED_IN, _TOUCH_DUE),
)
_SIGNED_IN_BY_ID = {
    idle: _with_user(LoginSession.id == bindparam("id"), _good(idle=idle), _SIGNED_IN)
    for idle in (True, False)
}
# A busy socket's check: one light read, no ORM rows; whether a touch is due.
_ALIVE = (
    select(_TOUCH_DUE)
    .select_from(_SESSIONS_USERS)
    .where(_SESSIONS.c.id == bindparam("id"), _good(idle=False), _SIGNED_IN)
)
_LIVE_IDS = (
    select(_SESSIONS.c.id)
    .select_from(_SESSIONS_USERS)
    .where(_SESSIONS.c.id.in_(bindparam("ids", expanding=True)), _good(idle=False), _SIGNED_IN)
)
_TOUCH = (
    update(LoginSession)
    .where(LoginSession.id == bindparam("session_id"))
    .values(last_seen_at=bindparam("seen"))
    .execution_options(synchronize_session=False)
)


@dataclass(frozen=True)
class CookieSession:
    """The good session a request's cookie stands for."""

    login: LoginSession
    signed_in: bool  # stage FULL: ``login.user`` is the request's user
    touch_due: bool  # call do_touch_session (in a write transaction)


async def find_session(
    session: AsyncSession, settings: Settings, token: str | None
) -> CookieSession | None:
    """The good session behind a cookie token (idle timeout applied, any stage), or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    found = (
        await session.execute(_BY_TOKEN, {"token": token_hash(token), **_params(settings)})
    ).first()
    if found is None:
        return None
    login, signed_in, touch_due = found
    return CookieSession(login, bool(signed_in), bool(touch_due))


async def get_login_session(
    session: AsyncSession, settings: Settings, token: str | None
) -> LoginSession | None:
    """The good session behind a cookie token, at any stage, or None (see :func:`find_session`)."""
    found = await find_session(session, settings, token)
    return found.login if found is not None else None


async def require_valid_session(
    session: AsyncSession, settings: Settings, login_session_id: int, *, idle: bool = True
) -> LoginSession:
    """The signed-in session ``login_session_id`` with its user, read afresh; or
    :func:`session_ended`. ``idle=False`` for a socket, whose traffic is its activity."""
    params = _params(settings if idle else None)
    row: LoginSession | None = await session.scalar(
        _SIGNED_IN_BY_ID[idle], {"id": login_session_id, **params}
    )
    if row is None:
        raise session_ended()
    return row


def alive_check_statements() -> tuple[Any, Any]:
    """:func:`check_session_alive`'s read (a row when the session is good: whether a touch
    is due) and :func:`do_touch_session`'s UPDATE, as Core statements, for a caller that
    runs them on a connection of its own (the room's group commit) with
    :func:`alive_check_params`."""
    return _ALIVE, _TOUCH


def alive_check_params(login_session_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters of :func:`alive_check_statements` at this moment (app clock)."""
    return {"id": login_session_id, **_params()}, {"session_id": login_session_id, "seen": utcnow()}


async def check_session_alive(session: AsyncSession, login_session_id: int) -> bool:
    """:func:`require_valid_session` (``idle=False``) for a busy socket, as one light read
    with no ORM rows: the same rule, the same error. Returns whether a touch is due."""
    row = (await session.execute(_ALIVE, {"id": login_session_id, **_params()})).first()
    if row is None:
        raise session_ended()
    return bool(row[0])


async def live_session_ids(session: AsyncSession, ids: Collection[int]) -> set[int]:
    """Which of ``ids`` are still good signed-in sessions (idle timeout not applied): the
    re-check of every open socket in one read."""
    if not ids:
        return set()
    rows = await session.scalars(_LIVE_IDS, {"ids": list(ids), **_params()})
    return set(rows)


async def do_touch_session(session: AsyncSession, session_id: int) -> None:
    await session.execute(_TOUCH, {"session_id": session_id, "seen": utcnow()})


async def list_sessions(session: AsyncSession, user_id: int) -> list[LoginSession]:
    """``user_id``'s sessions that are still good, ignoring the idle timeout; latest first."""
    rows = await session.scalars(
        _with_user(LoginSession.user_id == bindparam("user"), _good(idle=False)).order_by(
            LoginSession.last_seen_at.desc()
        ),
        {"user": user_id, **_params()},
    )
    return list(rows)


# ---------------------------------------------------------------- opening and ending


@dataclass(frozen=True)
class NewSession:
    login_session: LoginSession
    token: str  # goes into the cookie; only its hash is stored


async def do_open_session(
    session: AsyncSession,
    settings: Settings,
    user: User,
    stage: SessionStage,
    ip: str | None,
    agent: str | None,
    *,
    device_hash: str | None = None,
    second_factor: SecondFactor | None = None,
) -> NewSession:
    """A new session of ``user`` in ``stage`` (``second_factor``: what stage PASSWORD
    waits for)."""
    token = new_token()
    now = utcnow()
    row = LoginSession(
        token_hash=token_hash(token),
        user_id=user.id,
        stage=stage,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_hours),
        ip=ip,
        user_agent=(agent or "")[:300] or None,
        device_hash=device_hash,
        second_factor=second_factor if stage == SessionStage.PASSWORD else None,
    )
    session.add(row)
    await session.flush()
    row.user = user
    return NewSession(row, token)


async def do_rotate_token(session: AsyncSession, row: LoginSession) -> str:
    """A new cookie token and CSRF token for ``row`` (on a change of stage)."""
    token = new_token()
    row.token_hash = token_hash(token)
    row.csrf_token = secrets.token_urlsafe(32)
    await session.flush()
    return token


async def do_logout(session: AsyncSession, row: LoginSession) -> None:
    await session.execute(
        update(LoginSession)
        .where(LoginSession.id == row.id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await do_record(
        session, actor_id=row.user_id, action="logout", subject_type="session", subject_id=row.id
    )


async def do_revoke_sessions(session: AsyncSession, *, actor: User, user_id: int) -> int:
    """Revoke every live session of ``user_id`` (an admin, or the user for their own)."""
    if actor.role != Role.ADMIN and actor.id != user_id:
        raise Forbidden("You may not revoke this user's sessions.")
    await require_user(session, user_id)
    result = await session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await do_record(
        session,
        actor_id=actor.id,
        action="sessions.revoked",
        subject_type="user",
        subject_id=user_id,
    )
    return int(getattr(result, "rowcount", 0) or 0)
