"""Cast → acknowledgement latency of one ballot, over a live server, beside a bare
websockets echo measured in the same run.

Set-up (all its own, in a temporary directory): a SQLite database migrated and seeded
with the demo, a diagnosis case with many claims on a hearing in the voting phase, the
three members and the secretary in the room, and one open motion per claim. One member
then casts a ballot on each motion in turn:

* first over the hearing room's socket (the member's natural path: they are in the room),
  the ``vote.cast`` event on ``/hearing`` (websocket transport): rate limit, size cap,
  schema, login-session re-check, fresh TOTP code, row lock, audit chain, commit, ack
  with the receipt, then the room's progress event — this is the headline figure;
* then over the HTTP POST ``/api/v1/motions/<id>/ballots`` (CSRF, schema, the same
  service), printed as a second figure.

Each cast needs a code for a new time-step: the server runs in this process, so the bench
moves the server's clock (``hearing_server.clock``) 30 s forward before each cast and
computes the code with pyotp from the member's known secret. The member's socket client
runs in a child process (as a member's browser is not inside the server): it gets each
cast's payload over a pipe, times ``vote.cast`` → ack itself and reports the figure back.
Because the clock jumps 30 s a cast, every cast also re-checks the login session and every
other one touches it, as a real cast a minute or more after the member's last event does.
The other members do not vote, so no motion closes and every cast does the same work.
Casts are paced PACE apart (the room allows a socket 10 events a second).

The baseline is a bare ``websockets`` echo server on loopback in this process, its client
in a child process as ours: a message of the same size sent and echoed back.

Besides the latencies it prints the SQL statements per cast, one cast's statements
(``--show-sql``), a cProfile of the socket casts (``--profile``), and the server-side
sections of a socket cast: voting's handler, the namespace's whole transaction (session
re-check, handler, commit, after-commit emits) and the time spent inside SQL statements
(execute → rows, the hop to aiosqlite's thread and back included).

Run: ``python bench/vote_cast.py [--casts N] [--profile] [--show-sql]``. The last line is
``vote_cast: p50_ms=… p95_ms=… p99_ms=… baseline_p95_ms=… ratio=…`` (socket path) where
``ratio`` is our p99 over the baseline's p99 (the issue's figure is p99 ≤ 10 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WARMUP = 10
PROFILE_SORT = "tottime"
PACE = 0.12  # seconds between casts (the room allows 10 events/s per socket)
NS = "/hearing"


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def spawn_self(
    mode: str, spec: dict[str, Any], *, stdin: bool = False
) -> asyncio.subprocess.Process:
    """This script in a child process, as ``mode`` (``--client``, ``--echo-client``) with
    ``spec``; its stdout (and stdin when asked) piped to this process."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        mode,
        json.dumps(spec),
        stdin=asyncio.subprocess.PIPE if stdin else None,
        stdout=asyncio.subprocess.PIPE,
        cwd=str(ROOT),
    )


