"""Settings read from ``HEYAT_*`` environment variables.

Only :func:`Settings.from_env` reads the environment, and only ``create_app``
and the CLI call it: importing this module does nothing.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography.fernet import Fernet

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    var_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    redis_url: str | None = None
    # The Socket.IO message-queue channel: processes of one installation share it.
    redis_channel: str = "heyat-socketio"
    secret_key: str = ""
    files_dir: Path = PROJECT_ROOT / "var" / "files"
    base_url: str = "http://127.0.0.1:5000"
    default_locale: str = "fa"
    # MultiFernet keys, newest first: encrypts TOTP secrets at rest.
    totp_keys: tuple[str, ...] = ()
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    max_upload_bytes: int = 20 * 1024 * 1024
    max_pdf_pages: int = 300
    login_attempts_per_account: int = 10
    login_attempts_per_address: int = 30
    login_window_seconds: int = 900
    mail_sender: str = "dev"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "heyat@localhost"
    tsa_url: str | None = None
    pki_dir: Path = PROJECT_ROOT / "var" / "pki"
    testing: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = dict(os.environ if environ is None else environ)
        var_dir = Path(env.get("HEYAT_VAR_DIR", str(PROJECT_ROOT / "var")))
        settings = cls(
            var_dir=var_dir,
            database_url=env.get(
                "HEYAT_DATABASE_URL", f"sqlite+aiosqlite:///{var_dir / 'heyat.db'}"
            ),
            redis_url=env.get("HEYAT_REDIS_URL") or None,
            redis_channel=env.get("HEYAT_REDIS_CHANNEL", "heyat-socketio"),
            secret_key=env.get("HEYAT_SECRET_KEY", ""),
            files_dir=Path(env.get("HEYAT_FILES_DIR", str(var_dir / "files"))),
            base_url=env.get("HEYAT_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
            default_locale=env.get("HEYAT_DEFAULT_LOCALE", "fa"),
            totp_keys=tuple(k for k in env.get("HEYAT_TOTP_KEYS", "").split(",") if k),
            mail_sender=env.get("HEYAT_MAIL_SENDER", "dev"),
            smtp_host=env.get("HEYAT_SMTP_HOST", "127.0.0.1"),
            smtp_port=int(env.get("HEYAT_SMTP_PORT", "25")),
            smtp_from=env.get("HEYAT_SMTP_FROM", "heyat@localhost"),
            tsa_url=env.get("HEYAT_TSA_URL") or None,
            pki_dir=Path(env.get("HEYAT_PKI_DIR", str(var_dir / "pki"))),
            # Tests that run `heyat serve` processes tick the reminders faster; unset in use.
            extra=(
                {"reminder_interval_seconds": env["HEYAT_REMINDER_TICK_SECONDS"]}
                if env.get("HEYAT_REMINDER_TICK_SECONDS")
                else {}
            ),
        )
        if overrides:
            settings = replace(settings, **overrides)  # type: ignore[arg-type]  # keys are field names
        return settings

    def with_generated_secrets(self) -> Settings:
        """Fill the secret key and TOTP key from files under ``var/`` (made on first run)."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        secret_key = self.secret_key or _read_or_create(
            self.var_dir / "secret_key", lambda: secrets.token_urlsafe(48)
        )
        totp_keys = self.totp_keys or (
            _read_or_create(self.var_dir / "totp_key", lambda: Fernet.generate_key().decode()),
        )
        return replace(self, secret_key=secret_key, totp_keys=totp_keys)


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    if path.exists():
        return path.read_text().strip()
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(str(value))
    return str(value)
