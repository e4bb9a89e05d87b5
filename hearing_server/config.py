"""Settings read from ``HEYAT_*`` environment variables.

Every field is read from ``HEYAT_<FIELD NAME>`` (``smtp_port`` from ``HEYAT_SMTP_PORT``),
parsed by the field's type. Only :meth:`Settings.from_env` reads the environment, and only
``create_app`` and the CLI call it: importing this module does nothing.

Secrets never reach a log through the settings: ``repr`` and ``str`` hide every field
named like a key, token, password or secret, and the password inside any URL.
The keys generated on first run are written whole before they appear under their name,
so processes starting together all read the same complete key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import tempfile
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import NoneType, UnionType
from typing import Any

from cryptography.fernet import Fernet

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "HEYAT_"
HIDDEN = "<hidden>"
# A field whose name ends so holds a secret: its value is never shown.
_SECRET_NAME = re.compile(r"(_key|_keys|_token|_password|_secret)$")
_URL_PASSWORD = re.compile(r"^([\w+.-]+://[^:/@]*):[^@]*@")
_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pwd|secret|token|api_key|key)=)[^&]*")


@dataclass(frozen=True, repr=False)
class Settings:
    var_dir: Path = PROJECT_ROOT / "var"
    # from_env defaults it to a SQLite file under var_dir.
    database_url: str = ""
    # SQLite's PRAGMA synchronous: FULL (the default) fsyncs the WAL at every commit, so an
    # acknowledged ballot survives a power loss; NORMAL survives a killed process only
    # (bench/r1_durability.py measures the difference). EXTRA is also accepted.
    sqlite_synchronous: str = "FULL"
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
    # Sign-in failures (accounts.throttle): an account's failures from one client (its
    # address, or a device that signed in to it before) before each next try waits,
    # 30 s doubling up to the window; the accounts failing from one address before that
    # address is refused; an account's failures from everywhere, from at least
    # login_lock_clients clients, before it is locked except on its owner's devices.
    login_attempts_per_client: int = 5
    login_accounts_per_address: int = 10
    login_attempts_per_account: int = 50
    login_lock_clients: int = 3
    login_window_seconds: int = 900
    # Addresses (or networks, "10.0.0.0/8") of the reverse proxies whose X-Forwarded-For
    # is believed; none by default: the connecting address is the client.
    trusted_proxies: tuple[str, ...] = ()
    mail_sender: str = "dev"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "heyat@localhost"
    # A key of notifications.sms.SMS_PROVIDERS: dev, kavenegar, webhook (README: SMS).
    sms_provider: str = "dev"
    sms_api_key: str = ""
    sms_sender_line: str = ""
    sms_api_url: str = "https://api.kavenegar.com"
    sms_webhook_url: str = ""
    sms_webhook_secret: str = ""
    # A key of accounts.registry.IDENTITY_REGISTRIES: where sign-up checks that a mobile
    # number belongs to a national ID ("dev": the development adapter).
    identity_registry: str = "dev"
    tsa_url: str | None = None
    # Public endpoints (verification), per client address: a `limits` rate string.
    public_verify_rate: str = "30/minute"
    # The public statistics pages and downloads, per client.
    public_stats_rate: str = "120/minute"
    # How often the statistics are recomputed when the audit chain has moved.
    stats_refresh_seconds: float = 300.0
    # The public search of anonymised final rulings (pages and API), per client address.
    public_rulings_rate: str = "60/minute"
    # How often the audit chain's head is checkpointed (sealed) when it has moved.
    audit_checkpoint_seconds: float = 300.0
    # `heyat serve` collects Python's oldest garbage generation this often instead of
    # whenever it grows (hearing_server/collector.py); 0 leaves CPython's own policy.
    gc_full_collection_seconds: float = 300.0
    pki_dir: Path = PROJECT_ROOT / "var" / "pki"
    # Working time of the boards, Tehran time (scheduling reads them).
    scheduling_work_days: str = "sat,sun,mon,tue,wed,thu"
    scheduling_work_start: str = "07:30"
    scheduling_work_end: str = "14:30"
    # How often the hearing reminders run; None is the scheduler's own default.
    # Tests that run `heyat serve` processes make it short.
    reminder_tick_seconds: float | None = None
    # How often a server process writes its heartbeat and sweeps dead processes' attendance
    # (hearing_server.instances); a process is dead after three missed beats.
    instance_heartbeat_seconds: float = 10.0
    # A hearing happens at its time: its room's lobby opens this many minutes before the
    # start (equipment checks), and an unopened hearing is marked missed this many minutes
    # after the end of its slot (its cases return to the board's queue).
    hearing_lobby_opens_minutes: int = 30
    hearing_missed_grace_minutes: int = 120
    # Audio/video in the hearing room (hearing_server.media, README: Audio and video): a
    # Janus VideoRoom server controlled over its HTTP API with media_api_secret, and coturn
    # for TURN. Empty media_janus_url: `heyat serve` starts its own Janus and coturn
    # (when installed) with configs rendered into var/media/ and sets it; still empty (or
    # media_disabled set): the room works without audio/video and says so.
    media_disabled: bool = False
    media_janus_url: str = ""
    # The Janus URL browsers use (a proxy's, in production); empty: media_janus_url.
    media_public_janus_url: str = ""
    media_janus_port: int = 8088
    # The address Janus gathers ICE candidates on (its --interface); empty: every one.
    media_janus_interface: str = ""
    media_rtp_ports: str = "20000-20999"
    # The public address of a Janus (and coturn) behind 1:1 NAT (a cloud VM's elastic IP):
    # Janus's nat_1_1_mapping and coturn's external-ip (docs/media.md).
    media_public_ip: str = ""
    # Generated into var/ on first run when empty (with_generated_secrets).
    media_api_secret: str = ""
    media_admin_key: str = ""
    media_token_secret: str = ""
    media_turn_secret: str = ""
    # TURN servers given to browsers ("turn:host:3478?transport=udp"); empty with a
    # supervised coturn: turn:<base_url's host>:<media_turn_port>.
    media_turn_urls: tuple[str, ...] = ()
    media_turn_port: int = 3478
    media_turn_relay_ip: str = ""
    media_turn_realm: str = "heyat"
    # How long a Janus room token and a TURN credential are good for.
    media_token_seconds: int = 120
    media_turn_seconds: int = 3600
    # Every media server (the table of `heyat media list`) is asked GET /info this often;
    # two failures in a row mark it down and its open rooms move to a healthy one.
    media_health_seconds: float = 5.0
    # Tests only: coturn relays to loopback peers.
    media_allow_loopback: bool = False
    testing: bool = False

    def __post_init__(self) -> None:
        if self.sqlite_synchronous.strip().upper() not in ("FULL", "EXTRA", "NORMAL"):
            raise ValueError(
                f"{env_var('sqlite_synchronous')}={self.sqlite_synchronous!r}: expected "
                "FULL, EXTRA or NORMAL"
            )
        for entry in self.trusted_proxies:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{env_var('trusted_proxies')}={entry!r}: expected IP addresses or "
                    "networks, separated by commas"
                ) from None

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={shown_value(f.name, getattr(self, f.name))!r}" for f in fields(self)
        )
        return f"Settings({shown})"

    __str__ = __repr__

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """The settings ``environ`` (the process environment by default) gives, then ``overrides``.

        An empty variable means: no value for an optional field, an empty string or tuple,
        and the default for a number, flag or path. A value that does not parse raises
        ``ValueError`` naming the variable.
        """
        env = os.environ if environ is None else environ
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = env_var(f.name)
            raw = env.get(name)
            if raw is None:
                continue
            parsed = _parse(name, raw, hints[f.name])
            if parsed is not _UNSET:
                values[f.name] = parsed
        var_dir = Path(values.get("var_dir", cls.var_dir))
        values.setdefault("database_url", f"sqlite+aiosqlite:///{var_dir / 'heyat.db'}")
        values.setdefault("files_dir", var_dir / "files")
        values.setdefault("pki_dir", var_dir / "pki")
        if "base_url" in values:
            values["base_url"] = values["base_url"].rstrip("/")
        settings = cls(**values)
        if overrides:
            settings = replace(settings, **overrides)
        return settings

    def with_generated_secrets(self) -> Settings:
        """Fill the secret key and TOTP key from files under ``var/`` (made on first run)."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        secret_key = self.secret_key or read_or_create_key(
            self.var_dir / "secret_key", lambda: secrets.token_urlsafe(48)
        )
        totp_keys = self.totp_keys or (
            read_or_create_key(self.var_dir / "totp_key", lambda: Fernet.generate_key().decode()),
        )

        def media_key(name: str, value: str) -> str:
            return value or read_or_create_key(
                self.var_dir / name, lambda: secrets.token_urlsafe(32)
            )

        return replace(
            self,
            secret_key=secret_key,
            totp_keys=totp_keys,
            media_api_secret=media_key("media_api_secret", self.media_api_secret),
            media_admin_key=media_key("media_admin_key", self.media_admin_key),
            media_token_secret=media_key("media_token_secret", self.media_token_secret),
            media_turn_secret=media_key("media_turn_secret", self.media_turn_secret),
        )


