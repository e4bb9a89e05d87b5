"""Event-loop lag of one served app while rulings are issued, people sign in and large PDFs
are verified — beside the same loop idle, in the same run.

The app (``create_app``, the one ``heyat serve`` runs) is served by uvicorn in this process
(``tests.conftest.serving``, the same websocket implementation and loop as ``heyat serve``)
on a fresh SQLite database with the demo and a fresh PKI, so a probe task in the server's
own loop can measure how late an ``asyncio.sleep(0.01)`` wakes up. Nothing is added to the
app for it.

Set-up (not measured): CASES decided cases (``tests.issuance.conftest.make_decided_case``:
a heard case whose motions were voted with named ballots), each ruling drafted by the
secretary and approved by the three members over HTTP with fresh TOTP codes (the bench
moves the server's clock 30 s for each new code, as bench/vote_cast.py does); a large
signed PDF for /api/v1/verify (bench/verify_lag.py's).

Measured, in one run: the probe over IDLE_SECONDS with no requests (the baseline), then
while, all at once, the secretary issues the CASES rulings (``POST
/api/v1/rulings/<id>/issue``, one after another: compose, render in the worker pool,
sign, store), SIGN_INS
people sign in (``POST /api/v1/auth/login``: argon2 and TOTP) and VERIFIES clients post the
large PDF to ``/api/v1/verify``. The clients run in another process so they do not compete
for this loop (they do compete for the machine's cores). ``--blame`` also turns on asyncio's
debug mode (callbacks that held the loop longer than 20 ms are logged) and a watchdog
thread that prints where the loop's thread was whenever it stalled 200 ms.

Run: ``python bench/loop_lag.py [--pages N] [--blame]``. Last line:
``loop_lag: p50_ms=… p99_ms=… idle_p99_ms=… ratio=…`` (ratio = loaded p99 / idle p99).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.verify_lag import large_signed_pdf, pct  # noqa: E402  (after the path is set)

CASES = 5  # rulings issued under load
SIGN_INS = 10
VERIFIES = 5
PROBE_SECONDS = 0.01
IDLE_SECONDS = 3.0
APPROVERS = ("member.gov1", "member.wrk1", "member.emp1")  # the diagnosis board's panel
SLOW_CALLBACK = 0.02  # seconds: what --blame reports


class Watchdog:
    """--blame: a thread that, whenever the loop has not run for STALL seconds, records
    where the loop's thread is (its Python stack), to name the blocking code."""

    STALL = 0.2

    def __init__(self) -> None:
        import threading

        self.beat = time.monotonic()
        self.loop_thread = threading.get_ident()
        self.stacks: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    async def beating(self) -> None:
        while not self.stop.is_set():
            self.beat = time.monotonic()
            await asyncio.sleep(0.02)

    def watch(self) -> None:
        import traceback

        while not self.stop.wait(0.05):
            stalled = time.monotonic() - self.beat
            if stalled > self.STALL:
                frame = sys._current_frames().get(self.loop_thread)
                if frame is not None:
                    stack = "".join(traceback.format_stack(frame, limit=12))
                    self.stacks[stack] = self.stacks.get(stack, 0) + 0.05

    def report(self) -> None:
        for stack, seconds in sorted(self.stacks.items(), key=lambda kv: -kv[1])[:6]:
            print(f"--- the loop was held here for about {seconds:.2f} s:\n{stack}")


async def probe(stop: asyncio.Event) -> list[float]:
    lags: list[float] = []
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(PROBE_SECONDS)
        lags.append((time.perf_counter() - start - PROBE_SECONDS) * 1000)
    return lags


# ---------------------------------------------------------------- the client process


