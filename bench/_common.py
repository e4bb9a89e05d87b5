"""What the room benches share: the seeded rooms, the bare python-socketio baseline server,
percentiles, ports and starting ``heyat serve``.

``prepare`` migrates and seeds a database (SQLite or PostgreSQL) with the demo
(``hearing_server.demo.do_seed_demo``), then ROOMS hearings of the diagnosis board, each
with a case and a 4-page document, and CLIENTS_PER_ROOM signed-in login sessions per room
(written directly, as the sign-in service would leave them): the chair first (the
presenter), then the other panel members and the secretary.

``serve_baseline`` is the bare server every room bench measures beside ours: served the
way ``heyat serve`` serves the app (``uvicorn.run`` with the same defaults), with the same
Socket.IO options, its ``view.set`` handler emitting an event of the same shape and size as
ours to the room.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hearing_server.media.supervisor import die_with_parent  # noqa: E402  (after the path is set)

CLIENTS_PER_ROOM = 12
NS = "/hearing"
HEYAT = str(ROOT / ".venv" / "bin" / "heyat")


def percentile(samples: list[float], pct: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_up(port: int, proc: subprocess.Popen[bytes], host: str = "127.0.0.1") -> None:
    """Until ``port`` accepts connections (bounded: 5 minutes, for a busy machine);
    SystemExit if ``proc`` died."""
    for _ in range(3000):
        if proc.poll() is not None:
            raise SystemExit(f"a server exited during start-up (port {port})")
        try:
            _reader, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit(f"a server did not start on port {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


# ---------------------------------------------------------------- the bare baseline server


def serve_baseline(port: int) -> None:
    """A bare python-socketio server: join the room named in auth, re-emit view.set to it
    (sequence number, type, op, the page with its case, actor, time)."""
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


def start_baseline(port: int, log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__)), "--serve-baseline", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=str(ROOT),
        preexec_fn=die_with_parent,  # a bench killed from outside left its server running
    )


def start_heyat(env: dict[str, str], port: int, log: Any) -> subprocess.Popen[bytes]:
    """``heyat serve`` (no media servers) on 127.0.0.1:``port`` with ``env`` added."""
    full = dict(os.environ)
    full.pop("HEYAT_REDIS_URL", None)
    full.setdefault("HEYAT_BASE_URL", f"http://127.0.0.1:{port}")
    full.update(env)
    return subprocess.Popen(
        [HEYAT, "serve", "--no-media", "--port", str(port)],
        env=full,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=str(ROOT),
        preexec_fn=die_with_parent,  # a bench killed from outside left its server running
    )


# ---------------------------------------------------------------- set-up of our server's data


def server_env(tmp: Path, url: str) -> dict[str, str]:
    """The HEYAT_* variables of a server on ``url`` keeping its files under ``tmp``."""
    from cryptography.fernet import Fernet

    return {
        "HEYAT_DATABASE_URL": url,
        "HEYAT_SECRET_KEY": "bench-" + secrets.token_urlsafe(24),
        "HEYAT_TOTP_KEYS": Fernet.generate_key().decode(),
        "HEYAT_VAR_DIR": str(tmp),
        "HEYAT_FILES_DIR": str(tmp / "files"),
        "HEYAT_PKI_DIR": str(tmp / "pki"),
    }


async def prepare(
    tmp: Path, rooms: int, url: str | None = None
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Migrate and seed ``url`` (default: a SQLite file in ``tmp``); the servers' HEYAT_*
    environment and, per room, its hearing, document and the sockets' session cookies."""
    from sqlalchemy import select
    from weasyprint import HTML

    from hearing_server.accounts.models import LoginSession, SessionStage, User
    from hearing_server.accounts.security import token_hash
    from hearing_server.cases.models import Document, DocumentVisibility, StoredFile
    from hearing_server.clock import utcnow
    from hearing_server.config import Settings
    from hearing_server.db import Database
    from hearing_server.demo import do_seed_demo
    from hearing_server.migrate import upgrade_async
    from hearing_server.scheduling.models import PanelSeat
    from tests.factories import make_case, make_hearing

    url = url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    env = server_env(tmp, url)
    settings = Settings(
        var_dir=tmp,
        database_url=url,
        secret_key=env["HEYAT_SECRET_KEY"],
        totp_keys=(env["HEYAT_TOTP_KEYS"],),
        files_dir=tmp / "files",
        pki_dir=tmp / "pki",
    )
    await upgrade_async(url)
    pdf = HTML(
        string='<html dir="rtl"><body>'
        + "".join(f'<p style="page-break-after:always">صفحهٔ {n}</p>' for n in range(1, 5))
        + "</body></html>"
    ).write_pdf()
    sha = hashlib.sha256(pdf).hexdigest()
    (tmp / "files" / sha[:2]).mkdir(parents=True, exist_ok=True)
    (tmp / "files" / sha[:2] / sha).write_bytes(pdf)
    db = Database(url)
    plan: list[dict[str, Any]] = []
    async with db.transaction() as session:
        await do_seed_demo(session, settings)
        session.add(StoredFile(sha256=sha, size=len(pdf), mime_type="application/pdf", pages=4))
        secretary = await session.scalar(select(User).where(User.username == "secretary"))
        assert secretary is not None
        now = utcnow()
        for _ in range(rooms):
            case = await make_case(session)
            hearing = await make_hearing(session, cases=[case])
            document = Document(
                case_id=case.id,
                sha256=sha,
                title="قرارداد کار",
                kind="contract",
                visibility=DocumentVisibility.PARTIES,
                uploaded_by_id=secretary.id,
            )
            session.add(document)
            await session.flush()
            panel = list(
                await session.scalars(select(PanelSeat).where(PanelSeat.hearing_id == hearing.id))
            )
            chair = next(seat.member_id for seat in panel if seat.is_chair)
            others = [seat.member_id for seat in panel if not seat.is_chair] + [secretary.id]
            users = [chair] + [others[i % len(others)] for i in range(CLIENTS_PER_ROOM - 1)]
            cookies = []
            for user_id in users:
                token = secrets.token_urlsafe(32)
                session.add(
                    LoginSession(
                        token_hash=token_hash(token),
                        user_id=user_id,
                        stage=SessionStage.FULL,
                        csrf_token=secrets.token_urlsafe(16),
                        created_at=now,
                        last_seen_at=now,
                        expires_at=now + timedelta(hours=12),
                    )
                )
                cookies.append(f"heyat_session={token}")
            plan.append({"hearing_id": hearing.id, "document_id": document.id, "cookies": cookies})
    await db.dispose()
    return env, plan


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-baseline":
        serve_baseline(int(sys.argv[2]))
