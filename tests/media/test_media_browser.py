"""Issue #17, the media itself: Chromium with fake devices against real Janus and coturn
inside a network namespace the test makes (root; CI runs as root). A member and a party
hear and see each other (inbound-rtp bytesReceived grows in getStats()); the chair's
server-side mute stops the party's audio while their video goes on; the move to
deliberation stops the party's inbound media and their rejoin is refused; a relay-only
run (iceTransportPolicy "relay") flows through coturn."""

from __future__ import annotations

import dataclasses
import stat
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from hearing_server.config import Settings
from tests.conftest import (
    CHROMIUM_ARGS,
    LiveServer,
    OtpSource,
    Person,
    browser_login,
    eventually,
    free_port,
    require_or_skip,
    serving,
    wait_until,
)
from tests.media.conftest import MEDIA_SECRETS, MediaServers, need, running_media
from tests.media.netns import ICE_IP, NetNs, is_root, netns
from tests.rooms.conftest import Room, RoomClient

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def ns() -> Iterator[NetNs]:
    require_or_skip(is_root(), "network namespaces need root", env="HEYAT_REQUIRE_MEDIA")
    with netns() as made:
        yield made


@pytest.fixture(scope="module")
def app_url(ns: NetNs) -> str:
    """Where the app serves, on the host's end of the veth (Janus's CORS origin)."""
    return f"http://{ns.host_ip}:{free_port()}"


@pytest.fixture(scope="module")
def media_servers(
    tmp_path_factory: pytest.TempPathFactory, ns: NetNs, app_url: str
) -> Iterator[MediaServers]:
    """Janus (ICE on 127.0.1.1, its API on the namespace's address) and coturn (relaying
    on 127.0.1.1) inside the namespace."""
    need("janus")
    need("turnserver")
    var_dir = tmp_path_factory.mktemp("media-ns")
    janus_port, turn_port = free_port(), free_port()
    janus_url = f"http://{ns.ns_ip}:{janus_port}/janus"
    settings = Settings(
        var_dir=var_dir,
        media_janus_url=janus_url,
        media_janus_port=janus_port,
        media_janus_interface=ICE_IP,
        media_turn_port=turn_port,
        media_turn_relay_ip=ICE_IP,
        media_turn_urls=(f"turn:{ICE_IP}:{turn_port}?transport=udp",),
        media_allow_loopback=True,
        base_url=app_url,  # Janus's CORS origin
        **MEDIA_SECRETS,
    )
    with running_media(settings, ns.command):
        yield MediaServers(var_dir, janus_url, turn_port, settings)


@pytest.fixture
async def live_server(settings: Settings, ns: NetNs, app_url: str) -> AsyncIterator[LiveServer]:
    """The app on the host's end of the veth, where the namespace's Chromium reaches it."""
    from hearing_server.app import create_app

    url = app_url
    port = int(url.rsplit(":", 1)[1])
    live_settings = dataclasses.replace(settings, base_url=url)
    app = create_app(live_settings)
    async with serving(app, port, host=ns.host_ip):
        yield LiveServer(url, app, live_settings)
    await app.runtime.db.dispose()


@pytest.fixture(scope="module")
def chromium_in_ns(ns: NetNs, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A wrapper Playwright launches: Debian's Chromium inside the namespace."""
    path = need("chromium")
    wrapper = tmp_path_factory.mktemp("chromium") / "chromium-in-ns"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {ns.name} {path} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return str(wrapper)


@pytest.fixture
async def media_browser(chromium_in_ns: str, live_server: LiveServer) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        "--allow-loopback-in-peer-connection",
        "--autoplay-policy=no-user-gesture-required",
        # The server is on the veth's address, not localhost: let it use the camera.
        f"--unsafely-treat-insecure-origin-as-secure={live_server.url}",
    ]
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_in_ns, args=args)
        yield launched
        await launched.close()


async def open_room(
    browser: Any, live: LiveServer, person: Person, otp: OtpSource, hearing_id: int, query: str = ""
) -> Any:
    context = await browser.new_context(viewport={"width": 1000, "height": 800})
    page = await context.new_page()
    await browser_login(page, live.url, person, otp)
    await page.goto(f"{live.url}/hearings/{hearing_id}/room{query}")
    return page


