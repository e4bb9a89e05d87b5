"""Who may enter the hearing room, and what a socket that misbehaves gets back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import socketio
from sqlalchemy import select, update

from hearing_server import clock
from hearing_server.accounts import sessions as accounts_sessions
from hearing_server.accounts.models import LoginSession
from hearing_server.clock import utcnow
from hearing_server.rooms import namespace
from hearing_server.rooms.models import Attendance
from hearing_server.scheduling.models import Hearing
from tests.conftest import EVENTUALLY_SECONDS, LiveServer, eventually
from tests.rooms.conftest import NS, Room, RoomClient, Signed


async def test_origin_check_is_an_explicit_list_never_open(live_server: LiveServer) -> None:
    allowed = live_server.app.runtime.sio.eio.cors_allowed_origins
    assert allowed == [live_server.url]  # [] or "*" would switch the check off


async def test_wrong_origin_is_refused(
    signed: Signed, room: Room, clients: Callable[[str], RoomClient]
) -> None:
    chair = clients("chair")
    cookie = await signed.cookie("member.gov1")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await chair.connect(
            signed.live.url, room.hearing_id, cookie=cookie, origin="http://evil.example"
        )
    assert not chair.connected
    # The same person from the right origin gets in: the refusal was the Origin's.
    await chair.connect(signed.live.url, room.hearing_id, cookie=cookie)
    assert chair.connected


async def test_without_a_session_the_room_is_refused(
    signed: Signed, room: Room, clients: Callable[[str], RoomClient]
) -> None:
    anon = clients("anon")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await anon.connect(signed.live.url, room.hearing_id)
    forged = clients("forged")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await forged.connect(signed.live.url, room.hearing_id, cookie="heyat_session=made-up")


@pytest.mark.parametrize("username", ["member.gov2", "clerk"])
async def test_unsummoned_user_is_refused_with_a_reason(
    username: str, signed: Signed, room: Room, clients: Callable[[str], RoomClient], db: Any
) -> None:
    """A settlement-board member and a clerk have no place in this diagnosis hearing."""
    outsider = clients(username)
    refused: list[Any] = []

    @outsider.sio.on("connect_error", namespace=NS)
    async def on_error(data: Any) -> None:
        refused.append(data)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await outsider.connect(
            signed.live.url, room.hearing_id, cookie=await signed.cookie(username)
        )
    assert refused and refused[0]["data"]["code"] == "not_summoned"
    assert refused[0]["message"] == "شما به این جلسه دعوت نشده‌اید."
    async with db.transaction(write=False) as session:
        rows = await session.scalars(
            select(Attendance).where(Attendance.hearing_id == room.hearing_id)
        )
        assert list(rows) == []  # nothing recorded for a refused socket


async def test_past_the_connects_at_once_a_connect_is_refused_busy_and_records_nothing(
    signed: Signed,
    room: Room,
    clients: Callable[[str], RoomClient],
    db: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Load shedding: with every connect slot taken and the waiting line full, a connect is
    refused at once with ``busy`` (room.js knocks again after a pause) and nothing is
    recorded; with room in the line, the same person gets in."""
    monkeypatch.setattr(namespace, "CONNECTS_AT_ONCE", 0)  # every slot taken,
    monkeypatch.setattr(namespace, "CONNECTS_WAITING", 0)  # and no room to wait
    member = clients("member.wrk1")
    refused: list[Any] = []

    @member.sio.on("connect_error", namespace=NS)
    async def on_error(data: Any) -> None:
        refused.append(data)

    cookie = await signed.cookie("member.wrk1")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await member.connect(signed.live.url, room.hearing_id, cookie=cookie)
    assert refused and refused[0]["data"]["code"] == "busy"
    assert refused[0]["message"] == "جلسه شلوغ است. چند لحظهٔ دیگر دوباره تلاش می‌شود…"
    async with db.transaction(write=False) as session:
        rows = await session.scalars(
            select(Attendance).where(Attendance.hearing_id == room.hearing_id)
        )
        assert list(rows) == []
    monkeypatch.setattr(namespace, "CONNECTS_WAITING", 1)
    again = clients("member.wrk1")
    await again.connect(signed.live.url, room.hearing_id, cookie=cookie)
    assert again.connected


async def _open_attendance(db: Any, hearing_id: int, user_id: int) -> list[Attendance]:
    async with db.transaction(write=False) as session:
        rows = await session.scalars(
            select(Attendance).where(
                Attendance.hearing_id == hearing_id,
                Attendance.user_id == user_id,
                Attendance.left_at.is_(None),
            )
        )
        return list(rows)


