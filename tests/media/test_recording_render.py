"""Recordings go under Heyat's var/ even when that is under /var (a packaged install's
/var/lib/heyat): Janus's recorder refuses to write in one of its protected folders ("Target
recording path … is in protected folder", janus_recorder_create) and its default list
holds /var, so the rendered janus.jcfg leaves out the folders that hold Heyat's recordings
— and only those. Janus starts with that list and takes a room whose rec_dir is under
/var/tmp (the refusal itself shows only once media flows: the browser test records under
the test's own tmp folder)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hearing_server.config import Settings
from hearing_server.media import render
from hearing_server.media.service import MediaConfig, MediaService
from tests.conftest import free_port
from tests.media.conftest import MEDIA_SECRETS, need, running_media


@pytest.fixture
def var_under_var() -> Iterator[Path]:
    made = Path(tempfile.mkdtemp(prefix="heyat-rec-", dir="/var/tmp"))
    yield made
    shutil.rmtree(made, ignore_errors=True)


def test_janus_takes_a_recording_folder_under_var(var_under_var: Path) -> None:
    need("janus")
    need("turnserver")
    port = free_port()
    settings = Settings(
        var_dir=var_under_var,
        media_janus_url=f"http://127.0.0.1:{port}/janus",
        media_janus_port=port,
        media_turn_port=free_port(),
        media_turn_relay_ip="127.0.0.1",
        base_url="http://127.0.0.1:5000",
        **MEDIA_SECRETS,
    )
    folders = render.protected_folders(render.media_paths(settings))
    assert "/var" not in folders
    assert {"/etc", "/usr", "/proc"} <= set(folders)

    async def record() -> None:
        config = MediaConfig.from_settings(settings)
        assert config is not None
        assert config.rec_dir.startswith(str(var_under_var))
        service = MediaService(config)
        try:
            await service.ensure_room(1)  # the room's rec_dir under /var/tmp/…
            await service.janus.enable_recording("hearing-1", True)
            await service.janus.enable_recording("hearing-1", False)
            await service.janus.destroy_room("hearing-1")
        finally:
            await service.close()

    with running_media(settings):
        asyncio.run(record())
