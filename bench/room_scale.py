"""Page-turn fan-out at 50, 100 and 200 rooms × 12 sockets on one ``heyat serve`` process,
beside a bare python-socketio server carrying the same load in the same run; then one and
two ``heyat serve`` processes sharing PostgreSQL and Redis behind nginx, and the page-turn
rate each sustains at the same p95.

The clients are not the bottleneck: the sockets are spread over WORKERS child processes
(multiprocessing), each holding whole rooms (the presenter and its 11 followers in one
process, so one clock times a delivery). In every room the presenter (the chair) turns a
page every INTERVAL seconds (open loop: on schedule, whether or not the last answer came;
the rooms start at random offsets); a delivery is the time from the presenter's emit to a
follower's receipt of that page. ``delivered`` is the share of (turns sent × 11) received
within a bounded drain after the run: a refused or unanswered turn counts as lost.

Part 1 (one process): the database is the embedded default (SQLite) seeded by
``bench/_common.prepare``; the bare server (``bench/_common.serve_baseline``) and ours are
measured alternately in BLOCKS runs each, with both sets of sockets connected throughout.

Part 2 (capacity; ``--cluster``): PostgreSQL (a database of its own, dropped afterwards),
Redis (a db number of its own) and nginx (Debian's binary, a config rendered into a
temporary directory: websocket upgrade, sticky by the client's address — long-polling needs
every request of a session on one process; every socket here has a loopback address of its
own). One process, then two, each with ROOMS rooms connected through nginx; the page-turn
rate rises step by step until p95 passes P95_BOUND_MS or a delivery is lost; a setup's
capacity is the highest rate that held both.

Run: ``python bench/room_scale.py [--levels 50,100,200] [--interval 2] [--cluster]``.
Lines: per level ``room_scale[R]: delivered=…% …``; the 200-room line again as
``room_scale: p50_ms=… p95_ms=… p99_ms=… baseline_p95_ms=… ratio=…``; with --cluster
``room_scale_cluster: p95_bound_ms=… one_process_turns_s=… two_processes_turns_s=…
capacity_ratio=…``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # the bench folder is not a package
    CLIENTS_PER_ROOM,
    NS,
    free_port,
    percentile,
    prepare,
    start_baseline,
    start_heyat,
    stop,
    wait_up,
)

FOLLOWERS = CLIENTS_PER_ROOM - 1
CALL_TIMEOUT = 30.0
DRAIN_SECONDS = 15.0  # after a run, how long deliveries may still arrive
CONNECT_PARALLEL = 48  # sockets connecting at once, per worker

# ---------------------------------------------------------------- the client workers


@dataclass
class RoomSockets:
    index: int
    hearing_id: int
    document_id: int
    presenter: Any
    followers: list[Any]
    sessions: list[Any]
    arrivals: dict[int, list[float]] = field(default_factory=dict)


@dataclass
class WorkerState:
    rooms: dict[str, list[RoomSockets]] = field(default_factory=dict)
    disconnects: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)


def source_address(index: int) -> str:
    """A loopback address of its own for socket ``index`` (127.1.0.1 …)."""
    return f"127.{1 + index // 62500}.{index // 250 % 250}.{index % 250 + 1}"


async def _connect_room(
    state: WorkerState, key: str, room: dict[str, Any], url: str, ours: bool, bind: bool
) -> RoomSockets:
    import aiohttp
    import socketio

    clients: list[Any] = []
    sessions: list[Any] = []
    arrivals: dict[int, list[float]] = {}
    for number, cookie in enumerate(room["cookies"]):
        kwargs: dict[str, Any] = {}
        if bind:
            address = source_address(room["index"] * CLIENTS_PER_ROOM + number)
            http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(local_addr=(address, 0), force_close=False)
            )
            sessions.append(http)
            kwargs["http_session"] = http
        client = socketio.AsyncClient(reconnection=False, **kwargs)

        async def on_disconnect(*args: Any) -> None:
            state.disconnects[key] = state.disconnects.get(key, 0) + 1
            reason = f"{key}:{args[0] if args else '?'}"
            state.reasons[reason] = state.reasons.get(reason, 0) + 1

        client.on("disconnect", on_disconnect, namespace=NS)
        if number > 0:

            async def on_room(event: dict[str, Any], number: int = number) -> None:
                if event.get("type") == "view":
                    arrivals.setdefault(event["seq"], []).append((time.perf_counter(), number))

            client.on("room", on_room, namespace=NS)
        headers = {"Origin": url}
        if ours:
            headers["Cookie"] = cookie
        await client.connect(
            url,
            namespaces=[NS],
            transports=["websocket"],
            headers=headers,
            auth={"hearing_id": room["hearing_id"]},
            wait_timeout=60,
        )
        clients.append(client)
    made = RoomSockets(
        room["index"], room["hearing_id"], room["document_id"], clients[0], clients[1:], sessions
    )
    made.arrivals = arrivals
    return made


async def _run_room(
    room: RoomSockets, t0: float, seconds: float, interval: float
) -> tuple[int, int, dict[int, float]]:
    """Turn pages on schedule; (turns sent, turns refused or unanswered, seq → emit time)."""
    room.arrivals.clear()
    sent_by_seq: dict[int, float] = {}
    failed = 0
    tasks: list[asyncio.Task[None]] = []

    async def turn(page: int) -> None:
        nonlocal failed
        started = time.perf_counter()
        try:
            answer = await room.presenter.call(
                "view.set",
                {"document_id": room.document_id, "page": page},
                namespace=NS,
                timeout=CALL_TIMEOUT,
            )
        except Exception:
            failed += 1
            return
        if not isinstance(answer, dict) or "seq" not in answer:
            failed += 1
            return
        sent_by_seq[answer["seq"]] = started

    at = t0 + random.uniform(0, interval)
    page = 0
    while at < t0 + seconds:
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        page += 1
        tasks.append(asyncio.ensure_future(turn(page % 4 + 1)))
        at += interval
    await asyncio.gather(*tasks)
    return len(tasks), failed, sent_by_seq


async def _run(
    state: WorkerState, key: str, seconds: float, interval: float, start_at: float
) -> dict[str, Any]:
    rooms = state.rooms[key]
    before = state.disconnects.get(key, 0)
    delay = start_at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    t0 = time.perf_counter()
    results = await asyncio.gather(*(_run_room(room, t0, seconds, interval) for room in rooms))

    def missing() -> int:
        return sum(
            max(0, FOLLOWERS - len(room.arrivals.get(seq, ())))
            for room, (_n, _f, sent) in zip(rooms, results, strict=True)
            for seq in sent
        )

    deadline = time.perf_counter() + DRAIN_SECONDS
    while missing() and time.perf_counter() < deadline:  # noqa: ASYNC110  # arrivals are many
        await asyncio.sleep(0.05)
    samples: list[float] = []
    lost: dict[str, int] = {}  # "hearing/follower" → deliveries it never got
    for room, (_n, _f, sent) in zip(rooms, results, strict=True):
        for seq, emitted in sent.items():
            got = room.arrivals.get(seq, [])
            samples.extend((t - emitted) * 1000 for t, _number in got[:FOLLOWERS])
            for number in set(range(1, CLIENTS_PER_ROOM)) - {n for _t, n in got}:
                name = f"h{room.hearing_id}/f{number}"
                lost[name] = lost.get(name, 0) + 1
    return {
        "lost": dict(sorted(lost.items(), key=lambda item: -item[1])[:8]),
        "reasons": dict(state.reasons),
        "turns": sum(r[0] for r in results),
        "failed": sum(r[1] for r in results),
        "samples": samples,
        "disconnects": state.disconnects.get(key, 0) - before,
    }


async def _connect_gated(
    gate: asyncio.Semaphore, errors: list[str], state: WorkerState, *args: Any
) -> RoomSockets | None:
    async with gate:
        try:
            return await _connect_room(state, *args)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            return None


async def _worker_main(conn: Any, rooms: list[dict[str, Any]]) -> None:
    loop = asyncio.get_running_loop()
    state = WorkerState()
    while True:
        command, *args = await loop.run_in_executor(None, conn.recv)
        if command == "quit":
            conn.send(("ok",))
            return
        if command == "connect":
            key, url, ours, bind, limit = args
            mine = [room for room in rooms if room["index"] < limit]
            gate = asyncio.Semaphore(max(1, CONNECT_PARALLEL // CLIENTS_PER_ROOM))
            errors: list[str] = []

            made = await asyncio.gather(
                *(_connect_gated(gate, errors, state, key, room, url, ours, bind) for room in mine)
            )
            state.rooms[key] = [room for room in made if room is not None]
            conn.send(("connected", len(state.rooms[key]) * CLIENTS_PER_ROOM, errors[:3]))
        elif command == "run":
            key, seconds, interval, start_at = args
            conn.send(("ran", await _run(state, key, seconds, interval, start_at)))
        elif command == "disconnect":
            (key,) = args
            for room in state.rooms.pop(key, []):
                for client in [room.presenter, *room.followers]:
                    with contextlib.suppress(Exception):  # already gone: nothing to close
                        await client.disconnect()
                for http in room.sessions:
                    await http.close()
            conn.send(("ok",))


def worker(conn: Any, rooms: list[dict[str, Any]]) -> None:
    asyncio.run(_worker_main(conn, rooms))


class Workers:
    """WORKERS child processes, each holding every WORKERS-th room of the plan."""

    def __init__(self, plan: list[dict[str, Any]], count: int) -> None:
        context = mp.get_context("spawn")
        self.conns: list[Any] = []
        self.procs: list[Any] = []
        for number in range(count):
            parent, child = context.Pipe()
            mine = [dict(room, index=i) for i, room in enumerate(plan) if i % count == number]
            proc = context.Process(target=worker, args=(child, mine), daemon=True)
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)

    async def ask(self, *command: Any) -> list[Any]:
        loop = asyncio.get_running_loop()
        for conn in self.conns:
            conn.send(command)
        return list(
            await asyncio.gather(*(loop.run_in_executor(None, conn.recv) for conn in self.conns))
        )

    async def connect(self, key: str, url: str, *, ours: bool, bind: bool, rooms: int) -> None:
        started = time.perf_counter()
        answers = await self.ask("connect", key, url, ours, bind, rooms)
        connected = sum(answer[1] for answer in answers)
        errors = [error for answer in answers for error in answer[2]]
        print(
            f"  {key}: {connected} sockets connected in {time.perf_counter() - started:.1f} s"
            + (f"; failed: {errors}" if errors else ""),
            flush=True,
        )
        if connected < rooms * CLIENTS_PER_ROOM:
            raise SystemExit(f"{key}: only {connected} of {rooms * CLIENTS_PER_ROOM} connected")

    async def run(self, key: str, seconds: float, interval: float) -> dict[str, Any]:
        answers = await self.ask("run", key, seconds, interval, time.time() + 0.5)
        merged: dict[str, Any] = {"turns": 0, "failed": 0, "samples": [], "disconnects": 0}
        for _tag, result in answers:
            if result["lost"] or result["reasons"]:
                print(f"    lost: {result['lost']} disconnects: {result['reasons']}", flush=True)
            for name in ("turns", "failed", "disconnects"):
                merged[name] += result[name]
            merged["samples"].extend(result["samples"])
        return merged

    async def disconnect(self, key: str) -> None:
        await self.ask("disconnect", key)

    async def close(self) -> None:
        await self.ask("quit")
        for proc in self.procs:
            proc.join(timeout=10)


@dataclass
class Tally:
    turns: int = 0
    failed: int = 0
    disconnects: int = 0
    samples: list[float] = field(default_factory=list)

    def add(self, result: dict[str, Any]) -> None:
        self.turns += result["turns"]
        self.failed += result["failed"]
        self.disconnects += result["disconnects"]
        self.samples.extend(result["samples"])

    @property
    def expected(self) -> int:
        return self.turns * FOLLOWERS

    @property
    def delivered_pct(self) -> float:
        return 100.0 * len(self.samples) / self.expected if self.expected else 0.0

    def describe(self) -> str:
        data = self.samples or [float("nan")]
        return (
            f"delivered={_pct(self.delivered_pct)} ({len(self.samples)}/{self.expected}) "
            f"refused_turns={self.failed} disconnects={self.disconnects} "
            f"p50={percentile(data, 50):.1f} p95={percentile(data, 95):.1f} "
            f"p99={percentile(data, 99):.1f} mean={statistics.fmean(data):.1f} ms"
        )


def _pct(value: float) -> str:
    """100% only when nothing was lost (never rounded up)."""
    if value >= 100.0:
        return "100%"
    return f"{min(value, 99.99):.2f}%"


# ---------------------------------------------------------------- part 1: one process


async def one_process(args: argparse.Namespace, tmp: Path) -> None:
    levels = sorted(int(level) for level in args.levels.split(","))
    started = time.perf_counter()
    env, plan = await prepare(tmp, max(levels))
    print(f"seeded {len(plan)} rooms in {time.perf_counter() - started:.1f} s", flush=True)
    ours_port, base_port, old_port = free_port(), free_port(), free_port()
    log = (tmp / "servers.log").open("wb")
    ours = start_heyat(env, ours_port, log)
    bare = start_baseline(base_port, log)
    procs = [ours, bare]
    urls = {"base": f"http://127.0.0.1:{base_port}", "ours": f"http://127.0.0.1:{ours_port}"}
    if args.old_tree:  # the same load on another checkout's code (before/after a change)
        old_env = dict(env, PYTHONPATH=args.old_tree, HEYAT_DATABASE_URL=env["HEYAT_DATABASE_URL"])
        procs.append(start_heyat(old_env, old_port, log))
        urls["old"] = f"http://127.0.0.1:{old_port}"
    workers = Workers(plan, args.workers)
    results: dict[int, dict[str, Tally]] = {}
    try:
        for port, proc in zip((ours_port, base_port, old_port), procs, strict=False):
            await wait_up(port, proc)
        for rooms in levels:
            print(f"{rooms} rooms × {CLIENTS_PER_ROOM} sockets:", flush=True)
            for name, url in urls.items():
                await workers.connect(
                    f"{name}{rooms}", url, ours=name != "base", bind=False, rooms=rooms
                )
            tallies = {name: Tally() for name in urls}
            # Alternate, so that none profits from a quieter moment of the machine.
            for _block in range(args.blocks):
                for name in urls:
                    tallies[name].add(
                        await workers.run(f"{name}{rooms}", args.seconds, args.interval)
                    )
            for name in urls:
                await workers.disconnect(f"{name}{rooms}")
            results[rooms] = tallies
            for name, tally in tallies.items():
                print(f"  {name:5} {tally.describe()}", flush=True)
    finally:
        await workers.close()
        for proc in procs:
            stop(proc)
        log.close()
        if args.keep_log:
            shutil.copy(tmp / "servers.log", args.keep_log)
    rate = 1 / args.interval
    for rooms, tallies in results.items():
        base, mine = tallies["base"], tallies["ours"]
        ratio = percentile(mine.samples, 95) / percentile(base.samples, 95)
        old = tallies.get("old")
        print(
            f"room_scale[{rooms}]: delivered={_pct(mine.delivered_pct)} "
            f"turns_s={rooms * rate:.0f} p50_ms={percentile(mine.samples, 50):.1f} "
            f"p95_ms={percentile(mine.samples, 95):.1f} p99_ms={percentile(mine.samples, 99):.1f} "
            f"baseline_delivered={_pct(base.delivered_pct)} "
            f"baseline_p95_ms={percentile(base.samples, 95):.1f} ratio={ratio:.2f}"
            + (
                f" old_delivered={_pct(old.delivered_pct)} "
                f"old_p95_ms={percentile(old.samples, 95):.1f}"
                if old
                else ""
            )
        )
    top = max(results)
    base, mine = results[top]["base"], results[top]["ours"]
    print(
        f"room_scale: rooms={top} delivered={_pct(mine.delivered_pct)} "
        f"p50_ms={percentile(mine.samples, 50):.2f} p95_ms={percentile(mine.samples, 95):.2f} "
        f"p99_ms={percentile(mine.samples, 99):.2f} "
        f"baseline_p95_ms={percentile(base.samples, 95):.2f} "
        f"ratio={percentile(mine.samples, 95) / percentile(base.samples, 95):.2f}",
        flush=True,
    )


# ---------------------------------------------------------------- part 2: processes behind nginx

NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 20000; }}
worker_rlimit_nofile 20000;
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream heyat {{
        # Sticky by the client's whole address (ip_hash would use only its first three
        # octets): Socket.IO's long-polling needs every request of a session on one process.
        hash $remote_addr consistent;
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://heyat;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_read_timeout 120s;
            proxy_buffering off;
        }}
    }}
}}
"""


