"""The Socket.IO boundary of the hearing room: ``/hearing``, one room per hearing.

Thin: authenticate the socket on connect (session cookie or room token), then for every
event apply the rate limit and size cap, find the room action of that name in the app's
registry (``rt.rooms.actions``, see ``rooms.registry``), validate the payload, re-check the
login session, open the transaction, perform the action, and answer with an ack — either
the action's result or ``{"error": {"code", "message"}}`` in the user's language. Errors
never close the connection; an ended login session does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

import socketio
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server import i18n
from hearing_server.accounts import services as accounts
from hearing_server.accounts import sessions as accounts_sessions
from hearing_server.accounts.models import LoginSession, SessionStage
from hearing_server.clock import utcnow
from hearing_server.db import AfterCommit, commit_holding, rollback, run_after_commit
from hearing_server.errors import (
    DomainError,
    Forbidden,
    Invalid,
    TooLarge,
    TooManyRequests,
    Unauthenticated,
)
from hearing_server.group_commit import GroupCommit, Guarded
from hearing_server.rooms import access
from hearing_server.rooms import events as ev
from hearing_server.rooms.actions import ROOM_ACTIONS
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.hot import HotStatement
from hearing_server.rooms.presence import do_join, do_leave
from hearing_server.rooms.registry import RoomAction
from hearing_server.runtime import Runtime
from hearing_server.web.context import LANG_COOKIE, SESSION_COOKIE

log = logging.getLogger(__name__)

RECHECK_SECONDS = 15.0  # how often the background loop checks every socket's login session
# An event re-checks its socket's login session when the last check is older than this
# (app clock, so tests can move it); in between, a revoked session acts for at most this long.
EVENT_RECHECK = timedelta(seconds=2)
# Connects authenticated and joined at once; the others wait their turn in the event loop
# (holding no database connection), up to CONNECTS_WAITING of them; past that a connect is
# refused at once with ``busy`` (room.js knocks again after 1 to 3 s). Without a limit, 600
# sockets reconnecting after a restart queued for the database pool, waited 30 s, failed,
# knocked again, and the storm fed itself; refusing everyone past the limit instead made
# the refusals' handshakes take the whole CPU (bench/reconnect_storm.py).
# A connect that waited longer than CONNECT_PATIENCE for its turn is refused ``busy``
# without the work: socket.io clients give up on a connect after 20 s and knock again, and
# doing the work of the ones that gave up left thousands waiting (5,016 for 600 sockets).
CONNECTS_AT_ONCE = 16
CONNECTS_WAITING = 1000
CONNECT_PATIENCE = 15.0  # seconds (monotonic)
BUCKET_CAPACITY = 20.0  # events a socket may send in a burst
BUCKET_RATE = 10.0  # events per second, sustained


class TokenBucket:
    """Per-socket rate limit. Uses the monotonic clock (the app clock may be frozen)."""

    def __init__(self, capacity: float = BUCKET_CAPACITY, rate: float = BUCKET_RATE) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class SocketState:
    ctx: RoomContext
    login_session_id: int
    bucket: TokenBucket = field(default_factory=TokenBucket)
    checked_at: datetime | None = None


_ALIVE, _TOUCH = (HotStatement(s) for s in accounts_sessions.alive_check_statements())


def _session_guard(login_session_id: int) -> Callable[[Any], None]:
    """A group-commit guard: the login session is still good (``Unauthenticated`` if not),
    touched when a touch is due (``accounts.sessions.check_session_alive``'s rule)."""
    alive_params, touch_params = accounts_sessions.alive_check_params(login_session_id)

    def guard(connection: Any) -> None:
        rows = _ALIVE.sqlite_rows(connection, alive_params)
        if not rows:
            raise accounts_sessions.session_ended()
        if rows[0][0]:
            _TOUCH.sqlite_rows(connection, touch_params)

    return guard


def _busy() -> TooManyRequests:
    return TooManyRequests("The room is busy. Trying again in a moment…", code="busy")


def error_body(exc: DomainError, locale: str) -> dict[str, Any]:
    # Parameters that are msgids themselves (phase names) are translated too.
    params = {
        k: i18n.gettext(v, locale) if isinstance(v, str) else v for k, v in exc.params.items()
    }
    body: dict[str, Any] = {
        "code": exc.code,
        "message": i18n.gettext(exc.message, locale, **params),
    }
    if exc.field:
        body["field"] = exc.field
    details = exc.params.get("_details") if isinstance(exc.params, dict) else None
    if details:
        body["details"] = details
    return {"error": body}


def _cookie(environ: dict[str, Any], name: str) -> str | None:
    raw = environ.get("HTTP_COOKIE")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header is simply no cookie
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


class HearingNamespace(socketio.AsyncNamespace):  # type: ignore[misc]  # socketio is untyped
    def __init__(self, rt: Runtime) -> None:
        super().__init__(ev.NAMESPACE)
        self.rt = rt
        self.sockets: dict[str, SocketState] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._recheck_started = False
        self._connecting = 0  # connects under way or waiting for a slot
        self._connect_slots = asyncio.Semaphore(CONNECTS_AT_ONCE)
        self.realtime = ev.Realtime(
            emit=self._emit, disconnect=self._disconnect_sids, enter=self._enter
        )
        rt.rooms.realtime = self.realtime
        ev.attach(rt.settings.database_url, rt.rooms)

    # ------------------------------------------------------------ connect / disconnect

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        locale = _cookie(environ, LANG_COOKIE) or self.rt.settings.default_locale
        self._connecting += 1
        try:
            if self._connecting > CONNECTS_AT_ONCE + CONNECTS_WAITING:
                raise _busy()
            queued_at = time.monotonic()
            async with self._connect_slots:
                if time.monotonic() - queued_at > CONNECT_PATIENCE:
                    raise _busy()
                state = await self._authenticate(sid, environ, auth)
                if self._gone(sid):
                    # Its connection closed meanwhile (python-socketio reads nothing else
                    # of it during a connect, so only its ping's timeout tells). Accepted,
                    # it would be held as connected for good: no disconnect comes for a
                    # socket that was still connecting, and its attendance stays open.
                    await self._leave(state)
                    raise _busy()
        except DomainError as exc:
            body = error_body(exc, locale)["error"]
            # The client's connect_error gets {"message": …, "data": {"code", "message"}}.
            raise socketio.exceptions.ConnectionRefusedError(body["message"], body) from None
        except Exception:
            # Left to python-socketio, the socket would never hear back; refused with
            # ``internal`` it knows to try again (room.js does, after a pause).
            log.exception("a room connect failed")
            message = i18n.gettext(
                "Something went wrong on our side. The problem has been recorded.", locale
            )
            body = {"code": "internal", "message": message}
            raise socketio.exceptions.ConnectionRefusedError(message, body) from None
        finally:
            self._connecting -= 1
        self.sockets[sid] = state
        self._start_recheck()

    async def _authenticate(self, sid: str, environ: dict[str, Any], auth: Any) -> SocketState:
        if not isinstance(auth, dict) or ev.payload_size(auth) > 2048:
            raise Invalid("Say which hearing to join.", code="bad_auth")
        hearing_id = auth.get("hearing_id")
        if isinstance(hearing_id, bool) or not isinstance(hearing_id, int) or hearing_id <= 0:
            raise Invalid("Say which hearing to join.", code="bad_auth")
        settings = self.rt.settings
        async with self.rt.db.transaction(write=False) as session:
            token = auth.get("token")
            login: LoginSession | None
            if isinstance(token, str) and token:
                login = await access.check_room_token(session, settings, token, hearing_id)
            else:
                login = await accounts.get_login_session(
                    session, settings, _cookie(environ, SESSION_COOKIE)
                )
                if login is None or login.stage != SessionStage.FULL:
                    raise Unauthenticated("Please sign in.")
            user = login.user
            participant = await access.check_participant(
                session, user, hearing_id, settings=settings
            )
        ctx = RoomContext(
            sid=sid,
            user=user,
            hearing_id=hearing_id,
            role=participant.role,
            locale=user.locale,
            settings=settings,
            login_session_id=login.id,
            open_vote_cases=self.rt.rooms.open_vote_cases,
            media=self.rt.rooms.media,
        )
        # Rooms first, so that this socket also gets its own join event.
        await self._enter_rooms(sid, ctx, admitted=participant.is_board)
        async with self._room_write() as session:
            hearing = await access.require_hearing(session, hearing_id, lock=True)
            attendance = await do_join(
                session,
                hearing,
                participant,
                sid,
                live_sids=self._live_sids(hearing_id, user.id),
                instance_id=self.rt.instance_id,
            )
        if attendance.admitted and not participant.is_board:
            await self.enter_room(sid, ev.socket_room(hearing_id, ev.AUDIENCE_ALL))
        return SocketState(ctx=ctx, login_session_id=login.id, checked_at=utcnow())

    def _live_sids(self, hearing_id: int, user_id: int) -> frozenset[str]:
        """This person's other sockets in this room that this process still holds (another
        tab): their attendance stays open. Only theirs: with every socket of the process
        (2,400 at 200 rooms) each join's UPDATE carried a NOT IN of all of them, inside
        the write transaction, so joins slowed as the rooms filled and held the write lock
        that page turns wait for."""
        return frozenset(
            sid
            for sid, state in self.sockets.items()
            if state.ctx.user.id == user_id and state.ctx.hearing_id == hearing_id
        )

    async def _enter_rooms(self, sid: str, ctx: RoomContext, *, admitted: bool) -> None:
        await self.enter_room(sid, ev.socket_room(ctx.hearing_id, ev.audience_user(ctx.user.id)))
        if ctx.is_board:
            await self.enter_room(sid, ev.socket_room(ctx.hearing_id, ev.AUDIENCE_BOARD))
        if ctx.is_board or admitted:
            await self.enter_room(sid, ev.socket_room(ctx.hearing_id, ev.AUDIENCE_ALL))

    def _gone(self, sid: str) -> bool:
        """The client's connection has closed (its Engine.IO session is gone) — possibly
        while its connect was still being handled, when no disconnect event follows."""
        return self.server.get_environ(sid, namespace=self.namespace) is None

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        log.info("room socket %s gone: %s", sid, reason)
        state = self.sockets.pop(sid, None)
        if state is not None:
            await self._leave(state)

    async def _leave(self, state: SocketState) -> None:
        try:
            async with self._room_write() as session:
                await do_leave(session, state.ctx.hearing_id, state.ctx.sid)
        except Exception:  # a failed leave must not break the server's disconnect handling
            log.exception("recording the leave of %s failed", state.ctx.sid)

    @contextlib.asynccontextmanager
    async def _room_write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction in the room writers' turn, committed at the end; what the
        commit set off runs once the turn is let go (``db.commit_holding``)."""
        async with self.rt.room_writers:
            session = self.rt.db.session()
            try:
                yield session
                later = await commit_holding(session)
            except BaseException:
                await rollback(session)
                raise
            finally:
                await session.close()
        await run_after_commit(later)

    # ------------------------------------------------------------ events

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid = args[0]
        data = args[1] if len(args) > 1 else None
        state = self.sockets.get(sid)
        if state is None:
            return error_body(Unauthenticated("Please sign in."), "fa")
        try:
            return await self._dispatch(state, event, data)
        except DomainError as exc:
            return error_body(exc, state.ctx.locale)
        except Exception:
            log.exception("room event %s failed", event)
            return {
                "error": {
                    "code": "internal",
                    "message": i18n.gettext(
                        "Something went wrong on our side. The problem has been recorded.",
                        state.ctx.locale,
                    ),
                }
            }

    async def _dispatch(self, state: SocketState, event: str, data: Any) -> dict[str, Any]:
        if not state.bucket.take():
            raise TooManyRequests(
                "You are sending too fast. Please slow down.", code="rate_limited"
            )
        if ev.payload_size(data) > ev.MAX_EVENT_BYTES:
            raise TooLarge("The message is too large.", code="too_large")
        action = self.rt.rooms.actions.get(event)
        if action is None:
            raise Invalid("Unknown event.", code="unknown_event")
        payload = action.parse(data)
        group_commit = self.rt.group_commit
        if action.grouped is not None and group_commit is not None:
            answer = await self._run_grouped(group_commit, state, action, payload)
            if answer is not None:
                return answer
        # The room's writers take turns (rt.room_writers: one at a time on SQLite, which
        # has one writer anyway; others wait here holding nothing). What the commit set off
        # runs once the turn is let go (commit_holding).
        later: list[AfterCommit] = []
        try:
            if not action.write:
                return await self._run(state, action, payload, later)
            async with self.rt.room_writers:
                return await self._run(state, action, payload, later)
        finally:
            await run_after_commit(later)

    async def _run(
        self,
        state: SocketState,
        action: RoomAction[Any],
        payload: BaseModel,
        later: list[AfterCommit],
    ) -> dict[str, Any]:
        session = self.rt.db.session(write=action.write)
        try:
            now = utcnow()
            if state.checked_at is None or now - state.checked_at >= EVENT_RECHECK:
                touch_due = await self._check_session(session, state)
                state.checked_at = now
                if action.write and touch_due:
                    await accounts.do_touch_session(session, state.login_session_id)
            elif not state.ctx.is_board:
                await self._check_party(session, state)
            result = await action.perform(session, state.ctx, payload)
            later.extend(await commit_holding(session))
        except DomainError as exc:
            if exc.persist:
                later.extend(await commit_holding(session))
            else:
                await rollback(session)
            raise
        except BaseException:
            await rollback(session)
            raise
        finally:
            await session.close()
        return result

    async def _run_grouped(
        self,
        group_commit: GroupCommit,
        state: SocketState,
        action: RoomAction[Any],
        payload: BaseModel,
    ) -> dict[str, Any] | None:
        """A board member's action in the next group commit (SQLite's page turn), then its
        events. The login session's check, when due, runs in the same transaction just
        before it (and its touch, when due; an ended session refuses the action). None: it
        must go the usual way (a party: their standing is checked there; or the action's
        guard let nothing through, and the usual way says why)."""
        if not state.ctx.is_board:
            return None
        now = utcnow()
        runner: GroupCommit | Guarded = group_commit
        due = state.checked_at is None or now - state.checked_at >= EVENT_RECHECK
        if due:
            runner = group_commit.guarded(_session_guard(state.login_session_id))
        try:
            done = await action.perform_grouped(runner, state.ctx, payload)
        except Unauthenticated:
            self._later_disconnect(state.ctx.sid)
            raise
        if due:
            state.checked_at = now
        if done is None:
            return None
        await ev.emit_committed(self.rt.settings.database_url, done.events)
        return done.ack

    async def _check_session(self, session: AsyncSession, state: SocketState) -> bool:
        """The login session is still good (else the socket is closed); whether it is due
        a touch of ``last_seen_at`` (once a minute, as for HTTP requests)."""
        try:
            touch_due = await accounts_sessions.check_session_alive(session, state.login_session_id)
        except Unauthenticated:
            self._later_disconnect(state.ctx.sid)
            raise
        if not state.ctx.is_board:
            await self._check_party(session, state)
        return touch_due

    async def _check_party(self, session: AsyncSession, state: SocketState) -> None:
        """A party's standing changes with the phase: out they go in deliberation."""
        try:
            await access.check_participant(session, state.ctx.user, state.ctx.hearing_id)
        except Forbidden:
            self._later_disconnect(state.ctx.sid)
            raise

    def _later_disconnect(self, sid: str) -> None:
        async def run() -> None:
            await asyncio.sleep(0.05)  # let the error ack go out first
            await self.disconnect(sid)

        self._spawn(run())

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ after-commit delivery

    async def _emit(self, hearing_id: int, audience: str, data: dict[str, Any]) -> None:
        await self.emit(ev.ROOM_EVENT, data, room=ev.socket_room(hearing_id, audience))

    async def _disconnect_sids(self, sids: list[str]) -> None:
        for sid in sids:
            await self.emit(ev.REMOVED_EVENT, {"reason": "deliberation"}, room=sid)
            # Another process's socket is reached through the Redis manager; a socket that
            # is already gone (or belongs to another app on this database) is no error.
            with contextlib.suppress(KeyError, ValueError):
                await self.server.disconnect(sid, namespace=ev.NAMESPACE)

    async def _enter(self, sids: list[str], hearing_id: int, audience: str) -> None:
        for sid in sids:
            with contextlib.suppress(KeyError, ValueError):
                await self.server.enter_room(
                    sid, ev.socket_room(hearing_id, audience), namespace=ev.NAMESPACE
                )

    # ------------------------------------------------------------ periodic session re-check

    def _start_recheck(self) -> None:
        if self._recheck_started:
            return
        self._recheck_started = True
        task = asyncio.ensure_future(self._recheck_loop())
        self.rt.background.append(task)

    async def _recheck_loop(self) -> None:
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            try:
                await self.recheck_sessions()
            except Exception:  # keep checking; a database hiccup must not end the loop
                log.exception("re-checking room sessions failed")

    async def recheck_sessions(self) -> list[str]:
        """Disconnect every socket whose login session has ended, or whose connection
        closed unheard (at the very end of its connect); return their ids."""
        if not self.sockets:
            return []
        gone = [sid for sid in list(self.sockets) if self._gone(sid)]
        for sid in gone:
            log.warning("room socket %s closed unheard: its leave is recorded now", sid)
            await self.disconnect(sid)
        ids = {state.login_session_id for state in self.sockets.values()}
        async with self.rt.db.transaction(write=False) as session:
            good = await accounts_sessions.live_session_ids(session, ids)
        # Only the sockets asked about: one that joined during the read is not in ``ids``
        # (it was taken for ended, and a room of 2,400 sockets lost one or two a minute).
        ended = [
            sid
            for sid, st in list(self.sockets.items())
            if st.login_session_id in ids and st.login_session_id not in good
        ]
        for sid in ended:
            await self.disconnect(sid)
        return gone + ended

    def close(self) -> None:
        ev.detach(self.rt.settings.database_url, self.rt.rooms)
        if self.rt.rooms.realtime is self.realtime:
            self.rt.rooms.realtime = None


def register(rt: Runtime) -> HearingNamespace:
    """The rooms part in ``create_app``: its own actions into the app's registry, and the
    ``/hearing`` namespace that serves them."""
    rt.rooms.actions.add(*ROOM_ACTIONS)
    namespace = HearingNamespace(rt)
    rt.sio.register_namespace(namespace)
    return namespace
