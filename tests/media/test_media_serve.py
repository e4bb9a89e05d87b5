"""Issue #17 item 5: `heyat serve` (what `make run` runs) starts Janus and coturn with
configs rendered from Heyat's settings into var/media/ — never the packages' stock configs
— supervises them, and stops them with the server; without Janus the server still starts
and the room says audio/video is unavailable."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest

from hearing_server.config import Settings
from hearing_server.media import render, supervisor
from tests.conftest import EVENTUALLY_SECONDS, eventually, free_port
from tests.media.conftest import need
from tests.serve import ServeProcess


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone for our purpose.
    return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_rendered_configs_hold_heyat_secrets_and_only_what_it_uses(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path).with_generated_secrets()
    settings = supervisor.supervised_settings(settings)
    paths = render.render(settings)
    janus = paths.janus_config.read_text()
    videoroom = (paths.janus_dir / "janus.plugin.videoroom.jcfg").read_text()
    http = (paths.janus_dir / "janus.transport.http.jcfg").read_text()
    turn = paths.turn_config.read_text()
    assert f'api_secret = "{settings.media_api_secret}"' in janus
    assert f'token_auth_secret = "{settings.media_token_secret}"' in janus
    assert "token_auth = true" in janus
    assert "janusoverlord" not in janus + videoroom  # the stock admin secret
    assert "libjanus_videoroom.so" not in janus  # the one plugin not disabled
    for other in ("libjanus_echotest.so", "libjanus_streaming.so", "libjanus_websockets.so"):
        assert other in janus
    assert "string_ids = true" in videoroom
    assert f'admin_key = "{settings.media_admin_key}"' in videoroom
    assert "room-1234" not in videoroom  # no demo rooms
    assert 'ip = "127.0.0.1"' in http and "admin_http = false" in http
    assert "use-auth-secret" in turn and f"static-auth-secret={settings.media_turn_secret}" in turn
    assert "allow-loopback-peers" not in turn
    for path in (paths.janus_config, paths.turn_config):
        assert path.stat().st_mode & 0o077 == 0  # the secrets are readable by us only
    # The secrets are kept under var/ and the same on the next start.
    again = Settings(var_dir=tmp_path).with_generated_secrets()
    assert again.media_api_secret == settings.media_api_secret


def test_without_janus_installed_serve_starts_no_media(tmp_path: Path, monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("PATH", str(tmp_path))  # no janus on it
    assert supervisor.start_media(Settings(var_dir=tmp_path)) is None
    assert not (tmp_path / "media").exists()


# One backend: the processes beside the server, not the database.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_serve_starts_janus_and_coturn_and_stops_them_with_itself(
    settings: Settings, tmp_path: Path
) -> None:
    need("janus")
    need("turnserver")

    def pid_of(name: str) -> int:
        return int((settings.var_dir / "media" / name).read_text())

    janus_port, turn_port = free_port(), free_port()
    server = ServeProcess(
        settings,
        tmp_path / "serve.log",
        HEYAT_MEDIA_DISABLED="0",
        HEYAT_MEDIA_JANUS_URL="",
        HEYAT_MEDIA_JANUS_PORT=str(janus_port),
        HEYAT_MEDIA_TURN_PORT=str(turn_port),
        HEYAT_MEDIA_API_SECRET="",
    )
    server.spawn()
    try:
        await server.healthy()
        async with httpx.AsyncClient(timeout=EVENTUALLY_SECONDS) as http:
            info = (await http.get(f"http://127.0.0.1:{janus_port}/janus/info")).json()
        assert info["plugins"].keys() == {"janus.plugin.videoroom"}
        assert info["transports"].keys() == {"janus.transport.http"}
        assert info["api_secret"] is True and info["auth_token"] is True
        pids = {"janus": pid_of("janus.pid"), "coturn": pid_of("turnserver.pid.heyat")}
        assert all(alive(pid) for pid in pids.values())
        # A crashed Janus is started again.
        os.kill(pids["janus"], signal.SIGKILL)

        async def restarted() -> bool:
            if pid_of("janus.pid") == pids["janus"]:
                return False
            try:
                async with httpx.AsyncClient(timeout=2) as http:
                    return (await http.get(f"http://127.0.0.1:{janus_port}/janus/info")).is_success
            except httpx.HTTPError:
                return False

        await eventually(restarted)
        pids["janus"] = pid_of("janus.pid")
    finally:
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(server.proc.wait, 60)

    async def gone() -> bool:
        return not any(alive(pid) for pid in pids.values())

    await eventually(gone)
