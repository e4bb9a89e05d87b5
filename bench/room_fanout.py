"""Page-sync fan-out in the hearing room, beside a bare python-socketio server in the same run.

Set-up (all its own, in a temporary directory, by ``bench._seed.prepare``): a SQLite
database migrated and seeded with the demo, then ROOMS hearings of the diagnosis board
each with a case and a 4-page document, and 12 signed-in sockets per room (login
sessions written directly, as the sign-in service would leave them). Our server is
``heyat serve`` (uvicorn, the whole app) in a child process; the baseline is a bare python-socketio
AsyncServer in another child process, served by ``uvicorn.run`` with the same defaults as
``heyat serve`` (websocket implementation, event loop, log level) and the same Socket.IO
options, whose ``view.set`` handler only emits an event of the same shape and size as ours
to the room. Both use websocket transport on loopback; the clients are the same sockets
code in this process for both, and the two servers are measured alternately, in BLOCKS
short runs each.

In every room the presenter (the chair) turns a page every INTERVAL seconds; the figure is
the time from the presenter's emit to each of the other 11 sockets receiving the page
(our server: auth re-check, validation, a write transaction numbering the event, commit,
then the emit). The rooms run at the same time.

Run: ``python bench/room_fanout.py [--rooms N] [--turns N]``. Last line:
``room_fanout: p50_ms=… p95_ms=… p99_ms=… baseline_p95_ms=… ratio=…`` (ratio = our p95 /
the baseline's p95; the issue's bar is ratio ≤ 1.5).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._seed import (  # noqa: E402  (after the path is set)
    CLIENTS_PER_ROOM,
    free_port,
    percentile,
    prepare,
    wait_up,
)

BLOCKS = 6  # alternating measurement blocks per server
ACKS: dict[str, list[float]] = {}
NS = "/hearing"


# ---------------------------------------------------------------- the bare baseline server


def serve_baseline(port: int) -> None:
    """A bare python-socketio server: join the room named in auth, re-emit view.set to it.

    Served the way ``heyat serve`` serves the app (``uvicorn.run`` with the same defaults:
    the same websocket implementation, event loop and log level), with the same Socket.IO
    server options, and emitting an event of the same shape and size as ours (sequence
    number, type, op, the page with its case, actor, time)."""
    from datetime import UTC, datetime

    import socketio
    import uvicorn

    sio = socketio.AsyncServer(
        async_mode="asgi",
        cors_allowed_origins=[f"http://127.0.0.1:{port}"],
        max_http_buffer_size=64 * 1024,
        transports=["websocket", "polling"],
    )

    @sio.on("connect", namespace=NS)
    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any]) -> None:
        await sio.enter_room(sid, f"h{auth['hearing_id']}:all", namespace=NS)
        await sio.save_session(sid, {"hearing_id": auth["hearing_id"]}, namespace=NS)

    seqs: dict[int, int] = {}

    @sio.on("view.set", namespace=NS)
    async def view_set(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        session = await sio.get_session(sid, namespace=NS)
        hearing_id = session["hearing_id"]
        seqs[hearing_id] = seqs.get(hearing_id, 0) + 1
        event = {
            "seq": seqs[hearing_id],
            "type": "view",
            "op": "set",
            "payload": {
                "document_id": data["document_id"],
                "case_id": data["document_id"],
                "page": data["page"],
                "zoom": data.get("zoom", 100),
            },
            "actor_id": hearing_id,
            "at": datetime.now(UTC).isoformat(),
        }
        await sio.emit("room", event, room=f"h{hearing_id}:all", namespace=NS)
        return {"ok": True, "seq": seqs[hearing_id]}

    app = socketio.ASGIApp(sio)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info")


# ---------------------------------------------------------------- the measurement


async def measure(
    url: str, plan: list[dict[str, Any]], turns: int, interval: float, *, ours: bool
) -> list[float]:
    """Per-follower delivery times (ms) of the presenter's page turns, all rooms at once."""
    import socketio

    samples: list[float] = []
    clients: list[socketio.AsyncClient] = []
    acks: list[float] = []  # the presenter's view.set → ack (the server's whole path)

    async def run_room(room: dict[str, Any]) -> None:
        sent: dict[int, float] = {}  # seq → when the presenter emitted
        arrivals: dict[int, list[float]] = {}
        members: list[socketio.AsyncClient] = []
        for index, cookie in enumerate(room["cookies"]):
            client = socketio.AsyncClient(reconnection=False)
            if index > 0:

                @client.on("room", namespace=NS)
                async def on_room(event: dict[str, Any]) -> None:
                    if event.get("type") == "view":
                        arrivals.setdefault(event["seq"], []).append(time.perf_counter())

            headers = {"Origin": url}
            if ours:
                headers["Cookie"] = cookie
            await client.connect(
                url,
                namespaces=[NS],
                transports=["websocket"],
                headers=headers,
                auth={"hearing_id": room["hearing_id"]},
                wait_timeout=20,
            )
            members.append(client)
            clients.append(client)
        presenter = members[0]
        await asyncio.sleep(0.5)
        for turn in range(turns):
            started = time.perf_counter()
            answer = await presenter.call(
                "view.set",
                {"document_id": room["document_id"], "page": turn % 4 + 1},
                namespace=NS,
                timeout=20,
            )
            acks.append((time.perf_counter() - started) * 1000)
            if "error" in answer:
                raise SystemExit(f"view.set refused: {answer}")
            sent[answer["seq"]] = started
            await asyncio.sleep(interval)
        await asyncio.sleep(0.5)
        for seq, times in arrivals.items():
            if seq in sent:
                samples.extend((t - sent[seq]) * 1000 for t in times)

    await asyncio.gather(*(run_room(room) for room in plan))
    for client in clients:
        await client.disconnect()
    ACKS.setdefault("ours" if ours else "baseline", []).extend(acks)
    return samples


