"""Issue #17 item 3 without a browser, against a real Janus: the hearing is recorded only
once everyone present has agreed, a refusal ends the request, someone who has not agreed
pauses it by asking for media, it stops by itself at deliberation; the stored recording is
readable by the board and the case's parties, not by another case's party (404), and its
hash is in the audit chain."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hearing_server.audit.models import AuditEvent
from hearing_server.audit.services import verify_chain
from hearing_server.cases.files import store_file_bytes
from hearing_server.config import Settings
from hearing_server.errors import NotFound
from hearing_server.media.janus import JanusClient
from hearing_server.media.recording import do_store_recording
from hearing_server.media.service import room_id
from hearing_server.rooms.documents import check_document, visible_documents
from tests.conftest import OtpSource, Person, api_login
from tests.factories import make_case, make_hearing, user_named
from tests.media.conftest import need
from tests.media.test_media_control import admitted_worker, of
from tests.rooms.conftest import Room


async def recording_on(control: JanusClient, hearing_id: int) -> bool:
    """What Janus says of the room's ``record`` flag (the admin key lists private rooms)."""
    listed = await control.request({"request": "list", "admin_key": control.admin_key})
    (entry,) = [r for r in listed["list"] if r["room"] == room_id(hearing_id)]
    return bool(entry["record"])


async def test_recording_starts_only_when_everyone_present_has_agreed(
    join: Callable[..., Any], room: Room, people: dict[str, Person], control: JanusClient
) -> None:
    secretary, worker = await admitted_worker(join, people)
    member = await join("member.wrk1")
    # Only the chair or the secretary asks.
    refused = await worker.call("recording.request", {})
    assert refused["error"]["code"] == "not_moderator"
    nobody_asked = await worker.call("recording.consent", {"agree": True})
    assert nobody_asked["error"]["code"] == "no_recording_request"

    asked = await secretary.call("recording.request", {})
    assert asked["state"] == "asking", asked
    assert asked["waiting"] == sorted([people["worker"].id, people["member.wrk1"].id])
    assert not await recording_on(control, room.hearing_id)

    one = await worker.call("recording.consent", {"agree": True})
    assert one["state"] == "asking"
    assert one["waiting"] == [people["member.wrk1"].id]
    assert not await recording_on(control, room.hearing_id)
    # The page's question: the worker has agreed, the member not yet.
    assert (await worker.call("recording.state", {}))["me_agreed"] is True
    assert (await member.call("recording.state", {}))["me_agreed"] is False
    # Asking again while asking starts nothing: the member has not agreed.
    assert (await secretary.call("recording.request", {}))["state"] == "asking"
    assert not await recording_on(control, room.hearing_id)

    everyone = await member.call("recording.consent", {"agree": True})
    assert everyone["state"] == "recording", everyone
    assert await recording_on(control, room.hearing_id)
    # Everyone present sees the start; the log names who agreed.
    started = await worker.wait_for(of("recording", "start"))
    assert set(started["payload"]["agreed"]) == {
        people["secretary"].id,
        people["worker"].id,
        people["member.wrk1"].id,
    }
    again = await secretary.call("recording.request", {})
    assert again["error"]["code"] == "recording_running"

    # Someone who agreed changes their mind: it stops.
    changed = await worker.call("recording.consent", {"agree": False})
    assert changed["state"] == "idle"
    assert not await recording_on(control, room.hearing_id)
    await secretary.wait_for(of("recording", "stop", reason="refused"))


async def test_a_refusal_ends_the_request_and_nothing_records(
    join: Callable[..., Any], room: Room, people: dict[str, Person], control: JanusClient
) -> None:
    secretary, worker = await admitted_worker(join, people)
    assert (await secretary.call("recording.request", {}))["state"] == "asking"
    declined = await worker.call("recording.consent", {"agree": False})
    assert declined["state"] == "idle"
    await secretary.wait_for(of("recording", "declined"))
    assert not await recording_on(control, room.hearing_id)
    late = await worker.call("recording.consent", {"agree": True})
    assert late["error"]["code"] == "no_recording_request"
    assert not await recording_on(control, room.hearing_id)
    # A new request asks everyone again: the earlier agreement does not carry over.
    fresh = await secretary.call("recording.request", {})
    assert fresh["waiting"] == [people["worker"].id]


