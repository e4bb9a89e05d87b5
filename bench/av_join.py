"""Time to admission into the hearing's video room, against a real Janus.

Set-up (its own, in a temporary directory): Janus from the configs Heyat renders, on a free
port. Each round, for a new person: Heyat's half of ``media.join`` (derive the credentials,
make sure the hearing's room exists, put the room token in its ``allowed`` list — two
requests to Janus with the API secret), then the browser's half over Janus's HTTP API with
only the tokens (a session, the VideoRoom handle, the publisher join, its ``joined``
event) — everything before WebRTC starts. The baseline is Janus's ``GET /info`` (one
round trip to the same server) measured in the same run.

Then, with Chromium (fake camera and microphone) inside a network namespace (root; Janus
never gathers ICE candidates on loopback, tests/media/netns.py), on a page of the bench's
own that uses janus.js as the room page does:

* first frame: a publisher sends 320x240 video; each round a new participant joins the
  room and subscribes; the time from its join request to the first remote video frame
  painted (``requestVideoFrameCallback``), p50 and p95;
* load: 12 participants (pages shared between two Chromium processes), each publishing
  fake 320x240@15 video and audio and subscribing to everyone else (12 x 11 streams out
  of Janus); Janus's CPU (% of one core, from /proc/<pid>/stat over a window) and RSS,
  beside a second Janus started the same way and left idle, measured over the same
  window; ``frames_per_s`` is the video frames all pages decoded per second then
  (12 x 11 x 15 = 1980 if every stream kept its full rate).

Run: ``python bench/av_join.py [--rounds N] [--frame-rounds N] [--participants N]``.
Lines: ``av_join: p50_ms=… p95_ms=… baseline_p95_ms=… ratio=…`` (to ``joined``; ratio: our
p95 over the baseline's), ``av_join: first_frame_p50_ms=… p95_ms=…`` and
``av_janus: participants=12 cpu_pct=… rss_mb=… idle_cpu_pct=… idle_rss_mb=… …``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import http.server
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hearing_server.config import Settings
from hearing_server.media import render
from hearing_server.media.service import MediaConfig, MediaService, room_id
from tests.media.netns import ICE_IP, NetNs, is_root, netns

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def browser_join(http: httpx.AsyncClient, grant: dict[str, Any]) -> None:
    url = grant["janus_url"]
    token = grant["core_token"]
    created = (
        await http.post(url, json={"janus": "create", "transaction": "c", "token": token})
    ).json()
    session = created["data"]["id"]
    attached = (
        await http.post(
            f"{url}/{session}",
            json={
                "janus": "attach",
                "plugin": "janus.plugin.videoroom",
                "transaction": "a",
                "token": token,
            },
        )
    ).json()
    handle = attached["data"]["id"]
    body = {
        "request": "join",
        "ptype": "publisher",
        "room": grant["room"],
        "id": grant["feed_id"],
        "token": grant["room_token"],
    }
    await http.post(
        f"{url}/{session}/{handle}",
        json={"janus": "message", "body": body, "transaction": "j", "token": token},
    )
    quoted = urllib.parse.quote(token, safe="")
    while True:
        events = (await http.get(f"{url}/{session}?maxev=5&token={quoted}", timeout=40)).json()
        for event in events if isinstance(events, list) else [events]:
            data = event.get("plugindata", {}).get("data", {})
            if data.get("videoroom") == "joined":
                await http.post(
                    f"{url}/{session}",
                    json={"janus": "destroy", "transaction": "d", "token": token},
                )
                return
            if "error_code" in data:
                raise RuntimeError(data)


PAGE = """<!doctype html><meta charset="utf-8"><title>av bench</title>
<script src="/vendor/janus/adapter.js"></script><script src="/vendor/janus/janus.js"></script>
<body><script>
// One participant, as static/js/media.js does it: join as publisher (publishing or not),
// subscribe to every other publisher, note when the first remote frame is painted.
const bench = { t0: 0, firstFrame: null, error: null, pcs: [] };
window.bench = bench;
window.frames = async () => {
  let n = 0;
  for (const pc of bench.pcs) {
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") n += s.framesDecoded || 0;
    });
  }
  return n;
};
window.startBench = (cfg) => Janus.init({ debug: false,
  dependencies: Janus.useDefaultDependencies({ adapter: window.adapter }),
  callback: () => {
    const seen = new Set();
    let pub = null, privateId = null;
    // Leave at once (a closed tab's session would count as a publisher for 60 s more).
    window.leave = () => new Promise((done) => janus.destroy({ success: done, error: done }));
    const janus = new Janus({ server: cfg.janus_url, token: cfg.core_token,
      destroyed: () => {},
      error: (e) => { bench.error = String(e); },
      success: () => janus.attach({ plugin: "janus.plugin.videoroom",
        success: (h) => { pub = h; bench.t0 = performance.now();
          h.send({ message: { request: "join", ptype: "publisher", room: cfg.room,
            id: cfg.feed_id, display: "bench", token: cfg.room_token } }); },
        onmessage: (msg, jsep) => {
          if (msg.error_code) bench.error = msg.error;
          if (msg.videoroom === "joined") {
            privateId = msg.private_id;
            if (cfg.publish) pub.createOffer({
              tracks: [{ type: "audio", capture: true, recv: false },
                       { type: "video", recv: false,
                         capture: { width: 320, height: 240, frameRate: 15 } }],
              success: (j) => pub.send({ jsep: j,
                message: { request: "configure", audio: true, video: true } }),
              error: (e) => { bench.error = String(e); } });
          }
          for (const p of msg.publishers || []) subscribe(p);
          if (jsep) pub.handleRemoteJsep({ jsep });
        } }) });
    function subscribe(p) {
      if (seen.has(p.id)) return;
      seen.add(p.id);
      const streams = (p.streams || []).filter((s) => !s.disabled)
        .map((s) => ({ feed: p.id, mid: s.mid }));
      let sub = null;
      janus.attach({ plugin: "janus.plugin.videoroom",
        success: (h) => { sub = h; h.send({ message: { request: "join", ptype: "subscriber",
          room: cfg.room, streams, private_id: privateId, token: cfg.room_token } }); },
        onmessage: (msg, jsep) => { if (jsep) sub.createAnswer({ jsep, tracks: [{ type: "data" }],
          success: (a) => { sub.send({ message: { request: "start" }, jsep: a });
                            bench.pcs.push(sub.webrtcStuff.pc); },
          error: (e) => { bench.error = String(e); } }); },
        onremotetrack: (track, mid, on) => {
          if (!on || track.kind !== "video") return;
          const v = document.createElement("video");
          v.muted = true; v.autoplay = true; v.playsInline = true; v.width = 80;
          v.srcObject = new MediaStream([track]);
          document.body.append(v);
          v.play().catch(() => {});
          v.requestVideoFrameCallback(() => {
            if (bench.firstFrame === null) bench.firstFrame = performance.now() - bench.t0;
          });
        } });
    }
  } });
