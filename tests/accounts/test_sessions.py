"""The one rule for a login session that is still good, as every path applies it: an HTTP
request's cookie, a socket's connect and re-check by id, a busy socket's light check and
the periodic re-check of every socket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from hearing_server import clock
from hearing_server.accounts import sessions
from hearing_server.accounts.models import LoginSession, SessionStage, User
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import Unauthenticated
from tests.conftest import Person
from tests.factories import user_named


@dataclass(frozen=True)
class Opened:
    id: int
    token: str
    user_id: int


Open = Callable[..., Awaitable[Opened]]


@pytest.fixture
def open_session(db: Any, settings: Settings, people: dict[str, Person]) -> Open:
    async def opener(username: str = "clerk", stage: SessionStage = SessionStage.FULL) -> Opened:
        async with db.transaction() as session:
            user = await user_named(session, username)
            new = await sessions.do_open_session(session, settings, user, stage, "10.0.0.1", None)
            return Opened(new.login_session.id, new.token, user.id)

    return opener


async def _set(db: Any, login_id: int, **values: Any) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(LoginSession).where(LoginSession.id == login_id).values(**values)
        )


async def _me(client: Any, token: str) -> int:
    response = await client.get("/api/v1/me", headers={"Cookie": f"heyat_session={token}"})
    return int(response.status_code)


async def _refused_by_id(db: Any, settings: Settings, login_id: int) -> list[str]:
    """The paths that look a session up by id and refused it (all of them, for a bad one)."""
    refused = []
    async with db.transaction(write=False) as session:
        for idle in (True, False):
            try:
                await sessions.require_valid_session(session, settings, login_id, idle=idle)
            except Unauthenticated as exc:
                assert (exc.code, exc.message) == (
                    "session_ended",
                    "Your session has ended. Please sign in again.",
                )
                refused.append(f"require idle={idle}")
        try:
            await sessions.check_session_alive(session, login_id)
        except Unauthenticated as exc:
            assert exc.code == "session_ended"
            refused.append("alive")
        if login_id not in await sessions.live_session_ids(session, [login_id]):
            refused.append("live ids")
    return refused


ALL_BY_ID = ["require idle=True", "require idle=False", "alive", "live ids"]


async def test_a_good_session_passes_every_path(
    open_session: Open, db: Any, settings: Settings, client: Any
) -> None:
    opened = await open_session()
    assert await _me(client, opened.token) == 200
    assert await _refused_by_id(db, settings, opened.id) == []
    async with db.transaction(write=False) as session:
        row = await sessions.require_valid_session(session, settings, opened.id)
        assert row.user.username == "clerk"  # with its user, from the same read
        found = await sessions.find_session(session, settings, opened.token)
    assert found is not None and found.signed_in and found.login.id == opened.id


async def _revoke(db: Any, opened: Opened) -> None:
    await _set(db, opened.id, revoked_at=utcnow())


async def _expire(db: Any, opened: Opened) -> None:
    await _set(db, opened.id, expires_at=utcnow())  # the absolute lifetime ends now


async def _deactivate(db: Any, opened: Opened) -> None:
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == opened.user_id).values(is_active=False))


async def _password_stage(db: Any, opened: Opened) -> None:
    await _set(db, opened.id, stage=SessionStage.PASSWORD)


async def _enrol_stage(db: Any, opened: Opened) -> None:
    await _set(db, opened.id, stage=SessionStage.ENROL)


@pytest.mark.parametrize(
    "spoil",
    [_revoke, _expire, _deactivate, _password_stage, _enrol_stage],
    ids=lambda f: f.__name__,
)
async def test_a_bad_session_is_refused_by_every_path(
    spoil: Callable[[Any, Opened], Awaitable[None]],
    open_session: Open,
    other_session: Opened,
    db: Any,
    settings: Settings,
    client: Any,
) -> None:
    opened = await open_session()
    await spoil(db, opened)
    assert await _me(client, opened.token) == 401
    assert await _refused_by_id(db, settings, opened.id) == ALL_BY_ID
    async with db.transaction(write=False) as session:
        found = await sessions.find_session(session, settings, opened.token)
        # Another user's session is untouched, and the re-check of both keeps it alone.
        both = await sessions.live_session_ids(session, [opened.id, other_session.id])
    if spoil in (_password_stage, _enrol_stage):
        # A sign-in in progress: the request knows it, but it is nobody's signed-in session.
        assert found is not None and not found.signed_in
    else:
        assert found is None
    assert both == {other_session.id}
    assert await _me(client, other_session.token) == 200


@pytest.fixture
async def other_session(open_session: Open) -> Opened:
    return await open_session("secretary")


async def test_idle_timeout_applies_to_requests_not_to_sockets(
    open_session: Open, db: Any, settings: Settings, client: Any
) -> None:
    opened = await open_session()
    idle = timedelta(minutes=settings.session_idle_minutes)
    await _set(db, opened.id, last_seen_at=utcnow() - idle + timedelta(seconds=1))
    assert await _me(client, opened.token) == 200  # one second short of the timeout
    await _set(db, opened.id, last_seen_at=utcnow() - idle)
    assert await _me(client, opened.token) == 401
    # A socket's traffic is its activity: only the idle-applying lookup refuses.
    assert await _refused_by_id(db, settings, opened.id) == ["require idle=True"]


async def test_a_use_touches_the_session_at_most_once_a_minute(
    open_session: Open, db: Any, settings: Settings, client: Any
) -> None:
    opened = await open_session()

    async def last_seen() -> Any:
        async with db.transaction(write=False) as session:
            row = await session.get(LoginSession, opened.id)
            assert row is not None
            return row.last_seen_at

    start = await last_seen()
    clock.advance(sessions.SESSION_TOUCH_EVERY - timedelta(seconds=1))
    async with db.transaction(write=False) as session:
        assert await sessions.check_session_alive(session, opened.id) is False
        found = await sessions.find_session(session, settings, opened.token)
        assert found is not None and not found.touch_due
    assert await _me(client, opened.token) == 200
    assert await last_seen() == start
    clock.advance(timedelta(seconds=1))
    async with db.transaction(write=False) as session:
        assert await sessions.check_session_alive(session, opened.id) is True
    assert await _me(client, opened.token) == 200
    assert await last_seen() == utcnow()  # the request touched it


async def test_unknown_and_oversized_tokens_are_no_session(
    db: Any, settings: Settings, client: Any
) -> None:
    async with db.transaction(write=False) as session:
        for token in (None, "", "made-up", "x" * 101):
            assert await sessions.find_session(session, settings, token) is None
        assert await sessions.live_session_ids(session, []) == set()
    assert await _refused_by_id(db, settings, 10**9) == ALL_BY_ID


async def test_the_account_lists_only_good_sessions(open_session: Open, db: Any) -> None:
    kept = await open_session()
    revoked = await open_session()
    expired = await open_session()
    await _revoke(db, revoked)
    await _expire(db, expired)
    async with db.transaction(write=False) as session:
        listed = await sessions.list_sessions(session, kept.user_id)
    ids = {row.id for row in listed}
    assert kept.id in ids and revoked.id not in ids and expired.id not in ids