async def prepare(tmp: Path, motions: int) -> tuple[Any, dict[str, Any], list[int]]:
    from cryptography.fernet import Fernet
    from sqlalchemy import select

    from hearing_server import clock
    from hearing_server.accounts.models import User
    from hearing_server.cases.models import Case, CaseStatus, Claim, ClaimKind
    from hearing_server.config import Settings
    from hearing_server.db import Database
    from hearing_server.demo import demo_summary, do_seed_demo
    from hearing_server.law.rules import BoardType
    from hearing_server.migrate import upgrade_async
    from hearing_server.rooms.models import Attendance
    from hearing_server.scheduling.models import HearingStatus, RoomPhase
    from hearing_server.voting import motions
    from hearing_server.voting.models import MotionKind
    from tests.factories import make_case, make_hearing

    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    settings = Settings(
        var_dir=tmp,
        database_url=url,
        secret_key="bench-" + Fernet.generate_key().decode(),
        totp_keys=(Fernet.generate_key().decode(),),
        files_dir=tmp / "files",
        pki_dir=tmp / "pki",
        mail_sender="dev",
    )
    await upgrade_async(url)
    db = Database(url)
    async with db.transaction() as session:
        await do_seed_demo(session, settings)
        summary = await demo_summary(session, settings)
    members = ["member.gov1", "member.wrk1", "member.emp1"]
    async with db.transaction() as session:
        case: Case = await make_case(
            session,
            board_type=BoardType.DIAGNOSIS,
            claims=[(ClaimKind.OTHER, 1_000_000 + i) for i in range(motions)],
        )
        hearing = await make_hearing(session, cases=[case], board_type=BoardType.DIAGNOSIS)
        case.status = CaseStatus.IN_HEARING
        hearing.phase = RoomPhase.VOTING
        hearing.status = HearingStatus.IN_PROGRESS
        users = {
            u.username: u
            for u in await session.scalars(
                select(User).where(User.username.in_([*members, "secretary"]))
            )
        }
        for name, user in users.items():
            session.add(
                Attendance(
                    hearing_id=hearing.id,
                    user_id=user.id,
                    role="secretary" if name == "secretary" else "member",
                    joined_at=clock.utcnow(),
                    admitted=True,
                )
            )
        await session.flush()
        claim_ids = list(
            await session.scalars(
                select(Claim.id).where(Claim.case_id == case.id).order_by(Claim.position)
            )
        )
        motion_ids = []
        for claim_id in claim_ids:
            motion = await motions.do_open_motion(
                session,
                actor=users["secretary"],
                hearing_id=hearing.id,
                case_id=case.id,
                kind=MotionKind.ACCEPT,
                claim_id=claim_id,
                text="پذیرش خواسته",
            )
            motion_ids.append(motion.id)
    await db.dispose()
    person = next(p for p in summary["users"] if p["username"] == "member.wrk1")
    return settings, person, motion_ids


class Sections:
    """Server-side wall time of each socket cast, by section (bench-only wrappers):
    ``run`` — the namespace's transaction (session re-check, handler, commit, after-commit
    emits); ``handler`` — voting's ``vote.cast`` room action (the service, up to the flush)."""

    def __init__(self) -> None:
        self.run: list[float] = []
        self.handler: list[float] = []
        self.on = False
        # Garbage-collector pauses inside the measured casts: (generation, ms).
        self.gc: list[tuple[int, float]] = []
        self.commit: list[float] = []  # AsyncSession.commit (COMMIT, WAL checkpoints included)
        self._gc_started = 0.0

    def _gc_callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self.on:
            self.gc.append((info["generation"], (time.perf_counter() - self._gc_started) * 1000))

    def install(self, app: Any) -> None:
        from hearing_server.rooms.namespace import HearingNamespace

        sections = self
        gc.callbacks.append(self._gc_callback)
        from sqlalchemy.ext.asyncio import AsyncSession

        original_commit = AsyncSession.commit

        async def timed_commit(session: Any) -> None:
            start = time.perf_counter()
            try:
                await original_commit(session)
            finally:
                if sections.on:
                    sections.commit.append((time.perf_counter() - start) * 1000)

        AsyncSession.commit = timed_commit  # type: ignore[method-assign]  # bench-only timing
        original_run = HearingNamespace._run

        async def timed_run(self: Any, *args: Any) -> Any:
            start = time.perf_counter()
            try:
                return await original_run(self, *args)
            finally:
                if sections.on:
                    sections.run.append((time.perf_counter() - start) * 1000)

        HearingNamespace._run = timed_run  # type: ignore[method-assign]  # bench-only timing
        import dataclasses

        actions = app.runtime.rooms.actions
        cast_action = actions.get("vote.cast")
        assert cast_action is not None
        original_handler = cast_action.handler

        async def timed_handler(session: Any, ctx: Any, payload: Any) -> Any:
            start = time.perf_counter()
            try:
                return await original_handler(session, ctx, payload)
            finally:
                if sections.on:
                    sections.handler.append((time.perf_counter() - start) * 1000)

        actions.replace(dataclasses.replace(cast_action, handler=timed_handler))