async def test_someone_who_has_not_agreed_pauses_it_by_asking_for_media(
    join: Callable[..., Any], room: Room, people: dict[str, Person], control: JanusClient
) -> None:
    secretary = await join("secretary")
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]
    assert (await secretary.call("recording.request", {}))["state"] == "recording"
    assert await recording_on(control, room.hearing_id)
    worker = await join("worker")
    assert (await secretary.call("admit", {"user_id": people["worker"].id}))["ok"]
    await worker.wait_for(of("admitted", user_id=people["worker"].id))
    # The worker's credentials come back only once the recording is paused.
    grant = await worker.call("media.join", {})
    assert grant["available"] is True
    assert not await recording_on(control, room.hearing_id)
    paused = await secretary.wait_for(of("recording", "paused"))
    assert paused["payload"]["waiting"] == [people["worker"].id]
    assert (await worker.call("recording.state", {}))["state"] == "paused"
    resumed = await worker.call("recording.consent", {"agree": True})
    assert resumed["state"] == "recording"
    assert await recording_on(control, room.hearing_id)
    await secretary.wait_for(of("recording", "resumed"))
    # Someone who agreed asks for media again: nothing pauses.
    assert (await worker.call("media.join", {}))["available"] is True
    assert await recording_on(control, room.hearing_id)


async def test_recording_stops_by_itself_at_deliberation(
    join: Callable[..., Any], room: Room, people: dict[str, Person], control: JanusClient
) -> None:
    secretary, worker = await admitted_worker(join, people)
    assert (await secretary.call("recording.request", {}))["state"] == "asking"
    assert (await worker.call("recording.consent", {"agree": True}))["state"] == "recording"
    assert await recording_on(control, room.hearing_id)
    assert (await secretary.call("phase.set", {"phase": "deliberation"}))["ok"]
    # In the same step: off by the time the phase change is answered.
    assert not await recording_on(control, room.hearing_id)
    stopped = await secretary.wait_for(of("recording", "stop"))
    assert stopped["payload"]["reason"] == "phase:deliberation"
    assert (await secretary.call("recording.state", {}))["state"] == "idle"
    # The deliberation is never recorded: no request outside the hearing of the parties.
    refused = await secretary.call("recording.request", {})
    assert refused["error"]["code"] == "not_public_phase"
    # Nobody published media over these sockets: nothing to store, and the room says so.
    await secretary.wait_for(of("recording", "failed"))


def _test_video(tmp: Path, seconds: int) -> bytes:
    """A real WebM (VP8 + Opus) of ``seconds``, made by ffmpeg from its test sources."""
    out = tmp / "sample.webm"
    argv = [
        need("ffmpeg"), "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc=size=160x120:rate=10:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-c:v", "libvpx", "-c:a", "libopus", "-shortest", str(out),
    ]  # fmt: skip
    subprocess.run(argv, check=True)
    return out.read_bytes()


async def test_stored_recording_is_readable_by_the_board_and_the_cases_parties_only(
    db: Any,
    quart_app: Any,
    settings: Settings,
    people: dict[str, Person],
    otp: OtpSource,
    tmp_path: Path,
) -> None:
    data = await asyncio.to_thread(_test_video, tmp_path, 2)
    stored = await store_file_bytes(settings.files_dir, data)
    async with db.transaction() as session:
        case = await make_case(session, respondent=None)  # the worker's case alone
        hearing = await make_hearing(session, cases=[case])
        secretary = await user_named(session, "secretary")
        (document_id,) = await do_store_recording(
            session,
            settings,
            hearing.id,
            stored,
            mime_type="video/webm",
            extension=".webm",
            duration=2.0,
            streams=2,
            owner=secretary.id,
        )
        case_id = case.id
        # The room's viewer shows PDFs only: the recording is not in its file list, and
        # the room refuses it as a page to show.
        listed = await visible_documents(session, hearing, user_id=secretary.id, is_board=True)
        assert document_id not in {d["id"] for d in listed}
        with pytest.raises(NotFound):
            await check_document(
                session,
                user=secretary,
                hearing_id=hearing.id,
                document_id=document_id,
                is_board=True,
            )
    url = f"/api/v1/cases/{case_id}/documents/{document_id}/file"
    for username, status in (("member.wrk1", 200), ("worker", 200), ("employer", 404)):
        client = quart_app.test_client()
        await api_login(client, people[username], otp)
        response = await client.get(url)
        assert response.status_code == status, username
        if status == 200:
            assert response.content_type == "video/webm"
            assert ".webm" in response.headers["Content-Disposition"]
            body = await response.get_data()
            assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest()
    async with db.transaction(write=False) as session:
        stored = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "room.recording_stored")
        )
        assert stored is not None
        assert stored.payload["sha256"] == hashlib.sha256(data).hexdigest()
        assert stored.payload["documents"] == [document_id]
        assert (await verify_chain(session)).ok
