"""Reconnect storm: ``kill -9`` the server under 600 connected room sockets, start it again
on the same port, and time how long until every socket has reconnected and resynced —
beside a bare python-socketio server killed and restarted the same way, in the same run.

Set-up (``bench._common.prepare``): a fresh SQLite database in a temporary directory with
ROOMS hearings × 12 signed-in sessions. Our server is ``heyat serve`` in a child process;
the baseline is a bare python-socketio ``AsyncServer`` served by ``uvicorn.run`` with the
same defaults, whose ``sync`` only answers the number it holds in memory (it has nothing to
replay: a kill -9 took it all). The clients are spread over PROCS child processes (a
``socketio.AsyncClient`` per socket, websocket transport), so one client loop does not hold
up the others.

Each run (ours, then the baseline, with the same clients):

1. every socket connects and takes the room's snapshot (``sync {last_seq: null}``);
2. AWAY sockets of every room leave (as a closed laptop would), and the presenter turns
   TURNS pages that they miss; the orchestrator ``kill -9``s the server the moment the last
   turn is acknowledged, so some of those page turns reach nobody before the kill;
3. the server is started again on the same port; every socket reconnects by itself (the
   away ones come back at the kill) and asks ``sync {last_seq}`` with the last number it
   applied, applying the answer the way ``static/js/room.js`` does (live events wait while
   a sync is on its way; a gap in the numbers asks again);
4. (ours) every socket takes a final snapshot and checks that its page equals the server's,
   that its last number equals the server's, and that it applied every event of its room
   it may see (read from the database) after its first snapshot — none missed.

Clients retry every RETRY s (±50 %) while the server is down (room.js backs off from
0.5 s to 5 s; a short fixed delay makes the figure the server's, not the back-off's).
Times are from the moment the restarted server accepts connections to each socket's
resync; ``all_ms`` is the last socket's.

Run: ``python bench/reconnect_storm.py [--rooms 50] [--procs 4]``. Last line:
``reconnect_storm: clients=… resynced=… p50_ms=… p95_ms=… all_ms=… baseline_all_ms=… ratio=…``
(ratio = our all_ms / the baseline's).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import free_port, percentile, prepare  # noqa: E402  (after the path is set)
from hearing_server.media.supervisor import die_with_parent  # noqa: E402

NS = "/hearing"
AWAY = 3  # sockets per room that are away while the presenter turns pages
TURNS = 5  # page turns per room before the kill
RETRY = 0.2  # seconds between a client's reconnection attempts (±50 %) while the server is down
CONNECT_WAIT = 20.0  # seconds a client waits for its connect's answer (socket.io's browser client)
REFUSED_PAUSE = (1.0, 3.0)  # after a refusal (busy, internal): room.js's pause, in seconds
STORM_TIMEOUT = 180.0  # seconds the clients wait for the storm to settle


# ---------------------------------------------------------------- the bare baseline server


def serve_baseline(port: int) -> None:
    """A bare python-socketio server with our server's options: joins the room named in
    auth; ``view.set`` numbers and re-emits the page; ``sync`` answers what it holds in
    memory (after a kill -9, nothing)."""
    from datetime import UTC, datetime

    import socketio
    import uvicorn

    sio = socketio.AsyncServer(
        async_mode="asgi",
        cors_allowed_origins=[f"http://127.0.0.1:{port}"],
        max_http_buffer_size=64 * 1024,
        transports=["websocket", "polling"],
    )
    seqs: dict[int, int] = {}
    views: dict[int, dict[str, Any]] = {}

    @sio.on("connect", namespace=NS)
    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any]) -> None:
        await sio.enter_room(sid, f"h{auth['hearing_id']}:all", namespace=NS)
        await sio.save_session(sid, {"hearing_id": auth["hearing_id"]}, namespace=NS)

    @sio.on("sync", namespace=NS)
    async def sync(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        hearing_id = (await sio.get_session(sid, namespace=NS))["hearing_id"]
        seq = seqs.get(hearing_id, 0)
        if data.get("last_seq") is None:
            view = views.get(hearing_id, {"document_id": None, "page": 1, "zoom": 100})
            return {"seq": seq, "snapshot": {"view": view}}
        return {"seq": seq, "events": []}

    @sio.on("view.set", namespace=NS)
    async def view_set(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        hearing_id = (await sio.get_session(sid, namespace=NS))["hearing_id"]
        seqs[hearing_id] = seqs.get(hearing_id, 0) + 1
        views[hearing_id] = {"document_id": data["document_id"], "page": data["page"], "zoom": 100}
        event = {
            "seq": seqs[hearing_id],
            "type": "view",
            "op": "set",
            "payload": dict(views[hearing_id], case_id=data["document_id"]),
            "actor_id": hearing_id,
            "at": datetime.now(UTC).isoformat(),
        }
        await sio.emit("room", event, room=f"h{hearing_id}:all", namespace=NS)
        return {"ok": True, "seq": seqs[hearing_id]}

    uvicorn.run(socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_level="info")


# ---------------------------------------------------------------- one client (a room page)


class StormClient:
    """One socket of the room, keeping what it applied the way ``static/js/room.js`` does."""

    def __init__(self, url: str, hearing_id: int, cookie: str | None) -> None:
        import socketio

        self.url = url
        self.hearing_id = hearing_id
        self.headers = {"Origin": url} | ({"Cookie": cookie} if cookie else {})
        # Reconnects itself, as a browser does: python-socketio's own reconnection waits
        # only 1 s for the namespace's answer, then drops the connection and knocks again
        # (the server can't tell: it reads nothing else of a connection during its connect).
        # socket.io's browser client bounds an attempt by its `timeout`, 20 s by default.
        self.sio = socketio.AsyncClient(reconnection=False)
        self.wanted = False  # this page is open: reconnect when the connection is lost
        self.first: int | None = None  # the seq of the first snapshot
        self.last: int | None = None  # the highest seq applied
        self.view: dict[str, Any] = {}
        self.quorum: Any = None
        self.seen: set[int] = set()
        self.replayed = 0  # events applied from sync answers after the first snapshot
        self.pending: list[dict[str, Any]] = []
        self.syncing = False
        self.again = False
        self.resynced_at: float | None = None
        self.failures: list[str] = []
        self.refused = False  # the last connect was refused by the server
        self.advanced = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.sio.on("connect", self._on_connect, namespace=NS)
        self.sio.on("room", self._on_room, namespace=NS)
        self.sio.on("connect_error", self._on_refused, namespace=NS)
        self.sio.on("disconnect", self._on_lost, namespace=NS)

    async def leave(self) -> None:
        """The page is closed."""
        self.wanted = False
        await self.sio.disconnect()

    async def _on_lost(self, *_reason: Any) -> None:
        if self.wanted:
            self._spawn(self.reconnect())

    async def reconnect(self) -> None:
        await asyncio.sleep(RETRY * random.uniform(0.5, 1.5))
        await self.connect(retry=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def connect(self, *, retry: bool = False) -> None:
        import socketio

        self.wanted = True
        while self.wanted and not self.sio.connected:
            try:
                await self.sio.connect(
                    self.url,
                    namespaces=[NS],
                    transports=["websocket"],
                    # A fresh dict each (re)connect: engineio moves the Cookie header into
                    # its HTTP session's jar and deletes it from the dict it was given, and a
                    # reconnect after the server's death starts with a new, empty jar.
                    headers=lambda: dict(self.headers),
                    auth={"hearing_id": self.hearing_id},
                    wait_timeout=CONNECT_WAIT,
                )
                return
            except socketio.exceptions.ConnectionError as exc:
                if not retry:
                    raise
                self.failures.append(f"connect: {exc}")
                if self.refused:  # refused by the server (busy): room.js's pause, 1 to 3 s
                    self.refused = False
                    await asyncio.sleep(random.uniform(REFUSED_PAUSE[0], REFUSED_PAUSE[1]))
                else:  # the server is not up yet
                    await asyncio.sleep(RETRY * random.uniform(0.5, 1.5))

    async def _on_connect(self) -> None:
        self._spawn(self.resync())

    async def _on_refused(self, data: Any) -> None:
        self.failures.append(f"refused: {data}")
        self.refused = True

    async def _on_room(self, event: dict[str, Any]) -> None:
        if self.syncing or self.last is None:
            self.pending.append(event)
            return
        self.receive(event)

    def receive(self, event: dict[str, Any]) -> None:
        assert self.last is not None
        if event["seq"] <= self.last:
            return  # already applied (replay and live overlap)
        if event["seq"] > self.last + 1:
            self.pending.append(event)  # what lies between first
            self._spawn(self.resync())
            return
        self.apply(event)

    def apply(self, event: dict[str, Any]) -> None:
        self.last = event["seq"]
        self.seen.add(event["seq"])
        payload = event["payload"]
        if event["type"] == "view":
            self.view = {k: payload[k] for k in ("document_id", "page", "zoom")}
        if "quorum" in payload:
            self.quorum = payload["quorum"]
        self.advanced.set()

    async def resync(self) -> None:
        if self.syncing:
            self.again = True
            return
        self.syncing = True
        try:
            while True:
                self.again = False
                try:
                    answer = await self.sio.call(
                        "sync", {"last_seq": self.last}, namespace=NS, timeout=60
                    )
                except Exception as exc:  # disconnected meanwhile, or no answer in time
                    answer = {"error": f"{type(exc).__name__} {exc}"}
                if "error" in answer:
                    self.failures.append(f"sync: {answer['error']}")
                    if self.again and self.sio.connected:
                        continue  # a reconnect asked again meanwhile (room.js does the same)
                    return  # the next connect asks again
                if "snapshot" in answer:
                    self.last = answer["seq"]
                    self.first = self.first if self.first is not None else answer["seq"]
                    self.view = answer["snapshot"]["view"]
                    self.quorum = answer["snapshot"].get("quorum")
                else:
                    for event in answer["events"]:
                        if event["seq"] > (self.last or 0):
                            self.apply(event)
                            self.replayed += 1
                    self.last = max(self.last or 0, answer["seq"])
                if not self.again:
                    break
        finally:
            self.syncing = False
        self.resynced_at = time.monotonic()
        self.advanced.set()
        waiting = sorted(self.pending, key=lambda e: e["seq"])
        self.pending = []
        for event in waiting:
            if self.syncing:
                self.pending.append(event)
            else:
                self.receive(event)

    async def final_check(self) -> dict[str, Any]:
        """The server's snapshot now; wait (event-driven) until this socket has applied up
        to its number; what it holds beside it."""
        answer = await self.sio.call("sync", {"last_seq": None}, namespace=NS, timeout=60)
        seq = answer["seq"]
        deadline = time.monotonic() + 30
        while (self.last or 0) < seq and time.monotonic() < deadline:
            self.advanced.clear()
            try:
                await asyncio.wait_for(self.advanced.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return {
            "hearing_id": self.hearing_id,
            "first": self.first,
            "last": self.last,
            "seen": sorted(self.seen),
            "view": self.view,
            "quorum": self.quorum,
            "server_seq": seq,
            "server_view": answer["snapshot"]["view"],
            "server_quorum": answer["snapshot"].get("quorum"),
        }


# ---------------------------------------------------------------- a client process


async def client_loop(conn: Connection, rooms: list[dict[str, Any]]) -> None:
    loop = asyncio.get_running_loop()
    clients: list[list[StormClient]] = []
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        name = command["cmd"]
        if name == "connect":
            url, ours = command["url"], command["ours"]
            clients = [
                [
                    StormClient(url, room["hearing_id"], cookie if ours else None)
                    for cookie in room["cookies"]
                ]
                for room in rooms
            ]

            async def join(members: list[StormClient]) -> None:
                for client in members:
                    await client.connect(retry=True)  # a busy server refuses some at first

            await asyncio.gather(*(join(members) for members in clients))
            everyone = [c for members in clients for c in members]
            deadline = time.monotonic() + STORM_TIMEOUT
            while time.monotonic() < deadline and any(c.resynced_at is None for c in everyone):  # noqa: ASYNC110  (many clients)
                await asyncio.sleep(0.05)
            behind = [c for c in everyone if c.resynced_at is None]
            conn.send(
                {
                    "ok": not behind,
                    "behind": len(behind),
                    "failures": [f for c in behind for f in c.failures][:10],
                }
            )
        elif name == "away":
            await asyncio.gather(*(c.leave() for members in clients for c in members[-AWAY:]))
            conn.send({"ok": True})
        elif name == "turn":

            async def turn(room: dict[str, Any], presenter: StormClient, turns: int) -> int:
                seq = 0
                for n in range(turns):
                    answer = await presenter.sio.call(
                        "view.set",
                        {"document_id": room["document_id"], "page": n % 4 + 1},
                        namespace=NS,
                        timeout=60,
                    )
                    if "error" in answer:
                        raise SystemExit(f"view.set refused: {answer}")
                    seq = answer["seq"]
                return seq

            turns = command["turns"]
            await asyncio.gather(
                *(turn(r, m[0], turns) for r, m in zip(rooms, clients, strict=True))
            )
            conn.send({"ok": True})
        elif name == "storm":
            killed_at = command["killed_at"]
            # The away sockets come back now (their people open the page again); the others
            # reconnect by themselves.
            back = [
                asyncio.ensure_future(c.connect(retry=True))
                for members in clients
                for c in members[-AWAY:]
            ]
            everyone = [c for members in clients for c in members]
            deadline = time.monotonic() + STORM_TIMEOUT
            while time.monotonic() < deadline and any(
                c.resynced_at is None or c.resynced_at < killed_at for c in everyone
            ):
                await asyncio.sleep(0.02)
                if os.environ.get("STORM_DEBUG") and random.random() < 0.01:
                    print([f for c in everyone for f in c.failures][-5:], file=sys.stderr)
            await asyncio.gather(*back, return_exceptions=True)
            conn.send(
                {
                    "resynced": [
                        c.resynced_at
                        for c in everyone
                        if c.resynced_at is not None and c.resynced_at >= killed_at
                    ],
                    "clients": len(everyone),
                    "replayed": sum(c.replayed for c in everyone),
                    "failures": [f for c in everyone for f in c.failures][:20],
                    "failure_count": sum(len(c.failures) for c in everyone),
                }
            )
        elif name == "verify":
            everyone = [c for members in clients for c in members]
            conn.send(await asyncio.gather(*(c.final_check() for c in everyone)))
        elif name == "close":
            for client in (c for members in clients for c in members):
                await client.leave()
            conn.send({"ok": True})
        elif name == "exit":
            return


def client_process(conn: Connection, rooms: list[dict[str, Any]]) -> None:
    asyncio.run(client_loop(conn, rooms))


# ---------------------------------------------------------------- the orchestrator


class Fleet:
    """The client processes, each holding a share of the rooms."""

    def __init__(self, plan: list[dict[str, Any]], procs: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs = []
        for index in range(procs):
            mine, theirs = context.Pipe()
            proc = context.Process(target=client_process, args=(theirs, plan[index::procs]))
            proc.start()
            self.conns.append(mine)
            self.procs.append(proc)

    async def ask(self, command: dict[str, Any]) -> list[Any]:
        if os.environ.get("STORM_DEBUG"):
            print("ask", command["cmd"], time.monotonic(), file=sys.stderr)
        loop = asyncio.get_running_loop()
        for conn in self.conns:
            conn.send(command)
        return list(await asyncio.gather(*(loop.run_in_executor(None, c.recv) for c in self.conns)))

    def join(self) -> None:
        for conn in self.conns:
            conn.send({"cmd": "exit"})
        for proc in self.procs:
            proc.join(timeout=30)


class Server:
    def __init__(self, argv: list[str], env: dict[str, str] | None, log: Path, port: int):
        self.argv, self.env, self.log, self.port = argv, env, log, port
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(ROOT),
                preexec_fn=die_with_parent,
            )

    async def ready(self) -> float:
        """When the port first accepts a connection (uvicorn binds after start-up)."""
        assert self.proc is not None
        deadline = time.monotonic() + 900  # a busy machine starts a server slowly
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"the server exited during start-up:\n{tail}")
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return time.monotonic()
            except OSError:
                await asyncio.sleep(0.01)
        raise SystemExit("the server did not start")

    def kill9(self) -> float:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        self.proc.wait(timeout=30)
        return killed_at

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


async def storm(fleet: Fleet, server: Server, url: str, *, ours: bool) -> dict[str, Any]:
    server.spawn()
    await server.ready()
    joined = await fleet.ask({"cmd": "connect", "url": url, "ours": ours})
    if not all(a["ok"] for a in joined):
        behind = sum(a["behind"] for a in joined)
        failures = [f for a in joined for f in a["failures"]][:10]
        raise SystemExit(f"{behind} sockets never took their first snapshot: {failures}")
    await fleet.ask({"cmd": "away"})
    await fleet.ask({"cmd": "turn", "turns": TURNS})
    killed_at = server.kill9()  # the moment the last page turn is acknowledged
    server.spawn()
    answers_task = asyncio.ensure_future(fleet.ask({"cmd": "storm", "killed_at": killed_at}))
    ready_at = await server.ready()
    answers = await answers_task
    resynced = [t for a in answers for t in a["resynced"]]
    result = {
        "clients": sum(a["clients"] for a in answers),
        "resynced": len(resynced),
        "times": [(t - ready_at) * 1000 for t in resynced],
        "down_ms": (ready_at - killed_at) * 1000,
        "replayed": sum(a["replayed"] for a in answers),
        "failure_count": sum(a["failure_count"] for a in answers),
        "failures": [f for a in answers for f in a["failures"]][:10],
    }
    if ours:
        result["checks"] = [c for a in await fleet.ask({"cmd": "verify"}) for c in a]
    await fleet.ask({"cmd": "close"})
    server.stop()
    return result


def check_states(db_path: Path, checks: list[dict[str, Any]]) -> list[str]:
    """Each socket against the server: its page and number equal the server's snapshot,
    and it applied every event of its room it may see after its first snapshot."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT hearing_id, seq, audience FROM room_events").fetchall()
    log: dict[int, list[tuple[int, str]]] = {}
    for hearing_id, seq, audience in rows:
        log.setdefault(hearing_id, []).append((seq, audience))
    problems = []
    for check in checks:
        # Every socket here is the board's, which sees "all" and "board" events; the bench's
        # events (page turns, presence) go to those.
        expected = {
            seq
            for seq, audience in log[check["hearing_id"]]
            if check["first"] < seq <= check["server_seq"] and audience in ("all", "board")
        }
        missed = expected - set(check["seen"])
        where = f"hearing {check['hearing_id']}"
        if missed:
            problems.append(f"{where}: missed {sorted(missed)[:10]}")
        if check["last"] != check["server_seq"]:
            problems.append(f"{where}: at seq {check['last']}, server at {check['server_seq']}")
        if check["view"] != check["server_view"]:
            problems.append(f"{where}: page {check['view']} ≠ server's {check['server_view']}")
        if check["quorum"] != check["server_quorum"]:
            problems.append(f"{where}: quorum {check['quorum']} ≠ {check['server_quorum']}")
    return problems


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--procs", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="heyat-storm-") as tmp_name:
        tmp = Path(tmp_name)
        env_extra, plan = await prepare(tmp, args.rooms)
        ours_port, base_port = free_port(), free_port()
        env = dict(os.environ)
        env.update(env_extra, HEYAT_BASE_URL=f"http://127.0.0.1:{ours_port}")
        env.pop("HEYAT_REDIS_URL", None)
        heyat = [
            str(ROOT / ".venv" / "bin" / "heyat"),
            "serve",
            "--no-media",
            "--port",
            str(ours_port),
        ]
        bare = [sys.executable, __file__, "--serve-baseline", str(base_port)]
        ours_server = Server(heyat, env, tmp / "server.log", ours_port)
        bare_server = Server(bare, None, tmp / "baseline.log", base_port)
        fleet = Fleet(plan, args.procs)
        try:
            mine = await storm(fleet, ours_server, f"http://127.0.0.1:{ours_port}", ours=True)
            base = await storm(fleet, bare_server, f"http://127.0.0.1:{base_port}", ours=False)
        finally:
            ours_server.stop()
            bare_server.stop()
            fleet.join()
        problems = check_states(tmp / "bench.db", mine["checks"])
        if problems or mine["resynced"] < mine["clients"]:
            print((tmp / "server.log").read_text(errors="replace")[-4000:])
    print(f"rooms={args.rooms} clients/room=12 client processes={args.procs} away/room={AWAY}")
    for name, result in (("ours", mine), ("baseline", base)):
        times = result["times"] or [float("nan")]
        print(
            f"{name}: down {result['down_ms']:.0f} ms (kill → accepting); resynced "
            f"{result['resynced']}/{result['clients']}; from accepting: "
            f"p50={percentile(times, 50):.0f} p95={percentile(times, 95):.0f} "
            f"all={max(times):.0f} ms; events replayed {result['replayed']}; "
            f"client failures {result['failure_count']} {result['failures'][:3]}"
        )
    checked = len(mine["checks"])
    print(f"state: {checked - len(problems)}/{checked} sockets equal to the server's")
    for problem in problems[:20]:
        print("  " + problem)
    all_ms, base_all = max(mine["times"]), max(base["times"])
    print(
        f"reconnect_storm: clients={mine['clients']} resynced={mine['resynced']} "
        f"p50_ms={percentile(mine['times'], 50):.0f} p95_ms={percentile(mine['times'], 95):.0f} "
        f"all_ms={all_ms:.0f} baseline_all_ms={base_all:.0f} ratio={all_ms / base_all:.2f}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-baseline":
        serve_baseline(int(sys.argv[2]))
    else:
        asyncio.run(main())