def start_nginx(tmp: Path, port: int, backends: list[int]) -> subprocess.Popen[bytes]:
    conf = tmp / "nginx.conf"
    servers = "\n".join(f"        server 127.0.0.1:{backend};" for backend in backends)
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, servers=servers))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(tmp), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


async def _pg(admin_url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def capacity(
    args: argparse.Namespace,
    workers: Workers,
    env: dict[str, str],
    tmp: Path,
    processes: int,
) -> tuple[float, list[str]]:
    """The highest page-turn rate (turns/s over all rooms) whose p95 ≤ the bound with
    nothing lost, for ``processes`` servers behind nginx."""
    run_dir = tmp / f"p{processes}"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    ports = [free_port() for _ in range(processes)]
    front = free_port()
    url = f"http://127.0.0.1:{front}"
    log = (run_dir / "servers.log").open("wb")
    servers = [start_heyat(dict(env, HEYAT_BASE_URL=url), port, log) for port in ports]
    nginx = start_nginx(run_dir, front, ports)
    lines: list[str] = []
    best = 0.0
    key = f"cluster{processes}"
    try:
        for port, proc in zip(ports, servers, strict=True):
            await wait_up(port, proc)
        await wait_up(front, nginx)
        print(f"{processes} process(es) behind nginx, {args.cluster_rooms} rooms:", flush=True)
        await workers.connect(key, url, ours=True, bind=True, rooms=args.cluster_rooms)
        rate = args.start_rate
        while rate <= args.max_rate:
            interval = args.cluster_rooms / rate
            tally = Tally()
            tally.add(await workers.run(key, args.step_seconds, interval))
            p95 = percentile(tally.samples, 95)
            held = p95 <= args.p95_bound and tally.delivered_pct >= 100.0
            line = f"  {rate:.0f} turns/s: {tally.describe()} {'held' if held else 'NOT held'}"
            print(line, flush=True)
            lines.append(line)
            if not held:
                break
            best = rate
            rate *= args.rate_step
        await workers.disconnect(key)
    finally:
        for proc in [nginx, *servers]:
            stop(proc)
        log.close()
    return best, lines


async def cluster(args: argparse.Namespace, tmp: Path) -> None:
    admin = args.pg_admin_url
    database = "heyat_bench_scale"
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    drop = f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"
    await _pg(admin, drop, f"CREATE DATABASE {database}")
    try:
        started = time.perf_counter()
        env, plan = await prepare(tmp, args.cluster_rooms, f"{base}/{database}")
        print(f"seeded {len(plan)} rooms on PostgreSQL in {time.perf_counter() - started:.1f} s")
        env.update(HEYAT_REDIS_URL=args.redis_url, HEYAT_REDIS_CHANNEL="heyat-bench-scale")
        workers = Workers(plan, args.workers)
        try:
            one, _ = await capacity(args, workers, env, tmp, 1)
            two, _ = await capacity(args, workers, env, tmp, 2)
        finally:
            await workers.close()
    finally:
        await _pg(admin, drop)
    print(
        f"room_scale_cluster: rooms={args.cluster_rooms} p95_bound_ms={args.p95_bound:.0f} "
        f"one_process_turns_s={one:.0f} two_processes_turns_s={two:.0f} "
        f"capacity_ratio={two / one if one else float('nan'):.2f}",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", default="50,100,200", help="rooms counts, one process")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between turns")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of one block")
    parser.add_argument("--blocks", type=int, default=2, help="alternating blocks per server")
    parser.add_argument("--workers", type=int, default=4, help="client processes")
    parser.add_argument("--keep-log", help="copy the servers' log here")
    parser.add_argument("--old-tree", help="also measure heyat from this checkout (A/B)")
    parser.add_argument("--cluster", action="store_true", help="also part 2")
    parser.add_argument("--cluster-only", action="store_true")
    parser.add_argument("--cluster-rooms", type=int, default=100)
    parser.add_argument("--p95-bound", type=float, default=50.0, help="ms")
    parser.add_argument("--start-rate", type=float, default=25.0, help="turns/s")
    parser.add_argument("--rate-step", type=float, default=1.25)
    parser.add_argument("--max-rate", type=float, default=2000.0)
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()
    if not args.cluster_only:
        with tempfile.TemporaryDirectory(prefix="heyat-scale-") as tmp_name:
            await one_process(args, Path(tmp_name))
    if args.cluster or args.cluster_only:
        with tempfile.TemporaryDirectory(prefix="heyat-scale-") as tmp_name:
            await cluster(args, Path(tmp_name))


if __name__ == "__main__":
    asyncio.run(main())
