"""Issue #17 item 7 in Chromium: a hearing's media goes through server A; A is killed;
the room is made again on server B, the page hears of it (``media/moved``) and joins B
without leaving the hearing, and sound and picture flow again (bytesReceived grows).
Two Janus servers and coturn run inside the test's network namespace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hearing_server.config import Settings
from hearing_server.db import Database
from hearing_server.media import fleet, render
from hearing_server.media.service import MediaConfig, MediaService
from tests.conftest import (
    LiveServer,
    OtpSource,
    Person,
    eventually,
    free_port,
    make_settings,
)
from tests.media.conftest import MEDIA_SECRETS, MediaServers, _start, _stop, _wait_janus, need
from tests.media.netns import ICE_IP, NetNs
from tests.media.test_media_browser import (  # noqa: F401  (fixtures)
    app_url,
    chromium_in_ns,
    grows,
    live_server,
    media_browser,
    ns,
    open_room,
    party_admitted,
)
from tests.media.test_media_fleet import heyat
from tests.rooms.conftest import Room

pytestmark = pytest.mark.browser


def ns_settings(var_dir: Path, ns: NetNs, app: str, rtp: str, turn_port: int) -> Settings:  # noqa: F811
    port = free_port()
    return Settings(
        var_dir=var_dir,
        media_janus_url=f"http://{ns.ns_ip}:{port}/janus",
        media_janus_port=port,
        media_janus_interface=ICE_IP,
        media_rtp_ports=rtp,
        media_turn_port=turn_port,
        media_turn_relay_ip=ICE_IP,
        media_turn_urls=(f"turn:{ICE_IP}:{turn_port}?transport=udp",),
        media_allow_loopback=True,
        base_url=app,
        **MEDIA_SECRETS,
    )


class NsJanus:
    def __init__(self, settings: Settings, ns: NetNs) -> None:  # noqa: F811
        self.settings = settings
        self.url = settings.media_janus_url
        paths = render.render(settings)
        self.process = _start(
            ns.command(render.janus_command(settings, paths)), paths.logs / "j.out"
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process.poll() is None:
            _stop(self.process)


@pytest.fixture(scope="module")
def turn_and_b(
    tmp_path_factory: pytest.TempPathFactory,
    ns: NetNs,  # noqa: F811
    app_url: str,  # noqa: F811
) -> Iterator[NsJanus]:
    """coturn and server B, for the module."""
    need("janus")
    need("turnserver")
    settings = ns_settings(
        tmp_path_factory.mktemp("janus-b"), ns, app_url, "20500-20999", free_port()
    )
    paths = render.render(settings)
    turn = _start(ns.command(render.turn_command(paths)), paths.logs / "turn.out")
    janus = NsJanus(settings, ns)
    asyncio.run(_wait_janus(janus.url))
    yield janus
    janus.stop()
    _stop(turn)


@pytest.fixture
async def janus_a(
    tmp_path_factory: pytest.TempPathFactory,
    ns: NetNs,  # noqa: F811
    app_url: str,  # noqa: F811
    turn_and_b: NsJanus,
) -> AsyncIterator[NsJanus]:
    """Server A (``local``), one per test: the test kills it."""
    turn_port = turn_and_b.settings.media_turn_port
    settings = ns_settings(
        tmp_path_factory.mktemp("janus-a"), ns, app_url, "20000-20499", turn_port
    )
    janus = NsJanus(settings, ns)
    await _wait_janus(janus.url)
    yield janus
    janus.stop()


@pytest.fixture
def media_servers(janus_a: NsJanus) -> MediaServers:
    s = janus_a.settings
    return MediaServers(s.var_dir, janus_a.url, s.media_turn_port, s)


@pytest.fixture
def settings(db_url: str, tmp_path: Path, tmp_root: Path, janus_a: NsJanus) -> Settings:
    return make_settings(
        db_url,
        tmp_path,
        pki_dir=tmp_root / "pki",
        media_janus_url=janus_a.url,
        media_turn_urls=janus_a.settings.media_turn_urls,
        media_health_seconds=0.5,
        **MEDIA_SECRETS,
    )


@pytest.fixture(autouse=True)
async def no_room_left(turn_and_b: NsJanus, settings: Settings) -> AsyncIterator[None]:
    """Each test has its own server A; B is shared, so the rooms a test leaves on it are
    destroyed after it. The next test's database numbers its hearing and people the same,
    and B would still hold the room with the last test's publishers under the same feed
    ids (their sessions time out only after a minute): the new ones would be refused."""
    yield
    config = MediaConfig.from_settings(settings)
    assert config is not None
    service = MediaService(config)
    try:
        janus = service.client(fleet.Server(0, "b", turn_and_b.url, turn_and_b.url, "", True))
        listed = await janus.request({"request": "list", "admin_key": janus.admin_key})
        for entry in listed["list"]:
            await janus.destroy_room(entry["room"])
    finally:
        await service.close()


async def server_of(page: Any) -> Any:
    return await page.evaluate("window.heyatMedia.server()")


# One backend: the page's move; the fleet's table runs on both backends in
# tests/media/test_media_fleet.py.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_when_the_media_server_dies_the_page_moves_to_another_and_media_flows(
    media_browser: Any,  # noqa: F811
    live_server: LiveServer,  # noqa: F811
    room: Room,
    people: dict[str, Person],
    otp: OtpSource,
    join: Callable[..., Any],
    settings: Settings,
    janus_a: NsJanus,
    turn_and_b: NsJanus,
) -> None:
    added = heyat(settings, "media", "add", "b", turn_and_b.url)
    assert added.returncode == 0, added.stderr

    async def b_checked() -> bool:
        db = Database(settings.database_url)
        try:
            async with db.transaction(write=False) as session:
                loads = await fleet.list_servers(session)
        finally:
            await db.dispose()
        return any(load.server.name == "b" and load.last_checked for load in loads)

    # Once checked, the room page's CSP lets it reach B too.
    await eventually(b_checked)
    member = await open_room(
        media_browser, live_server, people["member.wrk1"], otp, room.hearing_id
    )
    worker = await open_room(media_browser, live_server, people["worker"], otp, room.hearing_id)
    secretary = await party_admitted(join, people, worker)
    await grows(member, "audioIn", "videoIn")
    assert await server_of(member) == "local"
    assert await server_of(worker) == "local"

    janus_a.kill()
    for page in (member, worker):
        await eventually(lambda page=page: page.evaluate("window.heyatMedia.moved() === 'b'"))
        await eventually(lambda page=page: page.evaluate("window.heyatMedia.server() === 'b'"))
    # Sound and picture again, both ways, through B; nobody left the hearing.
    await grows(member, "audioIn", "videoIn")
    await grows(worker, "audioIn", "videoIn")
    snapshot = (await secretary.call("sync", {}))["snapshot"]
    present = {p["user_id"] for p in snapshot["people"] if p["present"]}
    assert {people["member.wrk1"].id, people["worker"].id} <= present
