"""Shared fixtures: a migrated and seeded database on SQLite and on PostgreSQL, the app,
named demo people with their authenticators, a live server on a real port, OTP codes
from `oathtool` (an independent TOTP generator).

Every database test runs on both backends (``db_url`` is parametrised). Outside CI a
backend or tool that is missing skips with a reason; with CI=true nothing may skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.fernet import Fernet

from hearing_server import clock
from hearing_server.accounts import security
from hearing_server.config import Settings

# argon2 with the parameters its authors give for test suites (the hashes seeded here and
# made by these tests; a hash is verified with its own parameters). The server's own
# parameters are checked in tests/accounts/test_password_hashing.py.
security.use_cheapest_hashing_for_tests()

CI = os.environ.get("CI") == "true"
PG_ADMIN_URL = os.environ.get(
    "HEYAT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("HEYAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_TOTP_KEY = Fernet.generate_key().decode()
TEST_SECRET_KEY = "test-secret-key-" + uuid.uuid4().hex


# The files that take longest (a browser, a media server, a second server process, the
# whole route matrix) are handed out first: with one file per worker at a time, a long file
# started last would run alone at the end while the other cores idle.
LONG_FIRST = (
    "tests/browser/",
    "tests/media/",
    "tests/test_access_matrix.py",
    "tests/test_fuzz_schemathesis.py",
    "tests/rooms/test_rooms_instances.py",
    "tests/issuance/test_issuance_progress_processes.py",
    "tests/voting/test_durability.py",
    "tests/voting/test_voting_processes.py",
    "tests/rooms/test_redis_outage.py",
    "tests/rooms/test_rooms_storm.py",
    "tests/rooms/test_rooms_load.py",
    "tests/scheduling/test_scheduling_restart.py",
    "tests/test_cli.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def long_first(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return 0 if path.startswith(LONG_FIRST) else 1

    items.sort(key=long_first)  # stable: the order within each part is kept


def require_or_skip(ok: bool, reason: str, *, env: str) -> None:
    """Skip outside CI when a service or tool is missing; fail in CI (or when ``env`` is set)."""
    if ok:
        return
    if CI or os.environ.get(env) == "1":
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def tool(name: str) -> str:
    path = shutil.which(name)
    require_or_skip(path is not None, f"{name} is not installed", env="HEYAT_REQUIRE_TOOLS")
    assert path is not None
    return path


# ------------------------------------------------------------------ OTP


def otp_at(secret: str, moment: datetime) -> str:
    """The code `oathtool` computes for ``secret`` at ``moment``."""
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    out = subprocess.run(
        [tool("oathtool"), "--totp", "-b", "-N", stamp, secret],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


class OtpSource:
    """Fresh codes for tests. The app's clock is frozen during a test; when a secret's
    current time-step was already used, the clock moves on 30 s so the next code is new."""

    def __init__(self) -> None:
        self.used: dict[str, int] = {}

    def code(self, secret: str) -> str:
        now = clock.utcnow()
        step = int(now.timestamp()) // 30
        if self.used.get(secret, -1) >= step:
            clock.advance(timedelta(seconds=30 * (self.used[secret] - step + 1)))
            now = clock.utcnow()
            step = int(now.timestamp()) // 30
        self.used[secret] = step
        return otp_at(secret, now)


@pytest.fixture
def otp() -> Iterator[OtpSource]:
    yield OtpSource()


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    clock.set_frozen(clock.utcnow().replace(microsecond=0))
    yield
    clock.set_frozen(None)


# ------------------------------------------------------------------ databases


@dataclass
class Backend:
    name: str
    template: str  # a seeded database to copy per test
    pg_admin: str | None = None
    made: list[str] = field(default_factory=list)


async def _pg_exec(admin_url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _pg_url(admin_url: str, database: str) -> str:
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database}"


async def _seed(url: str, var_dir: Path) -> None:
    from hearing_server.db import Database
    from hearing_server.demo import do_seed_demo
    from hearing_server.migrate import upgrade_async

    await upgrade_async(url)
    db = Database(url)
    async with db.transaction() as session:
        await do_seed_demo(session, make_settings(url, var_dir))
    await db.dispose()


_backends: dict[str, Backend] = {}


async def backend(name: str, tmp_root: Path) -> Backend:
    if name in _backends:
        return _backends[name]
    if name == "sqlite":
        path = tmp_root / "template.db"
        await _seed(f"sqlite+aiosqlite:///{path}", tmp_root)
        made = Backend("sqlite", str(path))
    else:
        template = f"heyat_tpl_{os.getpid()}"
        await _pg_exec(
            PG_ADMIN_URL, f"DROP DATABASE IF EXISTS {template}", f"CREATE DATABASE {template}"
        )
        await _seed(_pg_url(PG_ADMIN_URL, template), tmp_root)
        made = Backend("postgres", template, pg_admin=PG_ADMIN_URL)
    _backends[name] = made
    return made


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("heyat")


@pytest.fixture(scope="session", autouse=True)
async def _drop_pg_databases() -> AsyncIterator[None]:
    yield
    pg = _backends.get("postgres")
    if pg is not None:
        for name in [*pg.made, pg.template]:
            await _pg_exec(PG_ADMIN_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.asynccontextmanager
async def copy_of_demo(
    backend_name: str, tmp_root: Path, tmp_dir: Path, prefix: str = "heyat_t"
) -> AsyncIterator[str]:
    """A fresh copy of the seeded demo database on ``backend_name`` (a file in ``tmp_dir``
    or a PostgreSQL database made from the template), dropped afterwards."""
    made = await backend(backend_name, tmp_root)
    if made.name == "sqlite":
        target = tmp_dir / "heyat.db"
        shutil.copyfile(made.template, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _pg_exec(PG_ADMIN_URL, f"CREATE DATABASE {name} TEMPLATE {made.template}")
    made.made.append(name)
    try:
        yield _pg_url(PG_ADMIN_URL, name)
    finally:
        await _pg_exec(PG_ADMIN_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        made.made.remove(name)


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(
    request: pytest.FixtureRequest, tmp_root: Path, tmp_path: Path
) -> AsyncIterator[str]:
    """A fresh copy of the seeded demo database for this test, on each backend."""
    if request.param == "postgres":
        require_or_skip(
            _pg_reachable(),
            "PostgreSQL is not reachable on 127.0.0.1:5432",
            env="HEYAT_REQUIRE_POSTGRES",
        )
    async with copy_of_demo(request.param, tmp_root, tmp_path) as url:
        yield url


def make_settings(url: str, var_dir: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "var_dir": var_dir,
        "database_url": url,
        "secret_key": TEST_SECRET_KEY,
        "totp_keys": (TEST_TOTP_KEY,),
        "files_dir": var_dir / "files",
        "pki_dir": var_dir / "pki",
        "testing": True,
        "mail_sender": "dev",
    }
    base.update(overrides)
    return Settings(**base)


@pytest.fixture
def settings(db_url: str, tmp_path: Path, tmp_root: Path) -> Settings:
    """Per-test files; the installation's PKI is the one the seeded demo signed with."""
    return make_settings(db_url, tmp_path, pki_dir=tmp_root / "pki")


