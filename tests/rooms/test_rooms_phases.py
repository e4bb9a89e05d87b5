"""Phases, admission, reviewing the file together, the floor and the chat, over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import socketio
from sqlalchemy import select

from hearing_server.audit.models import AuditEvent
from hearing_server.cases.models import Case, CaseTransition
from hearing_server.rooms.models import Highlight, PageView, PrivateNote, Statement
from hearing_server.scheduling.models import Hearing
from tests.conftest import Person
from tests.rooms.conftest import NS, Room, RoomClient, Signed


def of(type_: str, op: str | None = None, **payload: Any) -> Callable[[dict[str, Any]], bool]:
    def match(event: dict[str, Any]) -> bool:
        return (
            event["type"] == type_
            and (op is None or event["op"] == op)
            and all(event["payload"].get(k) == v for k, v in payload.items())
        )

    return match


async def open_hearing(secretary: RoomClient) -> None:
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]


async def test_moving_to_hearing_marks_the_case_in_hearing_with_transition_and_audit(
    join: Callable[..., Any], room: Room, db: Any, people: dict[str, Person]
) -> None:
    secretary = await join("secretary")
    await open_hearing(secretary)
    await secretary.wait_for(of("phase", "set", phase="hearing"))
    async with db.transaction(write=False) as session:
        case = await session.get(Case, room.case_id)
        assert case is not None and case.status == "in_hearing"
        transition = await session.scalar(
            select(CaseTransition).where(CaseTransition.case_id == room.case_id)
        )
        assert transition is not None
        assert (transition.from_status, transition.to_status) == ("scheduled", "in_hearing")
        assert transition.actor_id == people["secretary"].id
        audit = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "case.in_hearing")
        )
        assert audit is not None and audit.subject_id == str(room.case_id)
        hearing = await session.get(Hearing, room.hearing_id)
        assert hearing is not None and hearing.status == "in_progress"


async def test_only_secretary_or_chair_changes_phase(join: Callable[..., Any], room: Room) -> None:
    member = await join("member.emp1")
    assert (await member.call("phase.set", {"phase": "hearing"}))["error"][
        "code"
    ] == "not_moderator"
    worker = await join("worker")
    assert (await worker.call("phase.set", {"phase": "hearing"}))["error"][
        "code"
    ] == "not_moderator"
    chair = await join("member.gov1")
    assert (await chair.call("phase.set", {"phase": "hearing"}))["phase"] == "hearing"
    skipped = await chair.call("phase.set", {"phase": "lobby"})
    assert skipped["error"]["code"] == "bad_phase"


async def test_party_waits_in_lobby_until_admitted_then_sees_only_party_documents(
    join: Callable[..., Any], room: Room, people: dict[str, Person]
) -> None:
    secretary = await join("secretary")
    worker = await join("worker")
    await open_hearing(secretary)
    early = await worker.call("chat.send", {"body": "سلام"})
    assert early["error"]["code"] == "not_admitted"
    assert not any(e["type"] == "phase" for e in worker.events)  # not in the room yet
    assert (await secretary.call("admit", {"user_id": people["worker"].id}))["ok"]
    await worker.wait_for(of("admitted", "set", user_id=people["worker"].id))
    state = (await worker.call("sync", {}))["snapshot"]
    assert state["me"]["admitted"] is True
    assert state["phase"] == "hearing"
    assert [d["id"] for d in state["documents"]] == [room.public_doc]  # no board-only document
    again = await secretary.call("admit", {"user_id": people["worker"].id})
    assert again["error"]["code"] == "already_admitted"
    said = await worker.call("chat.send", {"body": "سلام به هیأت محترم"})
    assert said["ok"]
    await secretary.wait_for(of("chat", "add", body="سلام به هیأت محترم"))


async def test_presenter_page_change_reaches_every_follower(
    join: Callable[..., Any], room: Room, people: dict[str, Person]
) -> None:
    chair = await join("member.gov1")
    followers = [await join(name) for name in ("member.wrk1", "member.emp1", "secretary")]
    worker = await join("worker")
    await open_hearing(chair)
    await chair.call("admit", {"user_id": people["worker"].id})
    await worker.wait_for(of("admitted"))
    await worker.call("sync", {})
    turned = await chair.call("view.set", {"document_id": room.public_doc, "page": 3, "zoom": 125})
    assert turned["ok"]
    for client in [*followers, worker, chair]:
        event = await client.wait_for(of("view", "set", page=3))
        assert event["payload"] == {
            "document_id": room.public_doc,
            "case_id": room.case_id,
            "page": 3,
            "zoom": 125,
        }
        assert event["seq"] == turned["seq"]
    # A board-only document is shown to the board only.
    secret = await chair.call("view.set", {"document_id": room.board_doc, "page": 2})
    for client in followers:
        await client.wait_for(of("view", "set", document_id=room.board_doc))
    marker = await chair.call("chat.send", {"body": "پایان"})
    assert marker["ok"]
    await worker.wait_for(of("chat", "add", body="پایان"))
    assert not any(e["seq"] == secret["seq"] for e in worker.events)
    missed = await worker.call("sync", {"last_seq": 0})
    assert secret["seq"] not in [e["seq"] for e in missed["events"]]
    # Beyond the last page, or a document of another case: refused, nothing changes.
    too_far = await chair.call("view.set", {"document_id": room.public_doc, "page": 5})
    assert too_far["error"]["code"] == "bad_page"
    foreign = await chair.call("view.set", {"document_id": room.other_case_doc, "page": 1})
    assert foreign["error"]["code"] == "not_found"


async def test_presenting_is_handed_over_and_members_may_not_turn_pages_otherwise(
    join: Callable[..., Any], room: Room, people: dict[str, Person]
) -> None:
    chair = await join("member.gov1")
    member = await join("member.wrk1")
    refused = await member.call("view.set", {"document_id": room.public_doc, "page": 2})
    assert refused["error"]["code"] == "not_presenter"
    assert (await chair.call("presenter.set", {"user_id": people["member.wrk1"].id}))["ok"]
    ok = await member.call("view.set", {"document_id": room.public_doc, "page": 2})
    assert ok["ok"]
    await chair.wait_for(of("view", "set", page=2))
    party = await chair.call("presenter.set", {"user_id": people["worker"].id})
    assert party["error"]["code"] == "not_board"


async def test_party_is_removed_in_deliberation_and_cannot_rejoin(
    join: Callable[..., Any],
    room: Room,
    people: dict[str, Person],
    signed: Signed,
    clients: Callable[[str], RoomClient],
) -> None:
    secretary = await join("secretary")
    member = await join("member.wrk1")
    worker = await join("worker")
    await open_hearing(secretary)
    await secretary.call("admit", {"user_id": people["worker"].id})
    await worker.wait_for(of("admitted"))
    assert (await worker.call("hand.raise", {}))["ok"]
    assert (await secretary.call("phase.set", {"phase": "deliberation"}))["ok"]
    await asyncio.wait_for(worker.disconnected.wait(), 10)
    assert worker.removed == [{"reason": "deliberation"}]
    state = (await member.call("sync", {}))["snapshot"]
    assert state["hands"] == []  # the party's raised hand went with them
    worker_row = next(p for p in state["people"] if p["user_id"] == people["worker"].id)
    assert worker_row["present"] is False
    # Board-only talk in deliberation.
    assert (await member.call("chat.send", {"body": "نظر من پرداخت مطالبات است"}))["ok"]
    again = clients("worker-again")
    refused: list[Any] = []

    @again.sio.on("connect_error", namespace=NS)
    async def on_error(data: Any) -> None:
        refused.append(data)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await again.connect(signed.live.url, room.hearing_id, cookie=await signed.cookie("worker"))
    assert refused[0]["data"]["code"] == "deliberation"
    for phase in ("voting", "closed"):
        assert (await secretary.call("phase.set", {"phase": phase}))["ok"]
        late = clients(f"worker-{phase}")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await late.connect(
                signed.live.url, room.hearing_id, cookie=await signed.cookie("worker")
            )


async def test_after_closing_nobody_can_act(join: Callable[..., Any], room: Room) -> None:
    chair = await join("member.gov1")
    assert (await chair.call("phase.set", {"phase": "closed"}))["ok"]
    for event, data in [
        ("chat.send", {"body": "هنوز هستید؟"}),
        ("view.set", {"document_id": room.public_doc, "page": 1}),
        ("hand.raise", {}),
        ("phase.set", {"phase": "hearing"}),
    ]:
        answer = await chair.call(event, data)
        assert answer["error"]["code"] in ("room_closed", "bad_phase"), (event, answer)
    assert (await chair.call("sync", {}))["snapshot"]["phase"] == "closed"  # reading is fine


async def test_highlights_are_shared_and_notes_stay_private(
    join: Callable[..., Any], room: Room, db: Any, people: dict[str, Person]
) -> None:
    chair = await join("member.gov1")
    member = await join("member.wrk1")
    rect = {"x": 0.1, "y": 0.2, "w": 0.5, "h": 0.05}
    marked = await chair.call(
        "highlight.add",
        {"document_id": room.public_doc, "page": 3, "rect": rect, "note": "تاریخ شروع کار"},
    )
    assert marked["ok"]
    seen = await member.wait_for(of("highlight", "add", id=marked["id"]))
    assert seen["payload"]["rect"] == rect and seen["payload"]["note"] == "تاریخ شروع کار"
    noted = await member.call(
        "note.add",
        {
            "case_id": room.case_id,
            "document_id": room.public_doc,
            "page": 3,
            "body": "بررسی فیش حقوقی",
        },
    )
    assert noted["ok"]
    marker = await member.call("chat.send", {"body": "بعدی"})
    await chair.wait_for(of("chat", "add", id=marker["id"]))
    assert not any(e["type"] == "note" for e in chair.events)
    assert "بررسی فیش حقوقی" not in str((await chair.call("sync", {}))["snapshot"])
    mine = (await member.call("sync", {}))["snapshot"]
    assert [n["body"] for n in mine["notes"]] == ["بررسی فیش حقوقی"]
    assert [h["id"] for h in mine["highlights"]] == [marked["id"]]
    worker = await join("worker")  # not admitted: sees neither highlights nor notes
    assert worker.snapshot["highlights"] == [] and worker.snapshot["notes"] == []
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(Highlight.author_id)) == people["member.gov1"].id
        assert await session.scalar(select(PrivateNote.author_id)) == people["member.wrk1"].id


async def test_reading_log_and_who_has_not_opened_the_file(
    join: Callable[..., Any], room: Room, db: Any, people: dict[str, Person]
) -> None:
    chair = await join("member.gov1")
    member = await join("member.wrk1")
    before = chair.snapshot["reading"]["not_opened"]
    assert set(before) == {people[n].id for n in ("member.gov1", "member.wrk1", "member.emp1")}
    for seconds in (20, 15):
        assert (
            await member.call(
                "reading.log", {"document_id": room.public_doc, "page": 2, "seconds": seconds}
            )
        )["ok"]
    await member.call("reading.log", {"document_id": room.board_doc, "page": 1, "seconds": 5})
    opened = await chair.wait_for(of("reading", "opened", user_id=people["member.wrk1"].id))
    assert sum(1 for e in chair.events if e["type"] == "reading") == 1  # only the first time
    after = (await chair.call("sync", {}))["snapshot"]["reading"]
    assert people["member.wrk1"].id not in after["not_opened"]
    assert after["members"][str(people["member.wrk1"].id)] == {
        "documents": 2,
        "pages": 2,
        "seconds": 40,
    }
    async with db.transaction(write=False) as session:
        rows = list(
            await session.execute(
                select(PageView.document_id, PageView.page, PageView.seconds)
                .where(PageView.user_id == people["member.wrk1"].id)
                .order_by(PageView.document_id)
            )
        )
    assert [tuple(r) for r in rows] == [(room.public_doc, 2, 35), (room.board_doc, 1, 5)]
    assert opened["seq"] > 0


async def test_floor_hands_and_statements(
    join: Callable[..., Any], room: Room, db: Any, people: dict[str, Person]
) -> None:
    secretary = await join("secretary")
    member = await join("member.emp1")
    assert (await member.call("hand.raise", {}))["ok"]
    assert (await member.call("hand.raise", {}))["error"]["code"] == "hand_raised"
    await secretary.wait_for(of("hand", "raise", user_id=people["member.emp1"].id))
    early = await member.call("chat.send", {"body": "اظهارات من", "kind": "statement"})
    assert early["error"]["code"] == "no_floor"
    absent = await secretary.call("floor.give", {"user_id": people["member.gov1"].id})
    assert absent["error"]["code"] == "not_present"
    assert (await secretary.call("floor.give", {"user_id": people["member.emp1"].id}))["ok"]
    state = (await member.call("sync", {}))["snapshot"]
    assert state["floor_user_id"] == people["member.emp1"].id and state["hands"] == []
    said = await member.call("chat.send", {"body": "<b>اظهارات</b> من", "kind": "statement"})
    assert said["ok"]
    assert (await member.call("floor.take", {}))["ok"]  # the speaker yields
    async with db.transaction(write=False) as session:
        statement = await session.get(Statement, said["id"])
    assert statement is not None
    assert (statement.kind, statement.author_id, statement.body) == (
        "statement",
        people["member.emp1"].id,
        "<b>اظهارات</b> من",
    )
    assert statement.at is not None
