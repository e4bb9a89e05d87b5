"""Issue #17 item 7, the control path without a browser, against two real Janus servers:
a hearing's room is pinned to the least loaded healthy server (``heyat media add`` adds
one); when the server holding it dies, the health checks mark it down, the room is made
again on the other with the same ``allowed`` list (a token handed out before still
joins there), and every client in the room is told (``media/moved``) — and media.join
then answers the new server's URL."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hearing_server.config import Settings
from hearing_server.db import Database
from hearing_server.media import fleet, render
from hearing_server.media.janus import JanusClient, JanusError, JanusUnavailable
from hearing_server.media.service import MediaService, room_id
from tests.conftest import PROJECT, Person, eventually, free_port, make_settings
from tests.media.conftest import (
    MEDIA_SECRETS,
    JanusPeer,
    MediaServers,
    _start,
    _stop,
    _wait_janus,
    need,
)
from tests.media.test_media_control import admitted_worker, of, publish
from tests.rooms.conftest import Room

HEYAT = str(PROJECT / ".venv" / "bin" / "heyat")


def janus_settings(var_dir: Path, rtp: str) -> Settings:
    port = free_port()
    return Settings(
        var_dir=var_dir,
        media_janus_url=f"http://127.0.0.1:{port}/janus",
        media_janus_port=port,
        media_rtp_ports=rtp,
        base_url="http://127.0.0.1:5000",
        **MEDIA_SECRETS,
    )


class Janus:
    """One Janus from Heyat's rendered configs, that a test may kill."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.media_janus_url
        paths = render.render(settings)
        self.process = _start(render.janus_command(settings, paths), paths.logs / "janus.out")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process.poll() is None:
            _stop(self.process)


@pytest.fixture
async def janus_a(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Janus]:
    """The configured (``local``) server: its own for each test, which may kill it."""
    need("janus")
    janus = Janus(janus_settings(tmp_path_factory.mktemp("janus-a"), "21000-21499"))
    await _wait_janus(janus.url)
    yield janus
    janus.stop()


@pytest.fixture(scope="module")
def janus_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Janus]:
    """A second server, added with ``heyat media add``."""
    need("janus")
    import asyncio

    janus = Janus(janus_settings(tmp_path_factory.mktemp("janus-b"), "21500-21999"))
    asyncio.run(_wait_janus(janus.url))
    yield janus
    janus.stop()


@pytest.fixture
def media_servers(janus_a: Janus) -> MediaServers:
    return MediaServers(janus_a.settings.var_dir, janus_a.url, None, janus_a.settings)


@pytest.fixture
def settings(db_url: str, tmp_path: Path, tmp_root: Path, janus_a: Janus) -> Settings:
    return make_settings(
        db_url,
        tmp_path,
        pki_dir=tmp_root / "pki",
        media_janus_url=janus_a.url,
        media_health_seconds=0.3,
        **MEDIA_SECRETS,
    )


@pytest.fixture
async def on_b(janus_b: Janus, media_service: MediaService) -> JanusClient:
    """A client of server B with the API secret, to look at its rooms."""
    # Through the service's public door: a server row naming B with the installation's secret.
    return media_service.client(fleet.Server(0, "b", janus_b.url, janus_b.url, "", True))


@pytest.fixture(autouse=True)
async def no_room_left(room: Room, control: JanusClient, on_b: JanusClient) -> AsyncIterator[None]:
    """Server B lives for the module: every test's rooms go with the test."""
    yield
    for janus in (control, on_b):
        with contextlib.suppress(JanusError, JanusUnavailable):  # server A was killed
            await janus.destroy_room(room_id(room.hearing_id))


@pytest.fixture
async def peers() -> AsyncIterator[Any]:
    """Browser-like Janus clients; those of a killed server are closed without a word."""
    import httpx

    made: list[JanusPeer] = []

    def make(url: str) -> JanusPeer:
        peer = JanusPeer(url)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        try:
            await peer.close()
        except httpx.HTTPError:
            await peer.http.aclose()


