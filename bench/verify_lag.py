"""Benchmark: event-loop lag of a served app while large PDFs are verified publicly.

Serves the app with uvicorn in this process (a fresh SQLite database, a fresh PKI), and a
probe in the server's own loop measures how late a 5 ms sleep wakes up. Three phases in
one run: idle (the bare baseline), then five clients each posting a large signed PDF (a
photographed-scan-sized image and many pages of text) to /api/v1/verify, round after
round. The clients run in another process, so they do not compete for this loop (they
do compete for the machine's cores, as real clients would not).
Last line: ``verify_lag: p50_ms=… p99_ms=… baseline_p99_ms=… ratio=… verified_per_s=…``
with ratio = p99 under load / idle p99.

    .venv/bin/python bench/verify_lag.py [pages] [rounds]
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hearing_server.config import Settings  # noqa: E402
from hearing_server.db import Database  # noqa: E402
from hearing_server.models import Base  # noqa: E402
from rulings.pki import init_pki  # noqa: E402
from rulings.render import html_to_pdf, worker_pool  # noqa: E402
from rulings.sign import SignerConfig, sign_pdf_sync  # noqa: E402

CLIENTS = 5
PROBE_SECONDS = 0.005


def large_signed_pdf(pki_dir: Path, pages: int) -> bytes:
    import base64
    import io
    import os

    from PIL import Image

    noise = Image.frombytes("RGB", (1400, 1400), os.urandom(1400 * 1400 * 3))
    png = io.BytesIO()
    noise.save(png, "PNG")
    scan = base64.b64encode(png.getvalue()).decode()
    paragraph = "اختلاف کارگر و کارفرما درباره‌ی مزد معوق و حق سنوات. " * 40
    html = f'<img src="data:image/png;base64,{scan}" style="width: 15cm">' + "".join(
        f'<section style="page-break-after: always"><h1>صفحه {i}</h1><p>{paragraph}</p></section>'
        for i in range(pages)
    )
    pdf = html_to_pdf(f'<html dir="rtl"><body>{html}</body></html>')
    return sign_pdf_sync(pdf, SignerConfig(pkcs12_path=pki_dir / "board.p12", offload=False))


def post_many(url: str, pdf: bytes, rounds: int) -> None:
    """Client process: CLIENTS threads, each posting the PDF ``rounds`` times."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    def one(_: int) -> None:
        with httpx.Client(timeout=300) as client:
            for _ in range(rounds):
                response = client.post(
                    url, content=pdf, headers={"Content-Type": "application/pdf"}
                )
                assert response.status_code == 200, response.text

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one, range(CLIENTS)))


async def probe(stop: asyncio.Event) -> list[float]:
    lags: list[float] = []
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(PROBE_SECONDS)
        lags.append((time.perf_counter() - start - PROBE_SECONDS) * 1000)
    return lags


async def measure(load: Any) -> list[float]:
    stop = asyncio.Event()
    task = asyncio.create_task(probe(stop))
    await load()
    stop.set()
    return await task


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def main(pages: int, rounds: int) -> None:
    from hearing_server.app import create_app
    from tests.conftest import free_port, serving

    tmp = Path(tempfile.mkdtemp(prefix="heyat-verify-lag-"))
    pki = init_pki(tmp / "pki")
    pdf = await asyncio.to_thread(large_signed_pdf, tmp / "pki", pages)
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    db = Database(url)
    async with db.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await db.dispose()
    port = free_port()
    settings = replace(
        Settings.from_env({}),
        var_dir=tmp,
        database_url=url,
        files_dir=tmp / "files",
        pki_dir=pki.directory,
        base_url=f"http://127.0.0.1:{port}",
        public_verify_rate="100000/minute",
    )
    app = create_app(settings)
    target = f"http://127.0.0.1:{port}/api/v1/verify"
    context = multiprocessing.get_context("spawn")
    await asyncio.get_running_loop().run_in_executor(worker_pool(), len, b"")  # warm the pool

    async def clients() -> None:
        process = context.Process(target=post_many, args=(target, pdf, rounds))
        process.start()
        await asyncio.get_running_loop().run_in_executor(None, process.join)
        assert process.exitcode == 0, "a client failed"

    async def idle() -> None:
        await asyncio.sleep(3)

    async with serving(app, port):
        idle_lags = await measure(idle)
        started = time.perf_counter()
        loaded = await measure(clients)
        pooled_seconds = time.perf_counter() - started
    await app.runtime.db.dispose()
    mb = len(pdf) / 1e6
    print(
        f"{CLIENTS} clients x {rounds} rounds of a {pages}-page signed PDF ({mb:.1f} MB); "
        f"loaded run {pooled_seconds:.1f} s; probe samples idle={len(idle_lags)} "
        f"loaded={len(loaded)}; mean lag loaded "
        f"{statistics.mean(loaded):.2f} ms"
    )
    baseline = pct(idle_lags, 0.99)
    p99 = pct(loaded, 0.99)
    print(
        f"verify_lag: p50_ms={pct(loaded, 0.5):.2f} p99_ms={p99:.2f} "
        f"baseline_p99_ms={baseline:.2f} ratio={p99 / max(baseline, 0.01):.2f} "
        f"verified_per_s={CLIENTS * rounds / pooled_seconds:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else 60,
            int(sys.argv[2]) if len(sys.argv) > 2 else 2,
        )
    )
