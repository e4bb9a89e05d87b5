"""Issue #17 item 2, "who is speaking": Janus's VideoRoom measures each publisher's audio
level (the RTP audio-level extension; rooms made with ``audiolevel_event``) and tells the
room's participants ``talking`` / ``stopped-talking``; the room page marks that person in
its people list (a visible mark read with their name) and says it in a polite live region.
Chromium's own fake microphone beeps for 20 ms every 500 ms: too little for a room that
averages the level over a second of packets, so the speaker's Chromium plays a file
instead (``--use-file-for-fake-audio-capture``): a tone swelling and fading like speech,
looped."""

from __future__ import annotations

import math
import struct
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CHROMIUM_ARGS, LiveServer, OtpSource, Person, wait_until
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
from tests.rooms.conftest import Room

pytestmark = pytest.mark.browser


def speech_like(path: Path, seconds: float = 4.0, rate: int = 48000) -> Path:
    """A 16-bit mono WAV: a 220 Hz tone whose loudness swells and fades four times a second
    (never silent), as a voice does."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        t = n / rate
        envelope = 0.55 + 0.35 * math.sin(2 * math.pi * 4 * t)
        frames += struct.pack("<h", int(32000 * envelope * math.sin(2 * math.pi * 220 * t)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


@pytest.fixture
async def speaking_browser(
    chromium_in_ns: str,  # noqa: F811
    live_server: LiveServer,  # noqa: F811
    tmp_path: Path,
) -> AsyncIterator[Any]:
    """A Chromium whose fake microphone plays :func:`speech_like`."""
    from playwright.async_api import async_playwright

    voice = speech_like(tmp_path / "voice.wav")
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={voice}",
        "--allow-loopback-in-peer-connection",
        "--autoplay-policy=no-user-gesture-required",
        f"--unsafely-treat-insecure-origin-as-secure={live_server.url}",
    ]
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_in_ns, args=args)
        yield launched
        await launched.close()


# One backend: Janus's audio levels on the page, not the database.
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_the_speaking_party_is_marked_on_the_members_page(
    media_browser: Any,  # noqa: F811
    speaking_browser: Any,
    live_server: LiveServer,  # noqa: F811
    room: Room,
    people: dict[str, Person],
    otp: OtpSource,
    join: Callable[..., Any],
) -> None:
    member = await open_room(
        media_browser, live_server, people["member.wrk1"], otp, room.hearing_id
    )
    worker = await open_room(speaking_browser, live_server, people["worker"], otp, room.hearing_id)
    await party_admitted(join, people, worker)
    await grows(member, "audioIn")
    worker_id = people["worker"].id
    item = f"#people li[data-user='{worker_id}']"
    # The worker's entry in the member's people list carries the mark, with its text.
    await wait_until(
        member,
        f'(() => {{ const li = document.querySelector("{item}");'
        " return !!li && li.classList.contains('speaking')"
        " && !!li.querySelector('.speaking-mark')"
        " && li.querySelector('.speaking-mark').textContent.trim().length > 2; })()",
    )
    # The live region names them.
    name = await member.evaluate(f'document.querySelector("{item} .who").textContent')
    await wait_until(
        member,
        f"document.getElementById('media-speaking').textContent.includes({name!r})",
    )
    live = await member.evaluate(
        "document.getElementById('media-speaking').getAttribute('aria-live')"
    )
    assert live == "polite"
    assert worker_id in await member.evaluate("window.heyatMedia.speaking()")
