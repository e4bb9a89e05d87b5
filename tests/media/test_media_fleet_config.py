"""Deploying media servers beyond one machine (docs/media.md): a Janus behind 1:1 NAT
announces its public address (``nat_1_1_mapping``), and coturn relays with it too."""

from __future__ import annotations

from pathlib import Path

from hearing_server.config import Settings
from hearing_server.media import render


def test_a_public_ip_is_announced_by_janus_and_coturn(tmp_path: Path) -> None:
    plain = render.render(Settings(var_dir=tmp_path / "plain"))
    assert "nat_1_1_mapping" not in plain.janus_config.read_text()
    assert "external-ip" not in plain.turn_config.read_text()

    paths = render.render(Settings(var_dir=tmp_path / "nat", media_public_ip="203.0.113.7"))
    assert 'nat_1_1_mapping = "203.0.113.7"' in paths.janus_config.read_text()
    assert "external-ip=203.0.113.7\n" in paths.turn_config.read_text()


def test_the_health_check_interval_is_read_from_the_environment() -> None:
    settings = Settings.from_env({"HEYAT_MEDIA_HEALTH_SECONDS": "2.5"})
    assert settings.media_health_seconds == 2.5