def env_var(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def is_secret(field_name: str) -> bool:
    return bool(_SECRET_NAME.search(field_name))


def shown_value(field_name: str, value: Any) -> Any:
    """``value`` as logs may show it: a secret field hidden, a URL without its password."""
    if is_secret(field_name) and value:
        return HIDDEN
    if isinstance(value, str):
        return redact_url(value)
    return value


def redact_url(url: str) -> str:
    """``url`` with the password of its user part and of secret query parameters hidden.

    The user part is found as SQLAlchemy finds it: ``scheme://user:password@`` with a
    password that runs to the first ``@``.
    """
    return _SECRET_QUERY.sub(r"\1***", _URL_PASSWORD.sub(r"\1:***@", url))


_UNSET = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse(name: str, raw: str, hint: Any) -> Any:
    args = typing.get_args(hint)
    if isinstance(hint, UnionType) and NoneType in args:
        if raw == "":
            return None
        (hint,) = (arg for arg in args if arg is not NoneType)
    if hint is str:
        return raw
    if typing.get_origin(hint) is tuple:
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    if raw.strip() == "":
        return _UNSET
    value = raw.strip()
    try:
        if hint is bool:
            if value.lower() not in _TRUE | _FALSE:
                raise ValueError(value)
            return value.lower() in _TRUE
        if hint is int:
            return int(value)
        if hint is float:
            return float(value)
        if hint is Path:
            return Path(value)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected {hint.__name__}") from None
    raise TypeError(f"no parser for {name} of type {hint!r}")


def read_or_create_key(path: Path, make: Callable[[], str]) -> str:
    """The key stored at ``path``, or a new one from ``make`` stored there first.

    The new key is written and synced to a temporary file in the same directory, then
    hard-linked to ``path``: the link appears whole or not at all, and fails if another
    process linked first, in which case that process's key is read and returned. So
    processes starting together all end with the same key and never read a partial one.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    value = make()
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return _read_key(path)
        _fsync_dir(path.parent)
        return value
    finally:
        os.unlink(temp)


def _read_key(path: Path) -> str:
    value = path.read_text().strip()
    if not value:
        raise RuntimeError(f"{path} is empty: delete it and a new key will be made")
    return value


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