@pytest.fixture
async def asgi(settings: Settings) -> AsyncIterator[Any]:
    from hearing_server.app import create_app

    app = create_app(settings)
    yield app
    await app.runtime.db.dispose()


@pytest.fixture
def quart_app(asgi: Any) -> Any:
    return asgi.quart_app


@pytest.fixture
def client(quart_app: Any) -> Any:
    return quart_app.test_client()


@pytest.fixture
async def db(asgi: Any) -> Any:
    """The app's Database, for arranging and checking rows directly."""
    return asgi.runtime.db


# ------------------------------------------------------------------ people


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    password: str
    role: str
    full_name: str
    totp_secret: str


@pytest.fixture
async def people(db: Any, settings: Settings) -> dict[str, Person]:
    """The demo's named people: people["worker"], people["member.gov1"] (the diagnosis chair) …"""
    from hearing_server.accounts.services import get_user_by_username
    from hearing_server.demo import demo_summary

    result: dict[str, Person] = {}
    async with db.transaction(write=False) as session:
        summary = await demo_summary(session, settings)
        for item in summary["users"]:
            user = await get_user_by_username(session, item["username"])
            assert user is not None
            result[item["username"]] = Person(
                user.id,
                item["username"],
                item["password"],
                item["role"],
                item["full_name"],
                item["totp_secret"],
            )
    return result


async def api_login(client: Any, person: Person, otp: OtpSource) -> str:
    """Sign ``person`` in through the JSON API; return their CSRF token."""
    response = await client.post(
        "/api/v1/auth/login",
        json={
            "username": person.username,
            "password": person.password,
            "otp": otp.code(person.totp_secret),
        },
    )
    body = await response.get_json()
    assert response.status_code == 200, body
    return str(body["csrf_token"])


# ------------------------------------------------------------------ live server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    app: Any
    settings: Settings


@pytest.fixture
async def live_server(settings: Settings) -> AsyncIterator[LiveServer]:
    """The real ASGI app served by uvicorn on a random port, in this event loop."""
    async with live_serving(settings) as live:
        yield live


@contextlib.asynccontextmanager
async def live_serving(settings: Settings, **overrides: Any) -> AsyncIterator[LiveServer]:
    """The app of ``settings`` (with ``overrides``) served on a random port in this loop."""
    import dataclasses

    from hearing_server.app import create_app

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    live_settings = dataclasses.replace(settings, base_url=url, **overrides)
    app = create_app(live_settings)
    async with serving(app, port):
        yield LiveServer(url, app, live_settings)
    await app.runtime.db.dispose()


