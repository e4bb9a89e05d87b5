"""Time to admission into the hearing's video room, against a real Janus.

Set-up (its own, in a temporary directory): Janus from the configs Heyat renders, on a free
port. Each round, for a new person: Heyat's half of ``media.join`` (derive the credentials,
make sure the hearing's room exists, put the room token in its ``allowed`` list — two
requests to Janus with the API secret), then the browser's half over Janus's HTTP API with
only the tokens (a session, the VideoRoom handle, the publisher join, its ``joined``
event) — everything before WebRTC starts. The baseline is Janus's ``GET /info`` (one
round trip to the same server) measured in the same run.

Run: ``python bench/av_join.py [--rounds N]``. The last line is
``av_join: p50_ms=… p95_ms=… baseline_p95_ms=… ratio=…`` (ratio: our p95 over the baseline's).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hearing_server.config import Settings
from hearing_server.media import render
from hearing_server.media.service import MediaConfig, MediaService, room_id


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


async def run(rounds: int) -> None:
    var_dir = Path(tempfile.mkdtemp(prefix="heyat-av-bench-"))
    port = free_port()
    settings = Settings(
        var_dir=var_dir, media_janus_url=f"http://127.0.0.1:{port}/janus", media_janus_port=port
    ).with_generated_secrets()
    paths = render.render(settings)
    janus = subprocess.Popen(render.janus_command(settings, paths), stdout=subprocess.DEVNULL)  # noqa: ASYNC220
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(600):
                try:
                    if (await http.get(settings.media_janus_url + "/info")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)
            config = MediaConfig.from_settings(settings)
            assert config is not None
            service = MediaService(config)
            await service.ensure_room(1)
            ours, base = [], []
            for n in range(rounds):
                t0 = time.perf_counter()
                grant = service.credentials(1, 1000 + n, time.time())
                await service.ensure_room(1)
                await service.janus.allowed(room_id(1), "add", [grant["room_token"]])
                await browser_join(http, grant)
                ours.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                await http.get(settings.media_janus_url + "/info")
                base.append((time.perf_counter() - t0) * 1000)
            await service.close()
    finally:
        janus.terminate()
        janus.wait(timeout=15)
        shutil.rmtree(var_dir, ignore_errors=True)

    def p(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1]

    print(
        f"av_join: p50_ms={p(ours, 50):.2f} p95_ms={p(ours, 95):.2f} "
        f"baseline_p95_ms={p(base, 95):.2f} ratio={p(ours, 95) / p(base, 95):.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    asyncio.run(run(parser.parse_args().rounds))