def heyat(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HEYAT_DATABASE_URL": settings.database_url,
        "HEYAT_VAR_DIR": str(settings.var_dir),
    }
    return subprocess.run(
        [HEYAT, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


async def add_b(settings: Settings, janus_b: Janus) -> None:
    added = heyat(settings, "media", "add", "b", janus_b.url)
    assert added.returncode == 0, added.stderr


async def other_hearing(settings: Settings, room: Room) -> int:
    from sqlalchemy import select

    from hearing_server.scheduling.models import Hearing

    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            found = await session.scalar(
                select(Hearing.id).where(Hearing.id != room.hearing_id).limit(1)
            )
            assert found is not None
            return int(found)
    finally:
        await db.dispose()


async def test_a_room_goes_to_the_least_loaded_healthy_server(
    join: Callable[..., Any],
    room: Room,
    people: dict[str, Person],
    settings: Settings,
    janus_b: Janus,
    control: JanusClient,
    on_b: JanusClient,
    peers: Callable[[str], JanusPeer],
) -> None:
    refused = heyat(settings, "media", "add", "b", "ftp://nowhere")
    assert refused.returncode != 0
    assert "http://" in refused.stderr
    await add_b(settings, janus_b)
    # The local server already holds another hearing's room.
    other = await other_hearing(settings, room)
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            local = await fleet.do_register_local(session, control.url, control.url)
            await fleet.do_pin(session, other, local.id)
    finally:
        await db.dispose()

    _secretary, worker = await admitted_worker(join, people)
    name = room_id(room.hearing_id)
    assert await on_b.exists(name)
    assert not await control.exists(name)
    grant = await worker.call("media.join", {})
    assert grant["server"] == "b"
    assert grant["janus_url"] == janus_b.url
    joined = await publish(peers, grant)
    assert joined["videoroom"] == "joined", joined

    listed = heyat(settings, "media", "list")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split("\t")[0]: line for line in listed.stdout.splitlines()}
    assert "rooms=1" in lines["b"] and "healthy" in lines["b"]
    assert "rooms=1" in lines["local"]
    in_use = heyat(settings, "media", "remove", "b")
    assert in_use.returncode != 0
    assert "open rooms" in in_use.stderr


async def test_when_the_server_dies_the_room_moves_and_the_clients_are_told(
    join: Callable[..., Any],
    room: Room,
    people: dict[str, Person],
    settings: Settings,
    janus_a: Janus,
    janus_b: Janus,
    control: JanusClient,
    on_b: JanusClient,
    peers: Callable[[str], JanusPeer],
    media_service: MediaService,
) -> None:
    await add_b(settings, janus_b)
    secretary, worker = await admitted_worker(join, people)
    name = room_id(room.hearing_id)
    # Both servers are empty: the room goes to the oldest, the local one.
    assert await control.exists(name)
    before = await worker.call("media.join", {})
    assert before["server"] == "local"
    assert (await publish(peers, before))["videoroom"] == "joined"

    janus_a.kill()
    for client in (worker, secretary):
        moved = await client.wait_for(of("media", "moved"))
        assert moved["payload"] == {"server": "b"}
    assert await on_b.exists(name)
    # The same allowed list: the token handed out before the move still joins, there.
    again = await publish(peers, {**before, "janus_url": janus_b.url})
    assert again["videoroom"] == "joined", again
    # A token of someone the room never admitted does not.
    stranger = media_service.credentials(room.hearing_id, people["employer"].id, time.time())
    refused = await publish(peers, {**stranger, "janus_url": janus_b.url})
    assert refused["error_code"] == 433
    after = await worker.call("media.join", {})
    assert after["server"] == "b" and after["janus_url"] == janus_b.url

    async def down() -> bool:
        listed = heyat(settings, "media", "list")
        return any(
            line.startswith("local\t") and "\tdown\t" in line and "rooms=0" in line
            for line in listed.stdout.splitlines()
        )

    await eventually(down)
