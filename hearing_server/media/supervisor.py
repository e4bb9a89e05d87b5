"""Janus and coturn as children of ``heyat serve``: started with the server from the
configs rendered into ``var/media/`` (never the Debian system services), restarted when
they die, stopped with the server.

:func:`start_media` decides: nothing when ``HEYAT_MEDIA_JANUS_URL`` names a media server
run elsewhere or media is switched off; nothing (the room says audio/video is unavailable)
when Janus is not installed; otherwise Janus (and coturn when installed) supervised, and
the environment the app reads set to reach them.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from hearing_server.config import Settings, env_var
from hearing_server.media import render

log = logging.getLogger(__name__)


@dataclass
class Child:
    name: str
    command: list[str]
    log_path: Path
    pid_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0


@dataclass
class Supervisor:
    children: list[Child]
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        for child in self.children:
            _kill_stale(child)
            self._spawn(child)
        self._thread = threading.Thread(target=self._watch, name="media-supervisor", daemon=True)
        self._thread.start()

    def _spawn(self, child: Child) -> None:
        with open(child.log_path, "ab") as out:
            child.process = subprocess.Popen(  # noqa: S603  # our own command line
                child.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
        child.pid_path.write_text(str(child.process.pid))

    def _watch(self) -> None:
        backoff = {child.name: 1.0 for child in self.children}
        while not self._stopping.wait(0.5):
            for child in self.children:
                process = child.process
                if process is None or process.poll() is None:
                    continue
                if self._stopping.is_set():
                    return
                log.warning(
                    "%s exited with %s; restarting in %.0f s",
                    child.name,
                    process.returncode,
                    backoff[child.name],
                )
                if self._stopping.wait(backoff[child.name]):
                    return
                backoff[child.name] = min(backoff[child.name] * 2, 30.0)
                child.restarts += 1
                self._spawn(child)

    def stop(self) -> None:
        self._stopping.set()
        for child in self.children:
            process = child.process
            if process is not None and process.poll() is None:
                process.terminate()
        for child in self.children:
            process = child.process
            if process is None:
                continue
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            with contextlib.suppress(FileNotFoundError):
                child.pid_path.unlink()
        if self._thread is not None:
            self._thread.join(timeout=5)


def die_with_parent() -> None:
    """In the child before exec: SIGTERM when its parent (the server, or a bench) dies, even
    by SIGKILL (Linux's PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _kill_stale(child: Child) -> None:
    """A child left running by a server that was killed: stop it (only when its command
    line is ours, so an unrelated process that reused the pid is left alone)."""
    try:
        pid = int(child.pid_path.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return
    if [part.decode(errors="replace") for part in cmdline if part] == child.command:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)


def supervised_settings(settings: Settings) -> Settings:
    """The settings of a supervised Janus (and coturn): the control URL on 127.0.0.1 and
    the TURN URL on the public host of ``base_url``."""
    janus_url = f"http://127.0.0.1:{settings.media_janus_port}/janus"
    turn_urls = settings.media_turn_urls
    if not turn_urls and shutil.which("turnserver"):
        host = settings.media_turn_relay_ip or urlsplit(settings.base_url).hostname or "127.0.0.1"
        port = settings.media_turn_port
        turn_urls = (f"turn:{host}:{port}?transport=udp", f"turn:{host}:{port}?transport=tcp")
    return replace(settings, media_janus_url=janus_url, media_turn_urls=turn_urls)


def build_supervisor(settings: Settings) -> Supervisor:
    paths = render.render(settings)
    children = [
        Child(
            "janus",
            render.janus_command(settings, paths),
            paths.logs / "janus.out",
            paths.root / "janus.pid",
        )
    ]
    if shutil.which("turnserver"):
        children.append(
            Child(
                "coturn",
                render.turn_command(paths),
                paths.logs / "turnserver.out",
                paths.root / "turnserver.pid.heyat",
            )
        )
    return Supervisor(children)


def wait_ready(url: str, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url.rstrip("/") + "/info", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def start_media(settings: Settings) -> Supervisor | None:
    """Start Janus and coturn for ``heyat serve`` when Heyat runs them (see the module)."""
    if settings.media_disabled or settings.media_janus_url:
        return None
    if shutil.which("janus") is None:
        log.warning("Janus is not installed: the hearing rooms run without audio and video")
        return None
    settings = supervised_settings(settings.with_generated_secrets())
    supervisor = build_supervisor(settings)
    supervisor.start()
    if not wait_ready(settings.media_janus_url):
        log.warning("Janus did not answer; see %s", render.media_paths(settings).logs)
    # The app (create_app, in this process) reads these.
    os.environ[env_var("media_janus_url")] = settings.media_janus_url
    os.environ[env_var("media_turn_urls")] = ",".join(settings.media_turn_urls)
    return supervisor
