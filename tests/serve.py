"""A real `heyat serve` child process for the tests that kill, restart or run several
servers (rooms across processes, ballots across a kill -9, reminders across restarts)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from hearing_server import clock
from hearing_server.config import Settings
from tests.conftest import EVENTUALLY_SECONDS, PROJECT, free_port, server_env

HEYAT = str(Path(sys.executable).parent / "heyat")
WAIT = EVENTUALLY_SECONDS  # seconds a server may take to answer /healthz (a busy machine)


class ServeProcess:
    """One `heyat serve` on its own port, or on ``port`` (to start again at the same
    address); ``env`` adds to :func:`tests.conftest.server_env`. Output goes to ``log``."""

    def __init__(self, settings: Settings, log: Path, *, port: int | None = None, **env: str):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = server_env(settings, self.port, **env)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        """Start the process (returns at once; :meth:`healthy` waits for it)."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [HEYAT, "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(PROJECT),
                start_new_session=True,  # its own process group, for the clean-up
            )

    def check_alive(self) -> None:
        assert self.proc is not None, "the server was never started"
        if self.proc.poll() is not None:
            raise AssertionError(
                f"server on port {self.port} exited with {self.proc.returncode}: "
                f"{self.log.read_text(errors='replace')[-3000:]}"
            )

    async def healthy(self) -> None:
        async with httpx.AsyncClient(timeout=EVENTUALLY_SECONDS, base_url=self.url) as http:
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                self.check_alive()
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"server on port {self.port} did not answer /healthz in {WAIT} s")

    async def start(self) -> None:
        self.spawn()
        await self.healthy()
        # The server runs on the real clock while this test's clock is frozen at its start;
        # on a busy machine starting servers can take longer than a TOTP step or two, so
        # the codes the test makes for it must be made for now.
        clock.set_frozen(datetime.now(UTC).replace(microsecond=0))

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` (SIGTERM: a clean stop; SIGKILL: kill -9) and wait for the end."""
        self.check_alive()
        assert self.proc is not None
        os.kill(self.proc.pid, sig)
        self.proc.wait(timeout=EVENTUALLY_SECONDS)

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)

    def stop(self) -> None:
        """Clean-up: stop the process if it still runs (kill -9 its group if it lingers)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