</script></body>
"""


def free_port_on(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def page_server(host: str) -> Iterator[str]:
    """The bench's page and janus.js/adapter.js (static/vendor), on ``host``."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/bench":
                body = PAGE.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Handler, directory=str(ROOT / "static"))
    server = http.server.ThreadingHTTPServer((host, free_port_on(host)), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()


class ProcSample:
    """CPU ticks and RSS of one process, from /proc."""

    TICKS = os.sysconf("SC_CLK_TCK")

    def __init__(self, pid: int) -> None:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        self.cpu = (int(fields[11]) + int(fields[12])) / self.TICKS  # utime + stime, s
        self.at = time.monotonic()
        rss_kb = next(
            int(line.split()[1])
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS:")
        )
        self.rss_mb = rss_kb / 1024

    def cpu_pct_since(self, before: ProcSample) -> float:
        return 100 * (self.cpu - before.cpu) / (self.at - before.at)


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def until(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise TimeoutError(what)


def ns_settings(var_dir: Path, ns: NetNs, origin: str, rtp: str) -> Settings:
    port = free_port()
    return Settings(
        var_dir=var_dir,
        media_janus_url=f"http://{ns.ns_ip}:{port}/janus",
        media_janus_port=port,
        media_janus_interface=ICE_IP,
        media_rtp_ports=rtp,
        base_url=origin,
    ).with_generated_secrets()


def start_janus(settings: Settings, wrap: list[str]) -> subprocess.Popen[bytes]:
    paths = render.render(settings)
    return subprocess.Popen(  # our own command line
        [*wrap, *render.janus_command(settings, paths)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_janus(http: httpx.AsyncClient, url: str) -> None:
    async def answers() -> bool:
        try:
            return (await http.get(url + "/info")).status_code == 200
        except httpx.HTTPError:
            return False

    await until(answers, 60, f"Janus at {url}")


async def join_rounds(
    service: MediaService, url: str, rounds: int
) -> tuple[list[float], list[float]]:
    """The join up to ``joined`` (HTTP only), beside GET /info."""
    ours, base = [], []
    async with httpx.AsyncClient(timeout=30) as http:
        await service.ensure_room(1)
        for n in range(rounds):
            t0 = time.perf_counter()
            grant = service.credentials(1, 1000 + n, time.time())
            await service.ensure_room(1)
            await service.janus.allowed(room_id(1), "add", [grant["room_token"]])
            await browser_join(http, grant)
            ours.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            await http.get(url + "/info")
            base.append((time.perf_counter() - t0) * 1000)
    return ours, base


class Room:
    def __init__(self, service: MediaService, origin: str, hearing: int) -> None:
        self.service = service
        self.origin = origin
        self.hearing = hearing
        self.next_user = 1

    async def open(self, browser: Any, *, publish: bool) -> Any:
        user = self.next_user
        self.next_user += 1
        await self.service.ensure_room(self.hearing)
        grant = self.service.credentials(self.hearing, user, time.time())
        await self.service.janus.allowed(room_id(self.hearing), "add", [grant["room_token"]])
        page = await browser.new_page()
        # A busy machine: pages already encoding and decoding slow the next one's load.
        page.set_default_timeout(180_000)
        await page.goto(self.origin + "/bench")
        await page.evaluate("(cfg) => window.startBench(cfg)", {**grant, "publish": publish})
        return page


async def leave(page: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(page.evaluate("window.leave && window.leave()"), 10)
    await page.close()


async def first_frames(room: Room, browser: Any, rounds: int) -> list[float]:
    publisher = await room.open(browser, publish=True)
    await until(lambda: publisher.evaluate("window.bench.error || true"), 5, "publisher page")
    times = []
    try:
        for _ in range(rounds):
            page = await room.open(browser, publish=False)
            try:
                first = await until(
                    lambda page=page: page.evaluate(
                        "window.bench.error ? Promise.reject(window.bench.error)"
                        " : window.bench.firstFrame"
                    ),
                    120,
                    "first remote frame",
                )
                times.append(float(first))
            finally:
                await leave(page)
    finally:
        await leave(publisher)
    return times


async def load(
    room: Room,
    browsers: list[Any],
    janus: subprocess.Popen[bytes],
    idle: subprocess.Popen[bytes],
    participants: int,
    window: float,
) -> dict[str, float]:
    pages = [
        await room.open(browsers[n % len(browsers)], publish=True) for n in range(participants)
    ]
    try:
        # Every page has a picture from someone (or two minutes passed: the pages that
        # have none are counted, not hidden), then a few seconds to settle.
        async def receiving() -> int:
            return sum([bool(await page.evaluate("window.frames()")) for page in pages])

        async def all_receiving() -> bool:
            return await receiving() == participants

        with contextlib.suppress(TimeoutError):
            await until(all_receiving, 120, "frames on every page")
        await asyncio.sleep(5)
        frames0 = sum([await page.evaluate("window.frames()") for page in pages])
        a0, i0 = ProcSample(janus.pid), ProcSample(idle.pid)
        await asyncio.sleep(window)
        a1, i1 = ProcSample(janus.pid), ProcSample(idle.pid)
        frames1 = sum([await page.evaluate("window.frames()") for page in pages])
        result = {
            "cpu_pct": a1.cpu_pct_since(a0),
            "rss_mb": a1.rss_mb,
            "idle_cpu_pct": i1.cpu_pct_since(i0),
            "idle_rss_mb": i1.rss_mb,
            "frames_per_s": (frames1 - frames0) / (a1.at - a0.at),
            "pages_receiving": await receiving(),
            "errors": len([1 for page in pages if await page.evaluate("window.bench.error")]),
        }
        found = {str(await page.evaluate("window.bench.error")) for page in pages} - {"None"}
        if found:
            print(f"av_janus: page errors: {sorted(found)}", flush=True)
        return result
    finally:
        for page in pages:
            await leave(page)


async def run(rounds: int, frame_rounds: int, participants: int, window: float) -> None:
    from playwright.async_api import async_playwright

    if not is_root():
        raise SystemExit("av_join: needs root (a network namespace for WebRTC)")
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("av_join: Debian's chromium is not installed")
    var_dir = Path(tempfile.mkdtemp(prefix="heyat-av-bench-"))
    with netns() as ns, page_server(ns.host_ip) as origin:
        loaded_settings = ns_settings(var_dir / "loaded", ns, origin, "20000-20499")
        # Started the same way, never given a room: the baseline.
        idle_settings = ns_settings(var_dir / "idle", ns, origin, "20500-20999")
        wrap = ["ip", "netns", "exec", ns.name]
        janus = start_janus(loaded_settings, wrap)
        idle = start_janus(idle_settings, wrap)
        wrapper = var_dir / "chromium-in-ns"
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {ns.name} {chromium} "$@"\n')
        wrapper.chmod(0o755)
        args = [
            "--no-sandbox",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--allow-loopback-in-peer-connection",
            "--autoplay-policy=no-user-gesture-required",
            f"--unsafely-treat-insecure-origin-as-secure={origin}",
        ]
        service = None
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                await wait_janus(http, loaded_settings.media_janus_url)
                await wait_janus(http, idle_settings.media_janus_url)
            config = MediaConfig.from_settings(loaded_settings)
            assert config is not None
            service = MediaService(config)
            ours, base = await join_rounds(service, loaded_settings.media_janus_url, rounds)
            print(
                f"av_join: p50_ms={pct(ours, 50):.2f} p95_ms={pct(ours, 95):.2f} "
                f"baseline_p95_ms={pct(base, 95):.2f} ratio={pct(ours, 95) / pct(base, 95):.1f}",
                flush=True,
            )
            async with async_playwright() as playwright:
                launch = functools.partial(
                    playwright.chromium.launch, executable_path=str(wrapper), args=args
                )
                browsers = [await launch(), await launch()]
                frames = await first_frames(Room(service, origin, 2), browsers[0], frame_rounds)
                print(
                    f"av_join: first_frame_p50_ms={pct(frames, 50):.0f} "
                    f"p95_ms={pct(frames, 95):.0f} rounds={len(frames)}",
                    flush=True,
                )
                print(json.dumps({"frames_ms": [round(f) for f in frames]}), flush=True)
                # A room of its own: nobody of the rounds above is left in it.
                room = Room(service, origin, 3)
                loaded = await load(room, browsers, janus, idle, participants, window)
                for browser in browsers:
                    await browser.close()
        finally:
            if service is not None:
                await service.close()
            for process in (janus, idle):
                process.terminate()
                process.wait(timeout=15)
            shutil.rmtree(var_dir, ignore_errors=True)

    print(
        f"av_janus: participants={participants} cpu_pct={loaded['cpu_pct']:.1f} "
        f"rss_mb={loaded['rss_mb']:.1f} idle_cpu_pct={loaded['idle_cpu_pct']:.1f} "
        f"idle_rss_mb={loaded['idle_rss_mb']:.1f} frames_per_s={loaded['frames_per_s']:.0f} "
        f"window_s={window:.0f} pages_receiving={loaded['pages_receiving']:.0f} "
        f"page_errors={loaded['errors']:.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--frame-rounds", type=int, default=10)
    parser.add_argument("--participants", type=int, default=12)
    parser.add_argument("--window", type=float, default=10.0)
    a = parser.parse_args()
    asyncio.run(run(a.rounds, a.frame_rounds, a.participants, a.window))
