"""A Redis outage during a hearing (issue #15, item 8): the pieces shared by
tests/rooms/test_redis_outage.py and bench/redis_outage.py.

* :class:`RedisProcess` — a ``redis-server`` of the test's own on a free port (nothing
  saved, no append-only file), stopped and started again on the same port.
* :class:`SyncingClient` — a member's room socket that keeps the room's numbered events
  as ``static/js/room.js`` does: it applies the next number, ignores what it has, and on
  a gap asks ``sync {last_seq}`` for what lies between; ``last`` is the newest number it
  knows the room reached.
* :func:`sign_in` — a person signed in over HTTP (cookie and CSRF token), with a code for
  a time-step after the last one that person used.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyotp
import socketio
from redis import asyncio as aioredis

from tests.conftest import EVENTUALLY_SECONDS, free_port

NS = "/hearing"
STEP = 30


class RedisProcess:
    """``redis-server`` on 127.0.0.1:``port``, nothing persisted."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        """Start the process (returns at once; :meth:`start` also waits for it)."""
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is not installed"
        with (self.workdir / f"redis-{self.port}.log").open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.workdir),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def start(self) -> None:
        """Start it and wait until it answers PING."""
        self.spawn()
        assert self.proc is not None
        client: Any = aioredis.from_url(self.url, socket_connect_timeout=2)
        try:
            async with asyncio.timeout(EVENTUALLY_SECONDS):
                while True:
                    assert self.proc.poll() is None, "redis-server exited while starting"
                    try:
                        if await client.ping():
                            return
                    except (OSError, aioredis.RedisError):
                        pass
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    def stop(self) -> None:
        """Stop it (SIGTERM; it closes every connection) and wait for the end."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        self.proc.wait(timeout=EVENTUALLY_SECONDS)


@dataclass
class Person:
    username: str
    password: str
    secret: str
    user_id: int = 0
    cookie: str = ""
    csrf: str = ""
    last_step: int = 0


async def fresh_code(person: Person, offset: float = 0.0) -> str:
    """A code for a time-step after ``person``'s last one, inside the server's window
    (its clock ``offset`` seconds from ours); waits for the next step when all are used."""
    while True:
        current = int((time.time() + offset) // STEP)
        step = max(person.last_step + 1, current)  # current - 1 may expire on the way
        if step <= current + 1:
            person.last_step = step
            return str(pyotp.TOTP(person.secret).generate_otp(step))
        # Every usable step is taken: wait for the server's next step to begin.
        await asyncio.sleep(STEP - (time.time() + offset) % STEP)


async def sign_in(base_url: str, person: Person) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=EVENTUALLY_SECONDS) as http:
        response = await http.post(
            "/api/v1/auth/login",
            json={
                "username": person.username,
                "password": person.password,
                "otp": await fresh_code(person),
            },
        )
    assert response.status_code == 200, response.text
    person.cookie = f"heyat_session={response.cookies['heyat_session']}"
    person.csrf = response.json()["csrf_token"]


@dataclass
class SyncingClient:
    person: Person
    sio: socketio.AsyncClient = field(
        default_factory=lambda: socketio.AsyncClient(reconnection=False)
    )
    last: int = 0
    live: int = 0  # events applied as they came
    synced: int = 0  # gaps filled by ``sync``
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        @self.sio.on("room", namespace=NS)
        async def on_room(event: dict[str, Any]) -> None:
            seq = int(event["seq"])
            if seq <= self.last:
                return
            if seq == self.last + 1:
                self.last = seq
                self.live += 1
                self.changed.set()
                return
            # A gap: ask for what lies between (never from inside the handler, whose
            # loop also reads the answer).
            task = asyncio.create_task(self.sync())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def connect(self, url: str, hearing_id: int) -> None:
        await self.sio.connect(
            url,
            namespaces=[NS],
            transports=["websocket"],
            headers={"Origin": url, "Cookie": self.person.cookie},
            auth={"hearing_id": hearing_id},
            wait_timeout=EVENTUALLY_SECONDS,
        )
        answer = await self.sio.call(
            "sync", {"last_seq": None}, namespace=NS, timeout=EVENTUALLY_SECONDS
        )
        self.last = max(self.last, int(answer["seq"]))
        self.changed.set()

    async def sync(self) -> None:
        async with self._lock:
            if not self.sio.connected:  # closed meanwhile
                return
            answer = await self.sio.call(
                "sync", {"last_seq": self.last}, namespace=NS, timeout=EVENTUALLY_SECONDS
            )
            self.last = max(self.last, int(answer["seq"]))
            self.synced += 1
            self.changed.set()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sio.shutdown(), 5)


async def room_seq(db: Any, hearing_id: int) -> int:
    from sqlalchemy import select

    from hearing_server.scheduling.models import Hearing

    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(Hearing.room_seq).where(Hearing.id == hearing_id)))


async def caught_up(db: Any, hearing_id: int, clients: list[SyncingClient]) -> int:
    """Wait until every client knows the room's newest event; that number."""
    async with asyncio.timeout(EVENTUALLY_SECONDS):
        while True:
            newest = await room_seq(db, hearing_id)
            if all(client.last >= newest for client in clients):
                return newest
            waits = [asyncio.ensure_future(c.changed.wait()) for c in clients]
            for client in clients:
                client.changed.clear()
            # Woken by any client's news, or every 50 ms for the database's number.
            await asyncio.wait(waits, timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()


async def open_motion(base_url: str, secretary: Person, hearing_id: int, case_id: int) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=EVENTUALLY_SECONDS) as http:
        response = await http.post(
            f"/api/v1/hearings/{hearing_id}/motions",
            json={"case_id": case_id, "kind": "free_text", "text": "پیشنهاد رأی"},
            headers={
                "Cookie": secretary.cookie,
                "X-CSRF-Token": secretary.csrf,
                "Accept-Language": "en",
            },
        )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def cast_over_socket(client: SyncingClient, motion_id: int) -> dict[str, Any]:
    answer = await client.sio.call(
        "vote.cast",
        {"motion_id": motion_id, "choice": "for", "otp": await fresh_code(client.person)},
        namespace=NS,
        timeout=EVENTUALLY_SECONDS,
    )
    assert isinstance(answer, dict) and "receipt" in answer, answer
    return answer


async def cast_over_http(base_url: str, person: Person, motion_id: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=EVENTUALLY_SECONDS) as http:
        response = await http.post(
            f"/api/v1/motions/{motion_id}/ballots",
            json={"choice": "for", "otp": await fresh_code(person)},
            headers={"Cookie": person.cookie, "X-CSRF-Token": person.csrf},
        )
    assert response.status_code == 201, response.text
    return dict(response.json())