def start_servers(
    env: dict[str, str], tmp: Path, ours_port: int, base_port: int
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], Any]:
    """Both servers as child processes (Popen returns at once; main waits for the ports)."""
    log = (tmp / "server.log").open("wb")
    ours = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "heyat"), "serve", "--port", str(ours_port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=str(ROOT),
    )
    bare = subprocess.Popen(
        [sys.executable, __file__, "--serve-baseline", str(base_port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=str(ROOT),
    )
    return ours, bare, log


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=4)
    parser.add_argument("--turns", type=int, default=240)
    parser.add_argument("--interval", type=float, default=0.15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="heyat-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env_extra, plan = await prepare(tmp, args.rooms)
        ours_port, base_port = free_port(), free_port()
        env = dict(os.environ)
        env.update(env_extra, HEYAT_BASE_URL=f"http://127.0.0.1:{ours_port}")
        env.pop("HEYAT_REDIS_URL", None)
        ours, bare, log = start_servers(env, tmp, ours_port, base_port)
        try:
            await wait_up(ours_port, ours)
            await wait_up(base_port, bare)
            base_url = f"http://127.0.0.1:{base_port}"
            ours_url = f"http://127.0.0.1:{ours_port}"
            # Alternate in BLOCKS short runs each, so that neither profits from a quieter
            # moment of the machine.
            baseline, mine = [], []
            for block in range(BLOCKS):
                turns = args.turns // BLOCKS + (1 if block < args.turns % BLOCKS else 0)
                baseline += await measure(base_url, plan, turns, args.interval, ours=False)
                mine += await measure(ours_url, plan, turns, args.interval, ours=True)
        finally:
            for proc in (ours, bare):
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log.close()
    expected = args.rooms * args.turns * (CLIENTS_PER_ROOM - 1)
    print(f"rooms={args.rooms} clients/room={CLIENTS_PER_ROOM} turns={args.turns}")
    print(f"deliveries: ours={len(mine)} baseline={len(baseline)} expected={expected}")
    for name, data in (("baseline", baseline), ("ours", mine)):
        print(
            f"{name}: mean={statistics.mean(data):.2f} p50={percentile(data, 50):.2f} "
            f"p95={percentile(data, 95):.2f} p99={percentile(data, 99):.2f} ms"
        )
    for name in ("baseline", "ours"):
        acks = ACKS.get(name, [])
        print(
            f"{name}: presenter's view.set → ack p50={percentile(acks, 50):.2f} "
            f"p95={percentile(acks, 95):.2f} ms"
        )
    p95_base = percentile(baseline, 95)
    print(
        f"room_fanout: p50_ms={percentile(mine, 50):.2f} p95_ms={percentile(mine, 95):.2f} "
        f"p99_ms={percentile(mine, 99):.2f} baseline_p95_ms={p95_base:.2f} "
        f"ratio={percentile(mine, 95) / p95_base:.2f}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-baseline":
        serve_baseline(int(sys.argv[2]))
    else:
        asyncio.run(main())