class Statements:
    """Counts the SQL statements the server's engine executes (per cast, on average) and,
    for the socket casts, the wall time from each statement's start to its rows being
    fetched (the thread hop to aiosqlite and back included). The rooms part's statements
    sent straight to aiosqlite are counted and timed too (marked "(direct)")."""

    def __init__(self, *engines: Any) -> None:
        from sqlalchemy import event

        self.count = 0
        self.texts: list[str] = []
        self.keep = False
        self.timing = False
        self.spent = 0.0
        self._started: dict[int, float] = {}

        def before(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
            self.count += 1
            if self.keep:
                self.texts.append(" ".join(statement.split())[:110])
            if self.timing:
                self._started[id(cursor)] = time.perf_counter()

        self.slowest: list[tuple[float, str]] = []

        def after(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
            start = self._started.pop(id(cursor), None)
            if start is not None:
                ms = (time.perf_counter() - start) * 1000
                self.spent += ms
                self.slowest.append((ms, " ".join(statement.split())[:60]))

        for one in engines:
            event.listen(one.sync_engine, "before_cursor_execute", before)
            event.listen(one.sync_engine, "after_cursor_execute", after)

        # The rooms part's hot statements go straight to aiosqlite on SQLite, past the
        # engine's events: count and time them here too (bench-only wrapper).
        from hearing_server.rooms.hot import HotStatement

        original_rows = HotStatement.rows
        statements = self

        async def counted_rows(hot: Any, session: Any, params: dict[str, Any]) -> list[Any]:
            if session.get_bind().dialect.name != "sqlite":
                return await original_rows(hot, session, params)
            await session.connection()  # the transaction's BEGIN first, as in the listing
            statements.count += 1
            if statements.keep:
                statements.texts.append("(direct) " + " ".join(hot.sqlite_sql.split())[:101])
            start = time.perf_counter()
            try:
                return await original_rows(hot, session, params)
            finally:
                if statements.timing:
                    ms = (time.perf_counter() - start) * 1000
                    statements.spent += ms
                    statements.slowest.append((ms, hot.sqlite_sql[:60]))

        HotStatement.rows = counted_rows  # type: ignore[method-assign]  # bench-only


async def bench_votes(
    settings: Any, person: dict[str, Any], motion_ids: list[int], *, profile: bool
) -> dict[str, Any]:
    """Cast one ballot per motion: the first half over the room socket (``vote.cast``),
    the second half over the HTTP POST, against one live server in this event loop."""
    import cProfile
    import dataclasses
    import pstats

    import httpx
    import pyotp
    import uvicorn
    from sqlalchemy import select

    from hearing_server import clock
    from hearing_server.app import create_app
    from hearing_server.voting.models import Motion

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(dataclasses.replace(settings, base_url=url))
    statements = Statements(app.runtime.db.engine)
    sections = Sections()
    sections.install(app)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    totp = pyotp.TOTP(person["totp_secret"])
    half = len(motion_ids) // 2
    out: dict[str, Any] = {}
    async with app.runtime.db.transaction(write=False) as session:
        hearing_id = await session.scalar(
            select(Motion.hearing_id).where(Motion.id == motion_ids[0])
        )
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            response = await client.post(
                "/api/v1/auth/login",
                json={
                    "username": person["username"],
                    "password": person["password"],
                    "otp": totp.at(clock.utcnow()),
                },
            )
            response.raise_for_status()
            headers = {"X-CSRF-Token": response.json()["csrf_token"]}
            cookie = f"heyat_session={response.cookies['heyat_session']}"

            # -- the socket path: the member is in the room, the ack carries the receipt.
            # The member's client is a separate process (as a member's browser would be):
            # this process only serves, and moves the server's clock for each new code.
            client_proc = await spawn_self(
                "--client", {"url": url, "cookie": cookie, "hearing_id": hearing_id}, stdin=True
            )
            assert client_proc.stdin is not None and client_proc.stdout is not None

            async def ask(line: str) -> str:
                assert client_proc.stdin is not None and client_proc.stdout is not None
                client_proc.stdin.write(line.encode() + b"\n")
                await client_proc.stdin.drain()
                return (await client_proc.stdout.readline()).decode().strip()

            if await ask("ready") != "ready":
                raise SystemExit("the bench's socket client did not connect")
            samples: list[float] = []
            profiler = cProfile.Profile() if profile else None
            before = statements.count
            for index, motion_id in enumerate(motion_ids[:half]):
                clock.advance(timedelta(seconds=30))  # the server's clock: a new time-step
                data = {"motion_id": motion_id, "choice": "for", "otp": totp.at(clock.utcnow())}
                # The room's per-socket limit is 10 events/s: pace like a (fast) person.
                await asyncio.sleep(PACE)
                statements.keep = index == WARMUP
                sections.on = index >= WARMUP
                statements.timing = index >= WARMUP
                if profiler is not None and index >= WARMUP:
                    profiler.enable()
                answer = json.loads(await ask(json.dumps(data)))
                if profiler is not None:
                    profiler.disable()
                statements.keep = False
                sections.on = False
                statements.timing = False
                ack = answer["ack"]
                if not isinstance(ack, dict) or "receipt" not in ack:
                    raise SystemExit(f"cast refused over the socket: {ack}")
                samples.append(answer["ms"])
            out["socket_statements"] = (statements.count - before) / half
            out["socket"] = samples[WARMUP:]
            out["one_cast"] = list(statements.texts)
            out["sections"] = sections
            out["sql_ms"] = statements.spent / max(1, half - WARMUP)
            out["slowest"] = sorted(statements.slowest, reverse=True)[:5]
            out["statement_ms"] = [ms for ms, _ in statements.slowest]
            if profiler is not None:
                stats = pstats.Stats(profiler)
                stats.sort_stats(PROFILE_SORT).print_stats(30)

            # -- the HTTP POST path, for comparison (the socket stays in the room: presence)
            samples = []
            before = statements.count
            for motion_id in motion_ids[half:]:
                clock.advance(timedelta(seconds=30))
                body = {"choice": "for", "otp": totp.at(clock.utcnow())}
                await asyncio.sleep(PACE)
                start = time.perf_counter()
                answer = await client.post(
                    f"/api/v1/motions/{motion_id}/ballots", json=body, headers=headers
                )
                elapsed = (time.perf_counter() - start) * 1000
                if answer.status_code != 201:
                    raise SystemExit(f"cast refused: {answer.status_code} {answer.text}")
                samples.append(elapsed)
            out["http_statements"] = (statements.count - before) / (len(motion_ids) - half)
            out["http"] = samples[WARMUP:]
            await ask("bye")  # the member's socket stayed in the room (presence) until here
            await client_proc.wait()
    finally:
        server.should_exit = True
        await task
    return out


async def run_client(spec: dict[str, Any]) -> None:
    """The member's socket, in its own process: one line in (a cast's payload), one line
    out (the ack and the cast → ack time in ms), over stdin/stdout."""
    import socketio

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        spec["url"],
        namespaces=[NS],
        transports=["websocket"],
        headers={"Cookie": spec["cookie"], "Origin": spec["url"]},
        auth={"hearing_id": spec["hearing_id"]},
        wait_timeout=10,
    )
    try:
        while line := (await reader.readline()).decode().strip():
            if line == "ready":
                print("ready", flush=True)
                continue
            if line == "bye":
                print("bye", flush=True)
                break
            data = json.loads(line)
            start = time.perf_counter()
            ack = await sio.call("vote.cast", data, namespace=NS, timeout=30)
            elapsed = (time.perf_counter() - start) * 1000
            print(json.dumps({"ack": ack, "ms": elapsed}), flush=True)
    finally:
        await sio.disconnect()


async def bench_echo(count: int, size: int) -> list[float]:
    """A bare websockets echo server here, its client in a separate process (as ours)."""
    import websockets

    async def echo(connection: Any) -> None:
        async for message in connection:
            await connection.send(message)

    port = free_port()
    async with websockets.serve(echo, "127.0.0.1", port):
        proc = await spawn_self("--echo-client", {"port": port, "count": count, "size": size})
        out, _ = await proc.communicate()
    return [float(x) for x in json.loads(out)]


async def run_echo_client(spec: dict[str, Any]) -> None:
    import websockets

    message = json.dumps({"choice": "for", "otp": "123456", "pad": "x" * max(0, spec["size"] - 40)})
    samples: list[float] = []
    async with websockets.connect(f"ws://127.0.0.1:{spec['port']}") as client:
        for _ in range(spec["count"] + WARMUP):
            await asyncio.sleep(PACE / 10)
            start = time.perf_counter()
            await client.send(message)
            await client.recv()
            samples.append((time.perf_counter() - start) * 1000)
    print(json.dumps(samples[WARMUP:]))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--casts", type=int, default=300, help="ballots per path (one per motion)")
    parser.add_argument("--profile", action="store_true", help="cProfile the socket casts")
    parser.add_argument("--show-sql", action="store_true", help="print one cast's statements")
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval in ms (GIL hand-over to aiosqlite's thread; default 5 ms)",
    )
    args = parser.parse_args()
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval / 1000)
    logging.basicConfig(level=logging.WARNING)
    per_path = args.casts + WARMUP
    with tempfile.TemporaryDirectory(prefix="heyat-bench-") as tmp:
        settings, person, motion_ids = await prepare(Path(tmp), 2 * per_path)
        result = await bench_votes(settings, person, motion_ids, profile=args.profile)
    ours, http = result["socket"], result["http"]
    base = await bench_echo(len(ours), 300)
    p50, p95, p99 = (percentile(ours, p) for p in (50, 95, 99))
    h50, h95, h99 = (percentile(http, p) for p in (50, 95, 99))
    b50, b95, b99 = (percentile(base, p) for p in (50, 95, 99))
    if args.show_sql:
        print("statements of one socket cast:")
        for line in result["one_cast"]:
            print("  ", line)
    print(
        f"HTTP POST cast → 201, {len(http)} ballots: p50={h50:.2f} ms p95={h95:.2f} ms "
        f"p99={h99:.2f} ms max={max(http):.2f} ms, "
        f"{result['http_statements']:.1f} SQL statements per cast"
    )
    print(
        f"socket vote.cast → ack, {len(ours)} ballots: mean={statistics.mean(ours):.2f} ms "
        f"max={max(ours):.2f} ms, {result['socket_statements']:.1f} SQL statements per cast"
    )
    sections = result["sections"]
    if sections.run and sections.handler:
        run50, run99 = percentile(sections.run, 50), percentile(sections.run, 99)
        s50, s99 = percentile(sections.handler, 50), percentile(sections.handler, 99)
        print(
            f"socket sections (server side): vote.cast handler p50={s50:.2f} ms p99={s99:.2f} ms; "
            f"transaction incl. session re-check + commit + emit p50={run50:.2f} ms "
            f"p99={run99:.2f} ms; the rest (socket.io, websocket, client) "
            f"p50≈{p50 - run50:.2f} ms; inside SQL statements (execute → rows) "
            f"{result['sql_ms']:.2f} ms per cast"
        )
    if sections.commit:
        print(
            f"commit: p50={percentile(sections.commit, 50):.2f} ms "
            f"p99={percentile(sections.commit, 99):.2f} ms max={max(sections.commit):.2f} ms; "
            f"one statement: p50={percentile(result['statement_ms'], 50):.2f} ms "
            f"p99={percentile(result['statement_ms'], 99):.2f} ms; slowest: "
            + "; ".join(f"{ms:.1f} ms {text}" for ms, text in result["slowest"][:3])
        )
    if sections.gc:
        by_gen = {g: [ms for gen, ms in sections.gc if gen == g] for g in (0, 1, 2)}
        print(
            "garbage collections during the socket casts: "
            + ", ".join(f"gen{g} ×{len(v)} max={max(v):.2f} ms" for g, v in by_gen.items() if v)
        )
    print(f"bare websockets echo: p50={b50:.3f} ms p95={b95:.3f} ms p99={b99:.3f} ms")
    print(f"target: p99 ≤ 10 ms → {'met' if p99 <= 10 else 'NOT met'}")
    print(
        f"vote_cast: p50_ms={p50:.2f} p95_ms={p95:.2f} p99_ms={p99:.2f} "
        f"baseline_p95_ms={b95:.3f} ratio={p99 / b99:.1f}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--client":
        asyncio.run(run_client(json.loads(sys.argv[2])))
    elif len(sys.argv) == 3 and sys.argv[1] == "--echo-client":
        asyncio.run(run_echo_client(json.loads(sys.argv[2])))
    else:
        asyncio.run(main())
