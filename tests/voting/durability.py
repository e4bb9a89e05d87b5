"""R1, acknowledged means durable: nine members vote in a hearing room over their sockets
(``vote.cast`` with a fresh authenticator code, as the room page sends it) while the
``heyat serve`` process under them is killed with SIGKILL and started again, over and
over. The members' clients write down every ballot the server acknowledged (its
receipt); at the end every acknowledged ballot must be in the database once, and the
audit chain must verify. Used by tests/voting/test_durability.py (a few kills) and
bench/r1_durability.py (a hundred, and the acknowledgement's latency with
``synchronous=FULL`` beside ``NORMAL``).

Codes: a member's authenticator gives one code per 30-second time-step and the server
accepts each step once (replay-proof), so a member could cast one ballot a step. Each
start of the server therefore moves its clock (``HEYAT_CLOCK_OFFSET_SECONDS``, test mode
only) four steps further on, and the clients compute codes for the server's time with
pyotp from the members' secrets. The login sessions' limits are widened for those
servers, so that the jumps never sign a member out.

What the run does not show: a power loss. A killed process leaves its written pages in
the operating system's cache, so kill -9 proves that nothing is acknowledged before its
commit; that the commit itself reached the disk before the acknowledgement is what
``PRAGMA synchronous=FULL`` guarantees (``hearing_server.db``), and
``tests/test_db.py`` checks every connection has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyotp
import socketio
from sqlalchemy import func, select

from hearing_server.config import Settings
from hearing_server.voting.models import Ballot
from tests.conftest import EVENTUALLY_SECONDS, PROJECT, server_env
from tests.serve import HEYAT, ServeProcess

NS = "/hearing"
STEP = 30  # seconds of a TOTP time-step
JUMP_STEPS = 4  # the server's clock moves this many steps at each start
MAX_ACKS_BEFORE_KILL = 14  # a kill comes after a random 0..this acknowledgements


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Voter:
    username: str
    user_id: int
    password: str
    secret: str
    cookie: str = ""
    csrf: str = ""
    last_step: int = 0  # the newest time-step this member sent (the server may hold it)


@dataclass(frozen=True)
class Ack:
    motion_id: int
    member_id: int
    receipt: str


@dataclass
class Ledger:
    """What the clients saw."""

    acknowledged: list[Ack] = field(default_factory=list)
    # Casts whose answer never came (the server died first): committed or not.
    unanswered: int = 0
    # Refusals by code ("already_voted": a ballot committed whose ack was lost).
    refused: Counter[str] = field(default_factory=Counter)
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    kills: int = 0
    # Wall time of each part of a server's life, seconds: start, connect, vote, teardown.
    phases: dict[str, list[float]] = field(default_factory=dict)

    def timed(self, phase: str, started: float) -> None:
        self.phases.setdefault(phase, []).append(time.perf_counter() - started)


@dataclass(frozen=True)
class Outcome:
    kills: int
    acknowledged: int
    lost: int
    duplicated: int
    audit_ok: bool
    audit_output: str
    ballots_in_db: int
    unanswered: int


class VotingRun:
    """One hearing's votes over server lives; see the module's docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        hearing_id: int,
        case_id: int,
        voters: list[Voter],
        secretary: Voter,
        workdir: Path,
        seed: int = 1,
    ) -> None:
        self.settings = settings
        self.hearing_id = hearing_id
        self.case_id = case_id
        self.voters = voters
        self.secretary = secretary
        self.workdir = workdir
        self.random = random.Random(seed)  # noqa: S311 - where to kill, not a secret
        self.ledger = Ledger()
        self.lives = 0
        self.offset = 0.0
        self.port: int | None = None
        self.signed_in = False
        self.motions_opened = 0

    # -- the server

    def _server(self, synchronous: str) -> ServeProcess:
        self.offset = float(self.lives * JUMP_STEPS * STEP)
        self.lives += 1
        server = ServeProcess(
            self.settings,
            self.workdir / "serve.log",
            port=self.port,
            HEYAT_CLOCK_OFFSET_SECONDS=f"{self.offset:.0f}",
            HEYAT_TESTING="1",  # the offset applies only in test mode
            HEYAT_SQLITE_SYNCHRONOUS=synchronous,
            HEYAT_SESSION_IDLE_MINUTES="100000",
            HEYAT_SESSION_ABSOLUTE_HOURS="10000",
        )
        self.port = server.port
        return server

    def server_step(self) -> int:
        return int((time.time() + self.offset) // STEP)

    async def code_for(self, person: Voter) -> tuple[int, str]:
        """A code for a step after the last one ``person`` sent, inside the server's
        window (the current step or the next); waits for the clock if every such step is used."""
        while True:
            current = self.server_step()
            step = max(person.last_step + 1, current)  # current - 1 may expire on the way
            if step <= current + 1:
                person.last_step = step
                return step, pyotp.TOTP(person.secret).generate_otp(step)
            # Every usable step is taken: wait for the server's next step to begin.
            await asyncio.sleep(STEP - (time.time() + self.offset) % STEP)

    # -- people

    async def _sign_in(self, http: httpx.AsyncClient, person: Voter) -> None:
        _step, code = await self.code_for(person)
        response = await http.post(
            "/api/v1/auth/login",
            json={"username": person.username, "password": person.password, "otp": code},
        )
        assert response.status_code == 200, response.text
        person.cookie = f"heyat_session={response.cookies['heyat_session']}"
        person.csrf = response.json()["csrf_token"]

    async def _connect(self, url: str, person: Voter) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(
            url,
            namespaces=[NS],
            transports=["websocket"],
            headers={"Origin": url, "Cookie": person.cookie},
            auth={"hearing_id": self.hearing_id},
            wait_timeout=EVENTUALLY_SECONDS,
        )
        return client

    async def _open_motion(self, http: httpx.AsyncClient) -> int:
        """The hearing's open motion, or a new one (the secretary's API)."""
        headers = {"Cookie": self.secretary.cookie, "Accept-Language": "en"}
        response = await http.get(f"/api/v1/hearings/{self.hearing_id}/motions", headers=headers)
        assert response.status_code == 200, response.text
        for motion in response.json()["motions"]:
            if motion["state"] == "open":
                return int(motion["id"])
        self.motions_opened += 1
        response = await http.post(
            f"/api/v1/hearings/{self.hearing_id}/motions",
            json={
                "case_id": self.case_id,
                "kind": "free_text",
                "text": f"پیشنهاد شمارهٔ {self.motions_opened}",
            },
            headers={**headers, "X-CSRF-Token": self.secretary.csrf},
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    # -- one life of the server

    async def life(
        self,
        *,
        kill: bool,
        synchronous: str = "FULL",
        motions: int = 1,
        label: str = "r1",
    ) -> None:
        """Start a server; the members vote. With ``kill``: SIGKILL after a random number
        of acknowledgements while casts are in flight. Without: until ``motions`` motions
        have closed, then a clean stop."""
        server = self._server(synchronous)
        started = time.perf_counter()
        server.spawn()
        try:
            await _healthy(server)
            self.ledger.timed("start", started)
            await self._vote(server, kill=kill, motions=motions, label=label)
        finally:
            if kill and server.proc is not None and server.proc.poll() is None:
                server.kill9()
                self.ledger.kills += 1
            server.stop()

    async def _vote(self, server: ServeProcess, *, kill: bool, motions: int, label: str) -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=EVENTUALLY_SECONDS) as http:
            if not self.signed_in:
                for person in [*self.voters, self.secretary]:
                    await self._sign_in(http, person)
                self.signed_in = True
            started = time.perf_counter()
            sockets = await asyncio.gather(*(self._connect(server.url, v) for v in self.voters))
            self.ledger.timed("connect", started)
            started = time.perf_counter()
            round_ = _Round(self, label)
            kill_after = self.random.randint(0, MAX_ACKS_BEFORE_KILL) if kill else None
            try:
                for _ in range(motions if kill_after is None else 1_000_000):
                    round_.motion_id = await self._open_motion(http)
                    round_.settled = set()
                    voting = asyncio.gather(
                        *(
                            round_.member(person, client)
                            for person, client in zip(self.voters, sockets, strict=True)
                        )
                    )
                    if kill_after is None:
                        await voting
                        continue
                    try:
                        while not voting.done():
                            if round_.acks >= kill_after and round_.inflight > 0:
                                server.kill9()  # kill -9 while ballots are on their way
                                self.ledger.kills += 1
                                self.ledger.unanswered += round_.inflight
                                return
                            round_.changed.clear()
                            waiter = asyncio.ensure_future(round_.changed.wait())
                            await asyncio.wait(
                                {voting, waiter}, return_when=asyncio.FIRST_COMPLETED
                            )
                            waiter.cancel()
                        voting.result()
                    finally:
                        if not voting.done():
                            voting.cancel()
                            with contextlib.suppress(BaseException):
                                await voting
            finally:
                self.ledger.timed("vote", started)
                started = time.perf_counter()
                await asyncio.gather(*(_close(client) for client in sockets))
                self.ledger.timed("teardown", started)

    # -- the verdict

    async def verdict(self, db: Any) -> Outcome:
        """Every acknowledged ballot in the database exactly once; the chain verified by
        ``heyat audit verify`` (run with no server up)."""
        async with db.transaction(write=False) as session:
            rows = list(
                await session.execute(select(Ballot.motion_id, Ballot.member_id, Ballot.receipt))
            )
            doubled = list(
                await session.execute(
                    select(Ballot.motion_id, Ballot.member_id)
                    .group_by(Ballot.motion_id, Ballot.member_id)
                    .having(func.count() > 1)
                )
            )
        stored = {(m, u, r) for m, u, r in rows}
        acked = self.ledger.acknowledged
        lost = sum(1 for a in set(acked) if (a.motion_id, a.member_id, a.receipt) not in stored)
        receipts_by_seat: dict[tuple[int, int], set[str]] = {}
        for a in acked:
            receipts_by_seat.setdefault((a.motion_id, a.member_id), set()).add(a.receipt)
        duplicated = (
            len(doubled)
            + sum(len(r) - 1 for r in receipts_by_seat.values())
            + (len(acked) - len(set(acked)))
        )
        verify = await asyncio.create_subprocess_exec(
            HEYAT,
            "audit",
            "verify",
            env=server_env(self.settings, self.port or 0),
            cwd=PROJECT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await verify.communicate()
        return Outcome(
            kills=self.ledger.kills,
            acknowledged=len(acked),
            lost=lost,
            duplicated=duplicated,
            audit_ok=verify.returncode == 0,
            audit_output=output.decode(errors="replace").strip(),
            ballots_in_db=len(rows),
            unanswered=self.ledger.unanswered,
        )


async def _healthy(server: ServeProcess) -> None:
    """Wait for /healthz as long as the server lives (ServeProcess.healthy gives up after
    30 s, which a start on a machine loaded far past its two cores has exceeded)."""
    async with asyncio.timeout(EVENTUALLY_SECONDS):
        while True:
            try:
                await server.healthy()
                return
            except AssertionError:
                server.check_alive()  # a server that exited fails here; a slow one is waited for


async def _close(client: socketio.AsyncClient) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.shutdown(), 5)


class _Round:
    """The members' casts on one motion at a time, within one life of the server."""

    def __init__(self, run: VotingRun, label: str) -> None:
        self.run = run
        self.latencies = run.ledger.latencies_ms.setdefault(label, [])
        self.motion_id = 0
        self.settled: set[int] = set()  # members whose ballot on the motion is known
        self.acks = 0
        self.inflight = 0
        self.changed = asyncio.Event()

    async def member(self, person: Voter, client: socketio.AsyncClient) -> None:
        """Cast until the server says this member's ballot is in: acknowledged, or
        ``already_voted`` (a ballot that committed before a kill took its answer)."""
        ledger = self.run.ledger
        while person.user_id not in self.settled:
            _step, code = await self.run.code_for(person)
            self.inflight += 1
            self.changed.set()
            started = time.perf_counter()
            answer = await client.call(
                "vote.cast",
                {"motion_id": self.motion_id, "choice": "for", "otp": code},
                namespace=NS,
                timeout=EVENTUALLY_SECONDS,
            )
            elapsed = (time.perf_counter() - started) * 1000
            self.inflight -= 1
            if isinstance(answer, dict) and "receipt" in answer:
                self.latencies.append(elapsed)
                ledger.acknowledged.append(
                    Ack(self.motion_id, person.user_id, str(answer["receipt"]))
                )
                self.acks += 1
                self.settled.add(person.user_id)
            else:
                error = answer.get("error", {}) if isinstance(answer, dict) else {}
                name = str(error.get("code", answer))
                ledger.refused[name] += 1
                if name in ("already_voted", "vote_closed"):
                    self.settled.add(person.user_id)
                elif name not in ("otp_reused", "otp_invalid"):
                    raise AssertionError(f"{person.username}: {answer}")
            self.changed.set()
