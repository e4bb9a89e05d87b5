"""Issue #17 item 3 in Chromium against real Janus and coturn (in the network namespace of
tests/media/test_media_browser.py): both people in the room see the request, agree with
the page's button, see the recording notice while it records; the move to deliberation
stops it, and a few seconds of recording become one file (janus-pp-rec, ffmpeg) whose
duration ffprobe reads, stored as the case's document with its SHA-256 in the audit
chain."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from hearing_server.audit.models import AuditEvent
from hearing_server.audit.services import verify_chain
from hearing_server.cases.files import file_path
from hearing_server.cases.models import Document, StoredFile
from tests.conftest import LiveServer, OtpSource, Person, wait_until
from tests.media.conftest import need
from tests.media.test_media_browser import (  # noqa: F401  (fixtures)
    app_url,
    chromium_in_ns,
    grows,
    live_server,
    media_browser,
    media_servers,
    ns,
    open_room,
    party_admitted,
)
from tests.media.test_media_control import of
from tests.rooms.conftest import Room

pytestmark = pytest.mark.browser


def _probe(path: str) -> dict[str, Any]:
    argv = [
        need("ffprobe"), "-v", "error", "-show_entries",
        "format=duration:stream=codec_type,codec_name", "-of", "json", path,
    ]  # fmt: skip
    out = subprocess.run(
        argv,
        check=True,
        capture_output=True,
    ).stdout
    probed: dict[str, Any] = json.loads(out)
    return probed


# One backend: the recording path; consent and storage run on both backends in
# tests/media/test_recording_control.py.
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_consented_recording_becomes_one_file_whose_hash_is_audited(
    media_browser: Any,  # noqa: F811
    live_server: LiveServer,  # noqa: F811
    room: Room,
    people: dict[str, Person],
    otp: OtpSource,
    join: Callable[..., Any],
    db: Any,
) -> None:
    member = await open_room(
        media_browser, live_server, people["member.wrk1"], otp, room.hearing_id
    )
    worker = await open_room(media_browser, live_server, people["worker"], otp, room.hearing_id)
    secretary = await party_admitted(join, people, worker)
    await grows(member, "audioIn", "videoIn")
    await grows(worker, "audioIn", "videoIn")

    asked = await secretary.call("recording.request", {})
    assert asked["state"] == "asking", asked
    # Each page asks its person; nothing records until the last one agrees.
    for page in (member, worker):
        await wait_until(page, "window.heyatRecording.state() === 'asking'")
        assert await page.is_visible("#recording-agree")
    await member.click("#recording-agree")
    await wait_until(member, "document.getElementById('recording-ask').hidden")
    assert await worker.evaluate("window.heyatRecording.state()") == "asking"
    clicked = time.monotonic()  # Janus cannot start recording before the last consent
    await worker.click("#recording-agree")
    for page in (member, worker):
        await wait_until(page, "window.heyatRecording.state() === 'recording'")
        assert await page.is_visible("#recording-notice")
    seen = time.monotonic()  # it records by now (the pages show what the server did)
    # A few seconds of sound and picture go through the room while it records.
    await grows(member, "audioIn", "videoIn", by=15000)
    assert (await secretary.call("phase.set", {"phase": "deliberation"}))["ok"]
    stopped = time.monotonic()  # stopped by the time the phase change is answered
    await wait_until(member, "window.heyatRecording.state() === 'idle'")

    stored = await secretary.wait_for(of("recording", "stored"))
    (document_id,) = stored["payload"]["documents"]
    digest = stored["payload"]["sha256"]
    async with db.transaction(write=False) as session:
        document = await session.get(Document, document_id)
        assert document is not None and document.case_id == room.case_id
        assert document.kind == "recording"
        kept = await session.get(StoredFile, digest)
        assert kept is not None and kept.mime_type in ("video/webm", "video/x-matroska")
        audited = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "room.recording_stored")
        )
        assert audited is not None and audited.payload["sha256"] == digest
        assert (await verify_chain(session)).ok
    path = file_path(live_server.settings.files_dir, digest)
    data = await asyncio.to_thread(path.read_bytes)
    assert hashlib.sha256(data).hexdigest() == digest
    probed = await asyncio.to_thread(_probe, str(path))
    duration = float(probed["format"]["duration"])
    at_least, at_most = stopped - seen, stopped - clicked
    print(
        f"recording: {duration:.2f} s in the file; "
        f"recorded between {at_least:.2f} s and {at_most:.2f} s"
    )
    # The file lasts as long as it recorded (a few seconds), give or take the first
    # packets (a second of slack each side).
    assert duration >= 1.5, probed
    assert at_least - 1.0 <= duration <= at_most + 1.0, (duration, at_least, at_most)
    kinds = {stream["codec_type"] for stream in probed["streams"]}
    assert kinds == {"audio", "video"}, probed
    assert len(probed["streams"]) >= 4  # the member's and the worker's sound and picture