async def _go_while_joining(
    signed: Signed, room: Room, leaver: RoomClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``leaver`` connects; once the server has let it in, before it records the join, it
    closes its connection (its laptop closed) and the server hears of it; then the join
    goes on."""
    entered, go_on = asyncio.Event(), asyncio.Event()
    real_enter = namespace.HearingNamespace._enter_rooms

    async def held_enter(self: Any, *args: Any, **kwargs: Any) -> Any:
        entered.set()  # authenticated; the join's write comes next
        await go_on.wait()
        return await real_enter(self, *args, **kwargs)

    monkeypatch.setattr(namespace.HearingNamespace, "_enter_rooms", held_enter)
    live = signed.live
    sio = live.app.runtime.sio
    before = len(sio.environ)  # python-socketio keeps each open connection's environ
    # Nothing else of a connection is read while its connect is handled: the server hears
    # of the close by the missing answer to its ping (25 + 20 s unless shortened).
    monkeypatch.setattr(sio.eio, "ping_interval", 1)
    monkeypatch.setattr(sio.eio, "ping_timeout", 3)
    cookie = await signed.cookie(leaver.name)
    connecting = asyncio.ensure_future(leaver.connect(live.url, room.hearing_id, cookie=cookie))
    try:
        await asyncio.wait_for(entered.wait(), EVENTUALLY_SECONDS)
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
        await leaver.sio.disconnect()  # its connection closes mid-connect

        async def server_saw_it_close() -> bool:
            return len(sio.environ) == before

        await eventually(server_saw_it_close)
    finally:
        go_on.set()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the same on both backends
async def test_a_socket_that_goes_while_its_connect_is_handled_is_not_kept(
    signed: Signed,
    room: Room,
    join: Callable[..., Any],
    clients: Callable[[str], RoomClient],
    people: Any,
    db: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A connection that closes while its connect is handled (heard by the ping's timeout,
    after 45 s: a connect slowed by a storm) leaves no ghost. python-socketio sends no
    disconnect for a socket that was still connecting: before, the server held it as
    connected for good — its attendance open (counted present for quorum), its rooms kept.
    Now its join is undone and the room hears it leave; and should the connection close in
    the last moment (after the handler's look, before python-socketio marks it connected),
    the periodic session sweep finds it by its closed connection and records its leave."""
    chair = await join("member.gov1")
    user_id = people["member.wrk1"].id
    handler = signed.live.app.runtime.sio.namespace_handlers[NS]

    def presence(op: str) -> Callable[[dict[str, Any]], bool]:
        return lambda e: (
            e["type"] == "presence" and e["op"] == op and e["payload"]["user_id"] == user_id
        )

    await _go_while_joining(signed, room, clients("member.wrk1"), monkeypatch)
    left = await chair.wait_for(presence("leave"))
    theirs = [e["op"] for e in chair.events if presence("join")(e) or presence("leave")(e)]
    assert theirs == ["join", "leave"]
    assert left["payload"]["quorum"] == chair.snapshot["quorum"]  # back to the chair alone
    assert await _open_attendance(db, room.hearing_id, user_id) == []
    assert [s.ctx.user.id for s in handler.sockets.values()] == [people["member.gov1"].id]

    # The last moment: the handler's look saw it still there.
    with monkeypatch.context() as moment:
        moment.setattr(namespace.HearingNamespace, "_gone", lambda self, sid: False)
        await _go_while_joining(signed, room, clients("member.wrk1"), moment)
        await chair.wait_for(lambda e: presence("join")(e) and e["seq"] > left["seq"])
        assert len(await _open_attendance(db, room.hearing_id, user_id)) == 1  # a ghost
    swept = await handler.recheck_sessions()
    assert len(swept) == 1
    assert await _open_attendance(db, room.hearing_id, user_id) == []
    await chair.wait_for(lambda e: presence("leave")(e) and e["seq"] > left["seq"])
    assert [s.ctx.user.id for s in handler.sockets.values()] == [people["member.gov1"].id]

    # The same person opens the room again: in, and counted once.
    again = await join("member.wrk1")
    assert again.connected
    assert len(await _open_attendance(db, room.hearing_id, user_id)) == 1


async def test_summoned_people_get_in_and_presence_is_recorded(
    join: Callable[..., Any], room: Room, db: Any, people: Any
) -> None:
    chair = await join("member.gov1")
    assert chair.snapshot["me"]["role"] == "chair"
    assert chair.snapshot["phase"] == "lobby"
    worker = await join("worker")
    assert worker.snapshot["me"] == {
        "user_id": people["worker"].id,
        "name": people["worker"].full_name,
        "role": "claimant",
        "is_board": False,
        "is_moderator": False,
        "admitted": False,
    }
    assert worker.snapshot["documents"] == []  # waiting in the lobby: nothing of the file yet
    joined = await chair.wait_for(
        lambda e: e["type"] == "presence" and e["payload"]["user_id"] == people["worker"].id
    )
    assert joined["payload"]["admitted"] is False
    async with db.transaction(write=False) as session:
        rows = list(
            await session.scalars(
                select(Attendance)
                .where(Attendance.hearing_id == room.hearing_id)
                .order_by(Attendance.id)
            )
        )
    assert [(r.user_id, r.role, r.left_at) for r in rows] == [
        (people["member.gov1"].id, "chair", None),
        (people["worker"].id, "claimant", None),
    ]
    await worker.close()
    await chair.wait_for(
        lambda e: (
            e["type"] == "presence"
            and e["op"] == "leave"
            and e["payload"]["user_id"] == people["worker"].id
        )
    )
    async with db.transaction(write=False) as session:
        left = await session.scalar(
            select(Attendance.left_at).where(Attendance.user_id == people["worker"].id)
        )
    assert left is not None


async def test_room_token_lets_a_program_join_without_the_cookie(
    signed: Signed, room: Room, clients: Callable[[str], RoomClient]
) -> None:
    cookie = await signed.cookie("member.wrk1")
    async with httpx.AsyncClient(timeout=EVENTUALLY_SECONDS, base_url=signed.live.url) as http:
        got = await http.get(
            f"/api/v1/hearings/{room.hearing_id}/room/token", headers={"Cookie": cookie}
        )
        assert got.status_code == 200
        assert got.headers["Cache-Control"] == "no-store"
        token = got.json()["token"]
        other = await http.get(
            f"/api/v1/hearings/{room.hearing_id}/room/token",
            headers={"Cookie": await signed.cookie("member.gov2")},
        )
        assert other.status_code == 403  # not summoned: no token either
        anon = await http.get(f"/api/v1/hearings/{room.hearing_id}/room/token")
        assert anon.status_code == 401
    program = clients("program")
    await program.connect(signed.live.url, room.hearing_id, token=token)
    assert (await program.call("sync", {}))["snapshot"]["me"]["role"] == "member"
    # The token is for this hearing only.
    elsewhere = clients("elsewhere")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await elsewhere.connect(signed.live.url, room.hearing_id + 1000, token=token)
    tampered = clients("tampered")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await tampered.connect(signed.live.url, room.hearing_id, token=token[:-2] + "xx")


async def test_malformed_and_oversized_events_get_error_acks_and_the_socket_stays(
    join: Callable[..., Any], room: Room
) -> None:
    chair = await join("member.gov1")
    bad_page = await chair.call("view.set", {"document_id": room.public_doc, "page": "three"})
    assert bad_page["error"]["code"] == "invalid"
    assert bad_page["error"]["message"] == "رویداد معتبر نیست."
    assert {d["field"] for d in bad_page["error"]["details"]} == {"page"}
    not_a_dict = await chair.call("chat.send", ["hello"])
    assert not_a_dict["error"]["code"] == "invalid"
    extra_field = await chair.call("hand.raise", {"sneaky": 1})
    assert extra_field["error"]["code"] == "invalid"
    unknown = await chair.call("drop.tables", {})
    assert unknown["error"]["code"] == "unknown_event"
    huge = await chair.call("chat.send", {"body": "ب" * 6000})  # ~36 KB on the wire: over the
    # 8 KB event cap, under the 64 KB frame limit at which the transport itself hangs up
    assert huge["error"]["code"] == "too_large"
    assert chair.connected
    ok = await chair.call("view.set", {"document_id": room.public_doc, "page": 2})
    assert ok["ok"] is True


async def test_errors_come_in_the_users_language(
    join: Callable[..., Any], room: Room, db: Any, people: Any
) -> None:
    from hearing_server.accounts.services import do_set_locale

    async with db.transaction() as session:
        await do_set_locale(session, user_id=people["member.wrk1"].id, locale="en")
    member = await join("member.wrk1")
    refused = await member.call("phase.set", {"phase": "hearing"})
    assert refused["error"] == {
        "code": "not_moderator",
        "message": "Only the secretary or the chair may do this.",
    }
    chair = await join("member.gov1")
    wrong = await chair.call("phase.set", {"phase": "voting"})
    assert wrong["error"]["code"] == "bad_phase"
    assert wrong["error"]["message"] == "اتاق نمی‌تواند از مرحلهٔ انتظار به مرحلهٔ رأی‌گیری برود."


async def test_flooding_socket_is_rate_limited_but_stays_connected(
    join: Callable[..., Any],
) -> None:
    member = await join("member.emp1")
    answers = [await member.call("sync", {"last_seq": 0}) for _ in range(40)]
    limited = [a for a in answers if "error" in a]
    assert limited and all(a["error"]["code"] == "rate_limited" for a in limited)
    assert member.connected


async def test_revoked_session_is_disconnected_on_its_next_event(
    join: Callable[..., Any], db: Any, people: Any
) -> None:
    member = await join("member.wrk1")
    async with db.transaction() as session:
        row = await session.scalar(
            select(LoginSession).where(
                LoginSession.user_id == people["member.wrk1"].id, LoginSession.revoked_at.is_(None)
            )
        )
        assert row is not None
        row.revoked_at = utcnow()
    # Within the re-check interval the socket's check is fresh; once it is due, the next
    # event finds the session revoked.
    clock.advance(namespace.EVENT_RECHECK)
    answer = await member.call("sync", {})
    assert answer["error"]["code"] == "session_ended"
    await __import__("asyncio").wait_for(member.disconnected.wait(), 10)
    assert not member.connected


async def test_a_revoked_sessions_page_turn_is_refused_and_writes_nothing(
    join: Callable[..., Any], db: Any, people: Any, room: Room
) -> None:
    """The page turn (group-committed on SQLite) checks the login session as every event
    does: once the check is due, a revoked session's turn is refused, nothing is logged,
    and the socket is closed."""
    chair = await join("member.gov1")
    first = await chair.call("view.set", {"document_id": room.public_doc, "page": 2})
    assert first["ok"] is True
    async with db.transaction() as session:
        await session.execute(
            update(LoginSession)
            .where(LoginSession.user_id == people["member.gov1"].id)
            .values(revoked_at=utcnow())
        )
    clock.advance(namespace.EVENT_RECHECK)
    answer = await chair.call("view.set", {"document_id": room.public_doc, "page": 3})
    assert answer["error"]["code"] == "session_ended"
    await __import__("asyncio").wait_for(chair.disconnected.wait(), 10)
    async with db.transaction(write=False) as session:
        hearing = await session.get(Hearing, room.hearing_id)
        assert hearing is not None
        assert (hearing.room_seq, hearing.view_page) == (first["seq"], 2)


async def test_a_socket_that_joins_during_the_periodic_check_is_not_taken_for_ended(
    join: Callable[..., Any], live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    early = await join("member.emp1")
    namespace_handler = live_server.app.runtime.sio.namespace_handlers[NS]
    read = accounts_sessions.live_session_ids
    late: list[Any] = []

    async def slow_read(session: Any, ids: Any) -> set[int]:
        good = await read(session, ids)
        late.append(await join("member.gov1"))  # joins while the check reads
        return good

    monkeypatch.setattr(accounts_sessions, "live_session_ids", slow_read)
    assert await namespace_handler.recheck_sessions() == []
    assert "snapshot" in await late[0].call("sync", {})  # still served
    assert late[0].connected and early.connected


async def test_revoked_session_is_disconnected_by_the_periodic_check(
    join: Callable[..., Any], db: Any, people: Any, live_server: LiveServer
) -> None:
    quiet = await join("member.emp1")
    other = await join("member.gov1")
    async with db.transaction() as session:
        row = await session.scalar(
            select(LoginSession).where(LoginSession.user_id == people["member.emp1"].id)
        )
        assert row is not None
        row.revoked_at = utcnow()
    namespace = live_server.app.runtime.sio.namespace_handlers[NS]
    ended = await namespace.recheck_sessions()  # what the loop runs every few seconds
    assert len(ended) == 1
    await __import__("asyncio").wait_for(quiet.disconnected.wait(), 10)
    assert other.connected  # only the revoked one