async def stats(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("window.heyatMedia.stats()")
    return result


async def grows(page: Any, *kinds: str, by: int = 2000) -> dict[str, Any]:
    """Wait until each of ``kinds`` (audioIn, videoIn…) has grown by ``by`` bytes."""
    first = await stats(page)

    async def grown() -> dict[str, Any] | None:
        now = await stats(page)
        return now if all(now[k] >= first[k] + by for k in kinds) else None

    return await eventually(grown)


async def stalls(page: Any, kind: str, *, while_growing: str | None = None) -> None:
    """Wait until ``kind`` stops growing: two samples in a row with nothing new, while
    ``while_growing`` (if given) did grow in between."""
    last = await stats(page)

    async def stalled() -> bool:
        nonlocal last
        now = await stats(page)
        if while_growing and now[while_growing] < last[while_growing] + 2000:
            return False  # too short a window to say anything: keep it and look again
        quiet = now[kind] == last[kind]
        last = now
        return quiet

    await eventually(stalled)


async def party_admitted(
    join: Callable[..., Any], people: dict[str, Person], worker_page: Any
) -> RoomClient:
    secretary: RoomClient = await join("secretary")
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]

    async def waiting() -> bool:
        state = (await secretary.call("sync", {}))["snapshot"]
        return any(p["user_id"] == people["worker"].id and p["present"] for p in state["people"])

    await eventually(waiting)
    assert (await secretary.call("admit", {"user_id": people["worker"].id}))["ok"]
    return secretary


# One backend: the media path; the room's rules run on both backends in tests/rooms.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_member_and_party_see_and_hear_each_other_mute_and_deliberation_cut(
    media_browser: Any,
    live_server: LiveServer,
    room: Room,
    people: dict[str, Person],
    otp: OtpSource,
    join: Callable[..., Any],
) -> None:
    member = await open_room(
        media_browser, live_server, people["member.wrk1"], otp, room.hearing_id
    )
    worker = await open_room(media_browser, live_server, people["worker"], otp, room.hearing_id)
    secretary = await party_admitted(join, people, worker)
    # Both directions carry sound and picture.
    await grows(member, "audioIn", "videoIn")
    await grows(worker, "audioIn", "videoIn")

    # The chair mutes the party on the server: the member stops getting their audio, and
    # still gets their video.
    muted = await secretary.call("media.mute", {"user_id": people["worker"].id, "mute": True})
    assert muted["ok"], muted
    await stalls(member, "audioIn", while_growing="videoIn")
    await grows(member, "videoIn")
    assert (await secretary.call("media.mute", {"user_id": people["worker"].id, "mute": False}))[
        "ok"
    ]
    await grows(member, "audioIn")

    # Deliberation: the party's inbound media stops, and they cannot come back. How soon
    # is printed (an upper bound: the stall is seen at the next quiet sample), not asserted.
    started = time.perf_counter()
    assert (await secretary.call("phase.set", {"phase": "deliberation"}))["ok"]
    await stalls(worker, "audioIn")
    await stalls(worker, "videoIn")
    print(f"the party's inbound media stopped within {time.perf_counter() - started:.3f} s")
    await eventually(lambda: worker.evaluate("window.heyatMedia.state() !== 'ok'"))
    # The board goes on hearing and seeing itself? Only one member here: the member's
    # inbound from the party stops too (the party was kicked).
    await stalls(member, "videoIn")


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # the media path, not the database
async def test_relay_only_flows_through_coturn(
    media_browser: Any,
    live_server: LiveServer,
    room: Room,
    people: dict[str, Person],
    otp: OtpSource,
    join: Callable[..., Any],
    media_servers: MediaServers,
) -> None:
    member = await open_room(
        media_browser, live_server, people["member.wrk1"], otp, room.hearing_id, "?relay=1"
    )
    worker = await open_room(
        media_browser, live_server, people["worker"], otp, room.hearing_id, "?relay=1"
    )
    await party_admitted(join, people, worker)
    for page in (member, worker):
        now = await grows(page, "audioIn", "videoIn")
        assert now["relay"] is True  # the selected candidate pair is a TURN relay


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the media path, not the database
async def test_self_check_page_finds_camera_microphone_and_a_turn_relay(
    media_browser: Any,
    live_server: LiveServer,
    room: Room,
    people: dict[str, Person],
    otp: OtpSource,
) -> None:
    context = await media_browser.new_context()
    page = await context.new_page()
    await browser_login(page, live_server.url, people["worker"], otp)
    response = await page.goto(f"{live_server.url}/hearings/{room.hearing_id}/media-check")
    assert response is not None and response.status == 200
    assert "camera=(self)" in response.headers["permissions-policy"]
    for check in ("check-camera", "check-mic", "check-turn"):
        await wait_until(page, f"document.getElementById('{check}').dataset.ok === '1'")
