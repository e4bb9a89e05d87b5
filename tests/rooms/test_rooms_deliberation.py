"""Issue #12 (law), items 1, 7 and 8, end to end as a board and parties use the room:
what the board says in deliberation never reaches a party (minutes, API, snapshot, case
pages); the board may call the parties back from deliberation; the minutes list each
person once with their role, first arrival, last departure and minutes present."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import socketio
from playwright.async_api import expect
from sqlalchemy import select

from hearing_server import clock
from hearing_server.issuance.models import Minutes
from rulings.pki import PkiPaths
from tests.conftest import EVENTUALLY_SECONDS, LiveServer, OtpSource, Person, eventually
from tests.issuance.conftest import login_as, pdf_text, pki  # noqa: F401  (fixture)
from tests.rooms.conftest import NS, Room, RoomClient, Signed


def of(type_: str, op: str | None = None, **payload: Any) -> Callable[[dict[str, Any]], bool]:
    def match(event: dict[str, Any]) -> bool:
        return (
            event["type"] == type_
            and (op is None or event["op"] == op)
            and all(event["payload"].get(k) == v for k, v in payload.items())
        )

    return match


# What is said in the public hearing, on the record (a party with the floor, the chair's
# statement), and off it (ordinary chat).
WORKER_WITH_FLOOR = "کارفرما سه ماه مزد مرا نپرداخته است"
CHAIR_STATEMENT = "طرفین درباره‌ی مزد معوق توضیح دادند"
ORDINARY_CHAT = "صدای شما قطع و وصل می‌شود"
WORKER_CHAT_NO_FLOOR = "ببخشید من هم حرفی دارم"
# What the board says once the parties are out.
DELIBERATION_CHAT = "به نظرم کارفرما مقصر است و باید بپردازد"
DELIBERATION_STATEMENT = "رئیس جلسه پیشنهاد پذیرش خواسته را داد"
DELIBERATION_NOTE = "این امضا مشکوک است"
VOTING_CHAT = "من موافق پذیرش کامل هستم"
SECRETS = (DELIBERATION_CHAT, DELIBERATION_STATEMENT, DELIBERATION_NOTE, VOTING_CHAT)


def flat(text: str) -> str:
    """``text`` as pdftotext gives it back (no ZWNJ)."""
    return text.replace("\u200c", "")


async def admit(secretary: RoomClient, party: RoomClient, user_id: int) -> None:
    assert (await secretary.call("admit", {"user_id": user_id}))["ok"]
    await party.wait_for(of("admitted", user_id=user_id))


async def left(observer: RoomClient, user_id: int, count: int) -> None:
    """Wait until ``observer`` has seen ``count`` departures of ``user_id``."""

    async def look() -> None:
        while sum(of("presence", "leave", user_id=user_id)(e) for e in observer.events) < count:
            last = max(observer.seqs(), default=0)
            await observer.wait_for(lambda e, last=last: int(e["seq"]) > last)

    await asyncio.wait_for(look(), EVENTUALLY_SECONDS)


async def issue_minutes(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, hearing_id: int
) -> dict[str, Any]:
    secretary, csrf = await login_as(quart_app, people["secretary"], otp)
    made = await secretary.post(
        f"/api/v1/hearings/{hearing_id}/minutes", headers={"X-CSRF-Token": csrf}
    )
    body: dict[str, Any] = await made.get_json()
    assert made.status_code == 201, body
    return body


async def party_pdf_text(quart_app: Any, person: Person, otp: OtpSource, minutes_id: int) -> str:
    client, _ = await login_as(quart_app, person, otp)
    response = await client.get(f"/api/v1/minutes/{minutes_id}/pdf")
    assert response.status_code == 200
    return pdf_text(await response.get_data())


async def test_minutes_for_parties_hold_the_hearings_statements_never_chat_or_deliberation(
    join: Callable[..., Any],
    room: Room,
    db: Any,
    quart_app: Any,
    people: dict[str, Person],
    otp: OtpSource,
    pki: PkiPaths,  # noqa: F811
) -> None:
    secretary = await join("secretary")
    chair = await join("member.gov1")
    member = await join("member.wrk1")
    worker = await join("worker")
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]
    await admit(secretary, worker, people["worker"].id)
    assert (await worker.call("chat.send", {"body": WORKER_CHAT_NO_FLOOR}))["ok"]
    assert (await secretary.call("floor.give", {"user_id": people["worker"].id}))["ok"]
    assert (await worker.call("chat.send", {"body": WORKER_WITH_FLOOR}))["ok"]
    assert (await member.call("chat.send", {"body": ORDINARY_CHAT}))["ok"]
    said = await chair.call("chat.send", {"body": CHAIR_STATEMENT, "kind": "statement"})
    assert said["ok"]
    assert (await secretary.call("phase.set", {"phase": "deliberation"}))["ok"]
    await asyncio.wait_for(worker.disconnected.wait(), EVENTUALLY_SECONDS)
    assert (await member.call("chat.send", {"body": DELIBERATION_CHAT}))["ok"]
    said = await chair.call("chat.send", {"body": DELIBERATION_STATEMENT, "kind": "statement"})
    assert said["ok"]
    note = await member.call(
        "highlight.add",
        {
            "document_id": room.public_doc,
            "page": 1,
            "rect": {"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.1},
            "note": DELIBERATION_NOTE,
        },
    )
    assert note["ok"]
    assert (await secretary.call("phase.set", {"phase": "voting"}))["ok"]
    assert (await member.call("chat.send", {"body": VOTING_CHAT}))["ok"]
    assert (await secretary.call("phase.set", {"phase": "closed"}))["ok"]

    minutes = await issue_minutes(quart_app, people, otp, room.hearing_id)
    async with db.transaction(write=False) as session:
        row = await session.scalar(select(Minutes).where(Minutes.id == minutes["id"]))
        assert row is not None
        content = json.dumps(row.content, ensure_ascii=False)
    for secret in (*SECRETS, ORDINARY_CHAT, WORKER_CHAT_NO_FLOOR):
        assert secret not in content
    texts = [s["text"] for s in row.content["statements"]]
    assert texts == [WORKER_WITH_FLOOR, CHAIR_STATEMENT]
    for username in ("worker", "employer"):
        text = await party_pdf_text(quart_app, people[username], otp, minutes["id"])
        assert flat(WORKER_WITH_FLOOR) in text and flat(CHAIR_STATEMENT) in text
        for secret in (*SECRETS, ORDINARY_CHAT, WORKER_CHAT_NO_FLOOR):
            assert flat(secret) not in text, secret
    # Nothing else a party can read carries the board's talk: the case API and page, and
    # the case's history (the secretary's only).
    worker_http, _ = await login_as(quart_app, people["worker"], otp)
    for path in (f"/api/v1/cases/{room.case_id}", f"/cases/{room.case_id}"):
        page = await worker_http.get(path)
        assert page.status_code == 200, path
        body = (await page.get_data()).decode()
        assert all(secret not in body for secret in SECRETS), path
    history = await worker_http.get(f"/api/v1/cases/{room.case_id}/history")
    assert history.status_code == 403


async def test_the_board_calls_the_parties_back_from_deliberation_and_sends_them_out_again(
    join: Callable[..., Any],
    room: Room,
    db: Any,
    quart_app: Any,
    people: dict[str, Person],
    otp: OtpSource,
    signed: Signed,
    clients: Callable[[str], RoomClient],
    pki: PkiPaths,  # noqa: F811
) -> None:
    secretary = await join("secretary")
    member = await join("member.wrk1")
    worker = await join("worker")
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]
    await admit(secretary, worker, people["worker"].id)
    assert (await secretary.call("phase.set", {"phase": "deliberation"}))["ok"]
    await asyncio.wait_for(worker.disconnected.wait(), EVENTUALLY_SECONDS)
    assert worker.removed == [{"reason": "deliberation"}]
    assert (await member.call("chat.send", {"body": DELIBERATION_CHAT}))["ok"]
    note = await member.call(
        "highlight.add",
        {
            "document_id": room.public_doc,
            "page": 2,
            "rect": {"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.1},
            "note": DELIBERATION_NOTE,
        },
    )
    assert note["ok"]
    # While the board deliberates the party is refused, with the reason.
    waiting = clients("worker-waiting")
    refused: list[Any] = []

    @waiting.sio.on("connect_error", namespace=NS)
    async def on_error(data: Any) -> None:
        refused.append(data)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await waiting.connect(
            signed.live.url, room.hearing_id, cookie=await signed.cookie("worker")
        )
    assert refused[0]["data"]["code"] == "deliberation"

    # The call-back: deliberation → hearing; everyone (the board too) sees the move.
    back = await secretary.call("phase.set", {"phase": "hearing"})
    assert back.get("ok") and back["phase"] == "hearing", back
    await member.wait_for(of("phase", "set", phase="hearing", **{"from": "deliberation"}))
    again = await join("worker")
    state = again.snapshot
    assert state["phase"] == "hearing"
    assert state["me"]["admitted"] is True  # called back: no second wait in the lobby
    seen = json.dumps(state, ensure_ascii=False)
    assert DELIBERATION_CHAT not in seen and DELIBERATION_NOTE not in seen
    # A party replaying from before deliberation gets nothing of it either.
    replay = await again.call("sync", {"last_seq": worker.seqs()[-1] if worker.seqs() else 0})
    assert DELIBERATION_CHAT not in json.dumps(replay, ensure_ascii=False)
    assert DELIBERATION_NOTE not in json.dumps(replay, ensure_ascii=False)
    # The party takes part again: the floor and a statement on the record.
    assert (await secretary.call("floor.give", {"user_id": people["worker"].id}))["ok"]
    assert (await again.call("chat.send", {"body": WORKER_WITH_FLOOR}))["ok"]
    await member.wait_for(of("chat", "add", body=WORKER_WITH_FLOOR))
    # Back to deliberation: out again, and refused again.
    assert (await secretary.call("phase.set", {"phase": "deliberation"}))["ok"]
    await asyncio.wait_for(again.disconnected.wait(), EVENTUALLY_SECONDS)
    assert again.removed == [{"reason": "deliberation"}]
    refused.clear()
    late = clients("worker-late")

    @late.sio.on("connect_error", namespace=NS)
    async def on_late_error(data: Any) -> None:
        refused.append(data)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await late.connect(signed.live.url, room.hearing_id, cookie=await signed.cookie("worker"))
    assert refused[0]["data"]["code"] == "deliberation"
    # Only from deliberation: voting, the lobby and a closed room do not lead back.
    assert (await secretary.call("phase.set", {"phase": "voting"}))["ok"]
    refused_move = await secretary.call("phase.set", {"phase": "hearing"})
    assert refused_move["error"]["code"] == "bad_phase"
    assert (await secretary.call("phase.set", {"phase": "closed"}))["ok"]

    # The minutes record the call-back, in both languages' labels.
    minutes = await issue_minutes(quart_app, people, otp, room.hearing_id)
    async with db.transaction(write=False) as session:
        row = await session.scalar(select(Minutes).where(Minutes.id == minutes["id"]))
        assert row is not None
        phases = [(p["phase"], p.get("recalled", False)) for p in row.content["phases"]]
    assert phases == [
        ("hearing", False),
        ("deliberation", False),
        ("hearing", True),
        ("deliberation", False),
        ("voting", False),
        ("closed", False),
    ]
    text = await party_pdf_text(quart_app, people["worker"], otp, minutes["id"])
    assert "فراخوان طرفین از شور" in text
    assert WORKER_WITH_FLOOR in text
    assert flat(DELIBERATION_CHAT) not in text and flat(DELIBERATION_NOTE) not in text


async def test_minutes_attendance_is_one_row_per_person_with_role_arrival_departure(
    join: Callable[..., Any],
    room: Room,
    db: Any,
    quart_app: Any,
    people: dict[str, Person],
    otp: OtpSource,
    signed: Signed,
    clients: Callable[[str], RoomClient],
    pki: PkiPaths,  # noqa: F811
) -> None:
    start = clock.utcnow()
    # The secretary: two tabs and three reconnects, overlapping.
    tab1 = await join("secretary", sync=False)
    clock.advance(timedelta(minutes=5))
    tab2 = await join("secretary", sync=False)
    chair = await join("member.gov1", sync=False)  # arrives at +5
    clock.advance(timedelta(minutes=5))
    secretary_id = people["secretary"].id
    await tab2.close()
    await left(tab1, secretary_id, 1)  # recorded before the clock moves on
    for n in range(3):
        clock.advance(timedelta(minutes=1))
        again = await join("secretary", sync=False)
        await again.close()
        await left(tab1, secretary_id, n + 2)
    clock.advance(timedelta(minutes=2))  # +15
    member = await join("member.wrk1", sync=False)
    worker = await join("worker", sync=False)  # waits in the lobby from +15
    assert (await tab1.call("phase.set", {"phase": "hearing"}))["ok"]
    clock.advance(timedelta(minutes=10))  # admitted at +25
    await admit(tab1, worker, people["worker"].id)
    clock.advance(timedelta(minutes=10))  # +35
    assert (await tab1.call("phase.set", {"phase": "deliberation"}))["ok"]
    await asyncio.wait_for(worker.disconnected.wait(), EVENTUALLY_SECONDS)
    clock.advance(timedelta(minutes=20))  # +55
    assert (await chair.call("phase.set", {"phase": "closed"}))["ok"]
    clock.advance(timedelta(minutes=30))  # the board stays connected after closing
    for client in (member, chair, tab1):
        await client.close()

    async def all_rows_closed() -> bool:
        from hearing_server.rooms.models import Attendance

        async with db.transaction(write=False) as session:
            open_rows = await session.scalars(
                select(Attendance.id).where(
                    Attendance.hearing_id == room.hearing_id, Attendance.left_at.is_(None)
                )
            )
            return not list(open_rows)

    await eventually(all_rows_closed)
    minutes = await issue_minutes(quart_app, people, otp, room.hearing_id)
    async with db.transaction(write=False) as session:
        row = await session.scalar(select(Minutes).where(Minutes.id == minutes["id"]))
        assert row is not None
        rows = row.content["attendance"]
    names = [a["name"] for a in rows]
    assert len(names) == len(set(names)), names  # one row per person
    by_name = {a["name"]: a for a in rows}
    iso = lambda minutes: (start + timedelta(minutes=minutes)).isoformat()  # noqa: E731

    secretary = by_name[people["secretary"].full_name]
    assert secretary["role"] == "secretary" and secretary["seat_group"] is None
    assert secretary["joined_at"] == iso(0)
    assert secretary["left_at"] == iso(55)  # the session ended at closing
    assert secretary["minutes_present"] == 55

    chair_row = by_name[people["member.gov1"].full_name]
    assert chair_row["role"] == "chair" and chair_row["seat_group"] == "government"
    assert chair_row["joined_at"] == iso(5) and chair_row["minutes_present"] == 50

    member_row = by_name[people["member.wrk1"].full_name]
    assert member_row["role"] == "member" and member_row["seat_group"] == "worker"
    assert member_row["joined_at"] == iso(15) and member_row["minutes_present"] == 40

    worker_row = by_name[people["worker"].full_name]
    assert worker_row["role"] == "claimant" and worker_row["seat_group"] is None
    # In the session from admission to the move to deliberation (not the lobby's wait).
    assert worker_row["joined_at"] == iso(25) and worker_row["left_at"] == iso(35)
    assert worker_row["minutes_present"] == 10

    # The chair leads the list, then the members, the secretary and the parties.
    assert names[0] == people["member.gov1"].full_name
    assert names.index(people["secretary"].full_name) < names.index(people["worker"].full_name)

    text = await party_pdf_text(quart_app, people["worker"], otp, minutes["id"])
    assert "رئیس جلسه" in text and "ناظر" not in text
    assert text.count(people["secretary"].full_name) == 1


# One backend: the page's work; the call-back runs on both backends above.
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_party_page_waits_out_deliberation_and_rejoins_when_called_back(
    browser: Any,
    live_server: LiveServer,
    join: Callable[..., Any],
    room: Room,
    people: dict[str, Person],
    otp: OtpSource,
) -> None:
    """In Chromium: the worker's room page is sent out at deliberation, says why, and comes
    back by itself when the board calls the parties back (showing the phase); sent out
    again when the board returns to deliberation."""
    from tests.rooms.test_rooms_browser import open_room

    secretary = await join("secretary")
    worker = await open_room(browser, live_server, people["worker"], otp, room)
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]
    assert (await secretary.call("admit", {"user_id": people["worker"].id}))["ok"]
    await expect(worker.locator("#phase")).to_have_text("رسیدگی و استماع طرفین")
    assert (await secretary.call("phase.set", {"phase": "deliberation"}))["ok"]
    await worker.wait_for_selector("#notice:not([hidden])")
    assert "فرا بخواند" in await worker.inner_text("#notice")
    assert (await member_says(secretary, DELIBERATION_CHAT))["ok"]
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]
    await worker.wait_for_selector("#room[data-state=connected]", timeout=EVENTUALLY_SECONDS * 1000)
    await worker.wait_for_selector("#notice", state="hidden")
    await expect(worker.locator("#phase")).to_have_text("رسیدگی و استماع طرفین")
    assert DELIBERATION_CHAT not in await worker.inner_text("body")
    assert (await secretary.call("phase.set", {"phase": "deliberation"}))["ok"]
    await worker.wait_for_selector("#notice:not([hidden])")
    assert worker.errors == []
    await worker.context.close()


async def member_says(client: RoomClient, body: str) -> Any:
    return await client.call("chat.send", {"body": body})
