"""A real Janus (and coturn) for the media tests, from the configs Heyat renders.

The HTTP API works on 127.0.0.1 without a network namespace; only ICE needs one (the
browser tests, tests/media/netns.py). Janus and coturn are needed in CI
(HEYAT_REQUIRE_MEDIA=1, set by scripts/test.sh); elsewhere the tests skip without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hearing_server.config import Settings
from hearing_server.media import render
from hearing_server.media.janus import JanusClient
from hearing_server.media.service import MediaConfig, MediaService
from hearing_server.media.tokens import VIDEOROOM
from tests.conftest import (
    EVENTUALLY_SECONDS,
    eventually,
    free_port,
    make_settings,
    require_or_skip,
)
from tests.rooms.conftest import (  # noqa: F401  (fixtures)
    clients,
    join,
    room,
    signed,
)

MEDIA_SECRETS = {
    "media_api_secret": "test-api-secret",
    "media_admin_key": "test-admin-key",
    "media_token_secret": "test-token-secret",
    "media_turn_secret": "test-turn-secret",
}


def need(name: str) -> str:
    path = shutil.which(name)
    require_or_skip(path is not None, f"{name} is not installed", env="HEYAT_REQUIRE_MEDIA")
    assert path is not None
    return path


@dataclass
class MediaServers:
    var_dir: Path
    janus_url: str
    turn_port: int | None
    settings: Settings  # the media part of the settings (var_dir, secrets, URLs)


def _start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextlib.contextmanager
def running_media(
    settings: Settings, wrap: Callable[[list[str]], list[str]] = lambda argv: argv
) -> Iterator[None]:
    """Janus and coturn from the configs rendered for ``settings``, until the block ends
    (``wrap``: run them elsewhere, in a network namespace)."""
    paths = render.render(settings)
    janus = _start(wrap(render.janus_command(settings, paths)), paths.logs / "janus.out")
    turn = _start(wrap(render.turn_command(paths)), paths.logs / "turn.out")
    try:
        asyncio.run(_wait_janus(settings.media_janus_url))
        yield
    finally:
        _stop(janus)
        _stop(turn)


@pytest.fixture(scope="module")
def media_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServers]:
    """Janus and coturn on free ports, with Heyat's rendered configs."""
    need("janus")
    need("turnserver")
    var_dir = tmp_path_factory.mktemp("media")
    janus_port, turn_port = free_port(), free_port()
    janus_url = f"http://127.0.0.1:{janus_port}/janus"
    settings = Settings(
        var_dir=var_dir,
        media_janus_url=janus_url,
        media_janus_port=janus_port,
        media_turn_port=turn_port,
        media_turn_relay_ip="127.0.0.1",
        media_turn_urls=(f"turn:127.0.0.1:{turn_port}?transport=udp",),
        media_allow_loopback=True,
        base_url="http://127.0.0.1:5000",
        **MEDIA_SECRETS,
    )
    with running_media(settings):
        yield MediaServers(var_dir, janus_url, turn_port, settings)


async def _wait_janus(url: str) -> None:
    async def answers() -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                return (await http.get(url + "/info")).status_code == 200
        except httpx.HTTPError:
            return False

    await eventually(answers)


@pytest.fixture
def settings(db_url: str, tmp_path: Path, tmp_root: Path, media_servers: MediaServers) -> Settings:
    """The room tests' settings with the media server configured."""
    m = media_servers.settings
    return make_settings(
        db_url,
        tmp_path,
        pki_dir=tmp_root / "pki",
        media_janus_url=m.media_janus_url,
        media_turn_urls=m.media_turn_urls,
        **MEDIA_SECRETS,
    )


@pytest.fixture
async def media_service(media_servers: MediaServers) -> AsyncIterator[MediaService]:
    """A media part of the test's own, with the app's secrets: it signs what the app
    would, and looks at rooms with the API secret as the test needs."""
    config = MediaConfig.from_settings(media_servers.settings)
    assert config is not None
    service = MediaService(config)
    yield service
    await service.close()


@pytest.fixture
def control(media_service: MediaService) -> JanusClient:
    """A Janus client with the API secret, to look at rooms as the test sees them."""
    return media_service.janus


@pytest.fixture(autouse=True)
async def no_room_left(room: Any, control: JanusClient) -> AsyncIterator[None]:  # noqa: F811
    """Janus lives for the module and every test's hearing has the same id: its room
    goes with the test."""
    from hearing_server.media.service import room_id

    yield
    await control.destroy_room(room_id(room.hearing_id))


class JanusPeer:
    """What a browser does over the Janus HTTP API, without WebRTC: a session and a
    VideoRoom handle opened with the core token, then a publisher join with the room
    token. No API secret: only the tokens Heyat handed out."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.AsyncClient(timeout=10)
        self.session: int | None = None
        self.handle: int | None = None
        self.token = ""

    async def close(self) -> None:
        if self.session is not None:
            await self._post(f"/{self.session}", {"janus": "destroy"})
        await self.http.aclose()

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": "t", "token": self.token}
        response = await self.http.post(self.url + path, json=body)
        data: dict[str, Any] = response.json()
        return data

    async def open(self, core_token: str) -> dict[str, Any]:
        """Create a session and attach the VideoRoom; Janus's answer to the first refusal."""
        self.token = core_token
        created = await self._post("", {"janus": "create"})
        if created.get("janus") != "success":
            return created
        self.session = int(created["data"]["id"])
        attached = await self._post(f"/{self.session}", {"janus": "attach", "plugin": VIDEOROOM})
        if attached.get("janus") != "success":
            return attached
        self.handle = int(attached["data"]["id"])
        return attached

    async def join(self, name: str, room_token: str, feed_id: str) -> dict[str, Any]:
        """A publisher join; the plugin's answer (``joined`` or ``error_code``)."""
        assert self.session is not None and self.handle is not None
        sent = await self._post(
            f"/{self.session}/{self.handle}",
            {
                "janus": "message",
                "body": {
                    "request": "join",
                    "ptype": "publisher",
                    "room": name,
                    "id": feed_id,
                    "token": room_token,
                },
            },
        )
        if sent.get("janus") == "error":
            return {"error_code": sent["error"]["code"]}
        async with asyncio.timeout(EVENTUALLY_SECONDS):
            while True:
                token = urllib.parse.quote(self.token, safe="")
                response = await self.http.get(
                    f"{self.url}/{self.session}?maxev=5&token={token}", timeout=40
                )
                data = response.json()
                for event in data if isinstance(data, list) else [data]:
                    if event.get("sender") != self.handle:
                        continue
                    body: dict[str, Any] = event.get("plugindata", {}).get("data", {})
                    if "error_code" in body or body.get("videoroom") == "joined":
                        return body

    async def events(self) -> list[dict[str, Any]]:
        assert self.session is not None
        token = urllib.parse.quote(self.token, safe="")
        response = await self.http.get(
            f"{self.url}/{self.session}?maxev=5&token={token}", timeout=40
        )
        data = response.json()
        return data if isinstance(data, list) else [data]


@pytest.fixture
async def peers() -> AsyncIterator[Any]:
    made: list[JanusPeer] = []

    def make(url: str) -> JanusPeer:
        peer = JanusPeer(url)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        await peer.close()