@contextlib.asynccontextmanager
async def kavenegar_live_server(settings: Settings) -> AsyncIterator[tuple[LiveServer, Any]]:
    """A live server whose SMS leave through the Kavenegar API, to the local fake
    (tests/notifications/fake_kavenegar.py) on a real port; yields both."""
    from tests.notifications import fake_kavenegar

    with fake_kavenegar.running() as fake:
        async with live_serving(
            settings,
            sms_provider="kavenegar",
            sms_api_key=fake_kavenegar.API_KEY,
            sms_sender_line=fake_kavenegar.SENDER,
            sms_api_url=fake.url,
        ) as live:
            yield live, fake


@contextlib.asynccontextmanager
async def serving(app: Any, port: int, host: str = "127.0.0.1") -> AsyncIterator[None]:
    """Serve ``app`` with uvicorn on ``port`` in this event loop, from the moment it is
    started (its lifespan done) until the block ends. Waits for that condition however
    busy the machine is; fails at once if the server stops while starting."""
    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="on", ws="websockets-sansio"
    )
    up = asyncio.Event()

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            up.set()

    server = Server(config)
    task = asyncio.create_task(server.serve())
    started = asyncio.create_task(up.wait())
    # No deadline: a slow start on a busy machine is waited for; a failed one ends the task.
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    assert server.started, "live server stopped while starting"
    try:
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=60)


def server_env(settings: Settings, port: int, **extra: str) -> dict[str, str]:
    """Environment for a `heyat serve` subprocess using the same database and keys."""
    env = dict(os.environ)
    env.update(
        HEYAT_DATABASE_URL=settings.database_url,
        HEYAT_SECRET_KEY=settings.secret_key,
        HEYAT_TOTP_KEYS=",".join(settings.totp_keys),
        HEYAT_VAR_DIR=str(settings.var_dir),
        HEYAT_FILES_DIR=str(settings.files_dir),
        HEYAT_PKI_DIR=str(settings.pki_dir),
        HEYAT_BASE_URL=f"http://127.0.0.1:{port}",
        # No Janus and coturn beside every test server (tests/media starts its own).
        HEYAT_MEDIA_DISABLED="1",
    )
    env.update(extra)
    return env


PROJECT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ browser

CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium driven by Playwright (no browser download)."""
    path = shutil.which("chromium")
    require_or_skip(path is not None, "chromium is not installed", env="HEYAT_REQUIRE_BROWSER")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


T = TypeVar("T")
EVENTUALLY_SECONDS = 120  # a bound for a busy machine, never a pace: polls end when true


async def eventually(check: Callable[[], Awaitable[T]]) -> T:
    """Poll ``check`` until it returns something truthy, and return that. For state held
    elsewhere (a database another process writes, a page), where there is no event to
    await; fails after ``EVENTUALLY_SECONDS`` of it never holding."""
    async with asyncio.timeout(EVENTUALLY_SECONDS):
        while not (value := await check()):  # noqa: ASYNC110 - the state lives elsewhere
            await asyncio.sleep(0.05)
    return value


async def wait_until(page: Any, expression: str) -> None:
    """Wait until ``expression`` is truthy in ``page``. Playwright's wait_for_function
    compiles its predicate with eval in the page, which the site's CSP forbids; evaluate
    goes through the debugging protocol instead."""
    await eventually(lambda: page.evaluate(expression))


async def browser_login(page: Any, base_url: str, person: Person, otp: OtpSource) -> None:
    """Sign in through the real pages: password, then an oathtool code."""
    await page.goto(f"{base_url}/login")
    await page.fill("#f-username", person.username)
    await page.fill("#f-password", person.password)
    await page.click("button[type=submit].primary")
    await page.wait_for_url("**/login/otp**")
    await page.fill("#f-otp", otp.code(person.totp_secret))
    await page.click("form button[type=submit].primary")
    await page.wait_for_load_state("networkidle")


async def browser_sms_login(
    page: Any, base_url: str, username: str, password: str, db: Any, mobile: str
) -> None:
    """Sign a party without an authenticator in through the real pages: password, then the
    code of the newest sign-in SMS queued for ``mobile``."""
    import re

    from sqlalchemy import select

    from hearing_server.notifications.models import OutboxMessage

    await page.goto(f"{base_url}/login")
    await page.fill("#f-username", username)
    await page.fill("#f-password", password)
    await page.click("button[type=submit].primary")
    await page.wait_for_url("**/login/otp**")
    async with db.transaction(write=False) as session:
        body = await session.scalar(
            select(OutboxMessage.body)
            .where(OutboxMessage.address == mobile, OutboxMessage.subject == "code:login")
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    found = re.search(r"#(\d{6})$", body or "")
    assert found, body
    await page.fill("#f-code", found.group(1))
    await page.click("form button[type=submit].primary")
    await page.wait_for_load_state("networkidle")


ARTIFACTS = PROJECT / "test-artifacts"
