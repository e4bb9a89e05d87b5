"""Settings: every field from its HEYAT_* variable, secrets kept out of logs, key files
made once for processes starting together; per-app registries on the Runtime."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from hearing_server.config import HIDDEN, Settings, env_var, is_secret, read_or_create_key

# ------------------------------------------------------------------ from the environment


def _sample(name: str, hint: Any) -> tuple[str, Any]:
    """A text for the variable of field ``name`` of type ``hint`` and the value it must give."""
    if name == "sqlite_synchronous":  # checked: FULL, EXTRA or NORMAL
        return "normal", "normal"
    if hint in (str, str | None):
        return f"value-of-{name}", f"value-of-{name}"
    if hint is int:
        return "4242", 4242
    if hint in (float, float | None):
        return "2.5", 2.5
    if hint is bool:
        return "true", True
    if hint is Path:
        return f"/srv/heyat/{name}", Path(f"/srv/heyat/{name}")
    if name == "trusted_proxies":  # checked: addresses or networks only
        return "10.0.0.1, 172.16.0.0/12", ("10.0.0.1", "172.16.0.0/12")
    if hint == tuple[str, ...]:
        return f"{name}-new, {name}-old", (f"{name}-new", f"{name}-old")
    raise AssertionError(f"add a sample for {name}: {hint!r}")


def test_every_field_is_read_from_its_environment_variable() -> None:
    hints = typing.get_type_hints(Settings)
    samples = {f.name: _sample(f.name, hints[f.name]) for f in fields(Settings)}
    assert len(samples) > 20

    settings = Settings.from_env({env_var(name): text for name, (text, _) in samples.items()})

    for name, (_, expected) in samples.items():
        assert getattr(settings, name) == expected, env_var(name)
        assert getattr(settings, name) != getattr(Settings(), name), f"{name} kept its default"


def test_unset_variables_give_the_defaults_under_var_dir() -> None:
    settings = Settings.from_env({"HEYAT_VAR_DIR": "/srv/heyat", "HEYAT_SMTP_PORT": ""})

    assert settings.database_url == "sqlite+aiosqlite:////srv/heyat/heyat.db"
    assert settings.files_dir == Path("/srv/heyat/files")
    assert settings.pki_dir == Path("/srv/heyat/pki")
    assert settings.smtp_port == Settings().smtp_port
    assert settings.redis_url is None and settings.totp_keys == ()


def test_a_value_that_does_not_parse_names_its_variable() -> None:
    with pytest.raises(ValueError, match="HEYAT_SMTP_PORT"):
        Settings.from_env({"HEYAT_SMTP_PORT": "twenty-five"})
    with pytest.raises(ValueError, match="HEYAT_TESTING"):
        Settings.from_env({"HEYAT_TESTING": "perhaps"})


def test_the_base_url_loses_its_trailing_slash_and_overrides_win() -> None:
    settings = Settings.from_env({"HEYAT_BASE_URL": "https://heyat.example/"}, testing=True)

    assert settings.base_url == "https://heyat.example"
    assert settings.secure_cookies and settings.testing


def test_typed_fields_replace_the_loose_extra_dict() -> None:
    settings = Settings.from_env(
        {"HEYAT_REMINDER_TICK_SECONDS": "0.3", "HEYAT_SMS_PROVIDER": "kavenegar"}
    )

    assert settings.reminder_tick_seconds == 0.3
    assert settings.sms_provider == "kavenegar"
    assert Settings().reminder_tick_seconds is None
    assert not hasattr(settings, "extra")


# ------------------------------------------------------------------ secrets out of logs


def test_secrets_and_url_passwords_are_hidden_from_repr_str_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_fields = [f.name for f in fields(Settings) if is_secret(f.name)]
    assert set(secret_fields) >= {"secret_key", "totp_keys"}
    settings = Settings.from_env(
        {
            "HEYAT_SECRET_KEY": "s3cret-signing-key",
            "HEYAT_TOTP_KEYS": "fernet-key-one,fernet-key-two",
            "HEYAT_DATABASE_URL": "postgresql+asyncpg://heyat:db-pa55@db.internal/heyat",
            "HEYAT_REDIS_URL": "redis://:redis-pa55@cache:6379/0",
            "HEYAT_TSA_URL": "https://tsa.example/stamp?api_key=tsa-api-key&hash=sha256",
        }
    )

    with caplog.at_level(logging.INFO):
        logging.getLogger("heyat.test").info("starting with %s", settings)
    for shown in (repr(settings), str(settings), caplog.text):
        for secret in (
            "s3cret-signing-key",
            "fernet-key-one",
            "fernet-key-two",
            "db-pa55",
            "redis-pa55",
            "tsa-api-key",
        ):
            assert secret not in shown
        assert f"secret_key={HIDDEN!r}" in shown
        assert "postgresql+asyncpg://heyat:***@db.internal/heyat" in shown
        assert "redis://:***@cache:6379/0" in shown
        assert "hash=sha256" in shown  # only the secret parts go


# ------------------------------------------------------------------ key files


def _make_key_in(directory: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    settings = Settings(var_dir=Path(directory)).with_generated_secrets()
    results.put((settings.secret_key, settings.totp_keys))


def test_processes_starting_together_end_with_the_same_complete_keys(tmp_path: Path) -> None:
    starters = 4
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter, as `heyat serve` is
    barrier = spawn.Barrier(starters)
    results = spawn.Queue()
    processes = [
        spawn.Process(target=_make_key_in, args=(str(tmp_path), barrier, results))
        for _ in range(starters)
    ]
    for process in processes:
        process.start()
    keys = {results.get(timeout=60) for _ in processes}
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    assert len(keys) == 1
    ((secret_key, (totp_key,)),) = keys
    assert len(secret_key) >= 64
    Fernet(totp_key.encode())  # a whole key, not a prefix
    assert (tmp_path / "secret_key").read_text() == secret_key
    assert (tmp_path / "totp_key").read_text() == totp_key
    # Beside them, audio/video's keys (hearing_server.media), made the same way.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "media_admin_key",
        "media_api_secret",
        "media_token_secret",
        "media_turn_secret",
        "secret_key",
        "totp_key",
    ]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_threads_racing_never_read_a_partial_key(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    starters = 16
    barrier = threading.Barrier(starters)
    made: list[str] = []
    read: list[str] = []

    def make() -> str:
        value = os.urandom(32).hex()
        made.append(value)
        return value

    def start() -> None:
        barrier.wait()
        read.append(read_or_create_key(path, make))

    threads = [threading.Thread(target=start) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(read) == starters and len(set(read)) == 1
    assert read[0] in made and path.read_text() == read[0]
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_an_existing_key_is_kept_and_an_empty_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_text("kept-key\n")
    assert read_or_create_key(path, lambda: "new-key") == "kept-key"

    path.write_text("")
    with pytest.raises(RuntimeError, match="empty"):
        read_or_create_key(path, lambda: "new-key")


# ------------------------------------------------------------------ per-app registries


def _app(tmp_path: Path) -> Any:
    from hearing_server.app import create_app
    from tests.conftest import make_settings

    return create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}", tmp_path))


async def test_two_apps_in_one_process_keep_their_own_menu_and_csrf_exemptions(
    tmp_path: Path,
) -> None:
    from hearing_server.web import context, nav

    one, two = _app(tmp_path / "one"), _app(tmp_path / "two")
    assert one.runtime.nav == two.runtime.nav and one.runtime.nav
    # The API's sign-in is exempt by its decorator, in every app.
    assert one.quart_app.view_functions["api_accounts.api_login"].csrf_exempt  # type: ignore[attr-defined]

    nav.add(one.runtime, "health.ready", "Health", "admin")
    one.runtime.csrf_exempt.add("guarded")

    @one.quart_app.post("/marked")
    @context.csrf_exempt
    async def marked() -> str:
        return "ok"

    for app in (one, two):

        @app.quart_app.post("/guarded", endpoint="guarded")
        async def guarded() -> str:
            return "ok"

    assert "health.ready" not in [item.endpoint for item in two.runtime.nav]
    assert (await one.quart_app.test_client().post("/marked")).status_code == 200
    assert (await one.quart_app.test_client().post("/guarded")).status_code == 200
    assert (await two.quart_app.test_client().post("/guarded")).status_code == 403
    for app in (one, two):
        await app.runtime.db.dispose()