def load(base_url: str, work: dict[str, Any], results: Any) -> None:
    """The load, each part in its own thread (the issues in turn, every sign-in and
    verification at once); per request (kind, status, seconds, body) onto ``results``."""
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial

    import httpx

    def run(kind: str, method: str, path: str, **kwargs: Any) -> None:
        started = time.perf_counter()
        with httpx.Client(base_url=base_url, timeout=600) as http:
            response = http.request(method, path, **kwargs)
        results.put((kind, response.status_code, time.perf_counter() - started, response.text))

    def issue_all() -> None:
        # The secretary issues the rulings one after another, as the issue page does; each
        # issue holds the database's write lock while it renders and signs (issue #15 item
        # 5), so five at once made the sign-ins and each other wait past SQLite's 30 s.
        secretary = work["secretary"]
        headers = {"X-CSRF-Token": secretary["csrf"], "Cookie": secretary["cookie"]}
        for ruling_id in work["rulings"]:
            run("issue", "POST", f"/api/v1/rulings/{ruling_id}/issue", headers=headers)

    pdf_headers = {"Content-Type": "application/pdf"}
    pdf = Path(work["pdf"]).read_bytes()
    jobs = [issue_all]
    jobs += [partial(run, "sign-in", "POST", "/api/v1/auth/login", json=x) for x in work["logins"]]
    jobs += [
        partial(run, "verify", "POST", "/api/v1/verify", content=pdf, headers=pdf_headers)
        for _ in range(VERIFIES)
    ]
    with ThreadPoolExecutor(len(jobs)) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


# ---------------------------------------------------------------- set-up


async def prepare(tmp: Path, port: int) -> tuple[Any, Any, list[int], dict[str, Any]]:
    from dataclasses import replace

    from cryptography.fernet import Fernet

    from hearing_server.config import Settings
    from hearing_server.db import Database
    from hearing_server.demo import demo_summary, do_seed_demo
    from hearing_server.migrate import upgrade_async
    from rulings.pki import init_pki
    from tests.issuance.conftest import make_decided_case

    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    pki = init_pki(tmp / "pki")
    settings = replace(
        Settings.from_env({}),
        var_dir=tmp,
        database_url=url,
        secret_key="bench-" + Fernet.generate_key().decode(),
        totp_keys=(Fernet.generate_key().decode(),),
        files_dir=tmp / "files",
        pki_dir=pki.directory,
        base_url=f"http://127.0.0.1:{port}",
        public_verify_rate="100000/minute",
        mail_sender="dev",
    )
    await upgrade_async(url)
    db = Database(url)
    async with db.transaction() as session:
        await do_seed_demo(session, settings)
        summary = await demo_summary(session, settings)
    cases = [(await make_decided_case(db)).case_id for _ in range(CASES)]
    await db.dispose()
    people = {p["username"]: p for p in summary["users"]}
    return settings, pki, cases, people


async def sign_in(http: Any, person: dict[str, Any], otp: Any) -> dict[str, str]:
    response = await http.post(
        "/api/v1/auth/login",
        json={
            "username": person["username"],
            "password": person["password"],
            "otp": otp.code(person["totp_secret"]),
        },
    )
    assert response.status_code == 200, response.text
    return {
        "cookie": f"heyat_session={response.cookies['heyat_session']}",
        "csrf": response.json()["csrf_token"],
    }


async def draft_and_approve(
    base_url: str, people: dict[str, Any], cases: list[int], otp: Any
) -> tuple[dict[str, str], list[int]]:
    """The secretary drafts each case's ruling; the three members approve each with a
    fresh code. Returns the secretary's session and the ruling ids."""
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        secretary = await sign_in(http, people["secretary"], otp)
        rulings = []
        for case_id in cases:
            made = await http.post(
                f"/api/v1/cases/{case_id}/rulings",
                headers={"X-CSRF-Token": secretary["csrf"], "Cookie": secretary["cookie"]},
            )
            assert made.status_code == 201, made.text
            rulings.append(int(made.json()["id"]))
        for username in APPROVERS:
            member = await sign_in(http, people[username], otp)
            for ruling_id in rulings:
                answer = await http.post(
                    f"/api/v1/rulings/{ruling_id}/approvals",
                    json={"otp": otp.code(people[username]["totp_secret"])},
                    headers={"X-CSRF-Token": member["csrf"], "Cookie": member["cookie"]},
                )
                assert answer.status_code == 201, answer.text
    return secretary, rulings


# ---------------------------------------------------------------- the measurement


async def main(pages: int, blame: bool) -> None:
    from hearing_server import clock
    from hearing_server.app import create_app
    from rulings.render import worker_pool
    from tests.conftest import OtpSource, free_port, serving

    loop = asyncio.get_running_loop()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="heyat-loop-lag-") as tmp_name:
        tmp = Path(tmp_name)
        settings, pki, cases, people = await prepare(tmp, port)
        pdf = await asyncio.to_thread(large_signed_pdf, pki.directory, pages)
        app = create_app(settings)
        otp = OtpSource()
        clock.set_frozen(clock.utcnow().replace(microsecond=0))
        await loop.run_in_executor(worker_pool(), len, b"")  # warm the pool
        async with serving(app, port):
            secretary, rulings = await draft_and_approve(base_url, people, cases, otp)
            # Ten people who have not signed in yet; their codes are for the server's clock,
            # which stays where it is from here on.
            others = [
                p
                for name, p in people.items()
                if p.get("totp_secret") and name not in (*APPROVERS, "secretary")
            ][:SIGN_INS]
            assert len(others) == SIGN_INS, "the demo has fewer people than the bench needs"
            logins = [
                {
                    "username": p["username"],
                    "password": p["password"],
                    "otp": otp.code(p["totp_secret"]),
                }
                for p in others
            ]
            (tmp / "verify.pdf").write_bytes(pdf)
            work = {
                "secretary": secretary,
                "rulings": rulings,
                "logins": logins,
                "pdf": str(tmp / "verify.pdf"),
            }
            watchdog = Watchdog()
            if blame:
                logging.basicConfig(level=logging.WARNING)
                loop.slow_callback_duration = SLOW_CALLBACK
                loop.set_debug(True)
                watchdog.thread.start()
                beating = asyncio.ensure_future(watchdog.beating())

            stop = asyncio.Event()
            task = asyncio.ensure_future(probe(stop))
            await asyncio.sleep(IDLE_SECONDS)
            stop.set()
            idle = await task

            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            process = context.Process(target=load, args=(base_url, work, results))
            stop = asyncio.Event()
            task = asyncio.ensure_future(probe(stop))
            started = time.perf_counter()
            # Started from a thread: spawning writes the pickled work to the child's pipe and
            # waits for the child to read it, which would hold this loop for seconds.
            await loop.run_in_executor(None, process.start)
            await loop.run_in_executor(None, process.join)
            seconds = time.perf_counter() - started
            stop.set()
            loaded = await task
            loop.set_debug(False)
            watchdog.stop.set()
            if blame:
                await beating
        await app.runtime.db.dispose()
        clock.set_frozen(None)
    answers = [results.get() for _ in range(CASES + SIGN_INS + VERIFIES)]
    for kind in ("issue", "sign-in", "verify"):
        mine = [a for a in answers if a[0] == kind]
        statuses = sorted({a[1] for a in mine})
        slowest = max(a[2] for a in mine)
        print(f"{kind}: {len(mine)} requests, statuses {statuses}, slowest {slowest:.2f} s")
        for bad in (a for a in mine if a[1] >= 400):
            print(f"  {bad[1]}: {bad[3][:300]}")
    watchdog.report()
    failed = [a for a in answers if a[1] not in (200, 201)]
    print(f"client process exit code {process.exitcode}; failed requests {len(failed)}")
    print(
        f"load {seconds:.1f} s ({len(pdf) / 1e6:.1f} MB PDF of {pages} pages); probe samples "
        f"idle={len(idle)} loaded={len(loaded)}; max lag loaded {max(loaded):.1f} ms"
    )
    idle_p99, p99 = pct(idle, 0.99), pct(loaded, 0.99)
    print(
        f"loop_lag: p50_ms={pct(loaded, 0.5):.2f} p99_ms={p99:.2f} "
        f"idle_p99_ms={idle_p99:.2f} ratio={p99 / max(idle_p99, 0.01):.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=60, help="pages of the verified PDF")
    parser.add_argument("--blame", action="store_true", help="list callbacks over 20 ms")
    args = parser.parse_args()
    asyncio.run(main(args.pages, args.blame))
