"""Shared set-up of the room benches (room_fanout, reconnect_storm): a database of their own
and the hearing rooms' data, and the small helpers around a served port.

:func:`prepare` migrates a fresh SQLite database in ``tmp``, seeds the demo
(``hearing_server.demo.do_seed_demo``), then ``rooms`` hearings of the diagnosis board,
each with a case and a 4-page document, and ``clients_per_room`` signed-in login sessions
per room (written directly, as the sign-in service would leave them): the chair first, then
the other panel members and the secretary in turn. It returns the ``HEYAT_*`` environment
for ``heyat serve`` on that database and, per room, ``{"hearing_id", "document_id",
"cookies", "user_ids"}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import subprocess
from pathlib import Path
from typing import Any

CLIENTS_PER_ROOM = 12


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


async def wait_up(port: int, proc: subprocess.Popen[bytes], *, step: float = 0.1) -> None:
    """Until ``port`` accepts a connection (uvicorn binds after the app's start-up)."""
    for _ in range(int(60 / step)):
        if proc.poll() is not None:
            raise SystemExit("a server exited during start-up")
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(step)
    raise SystemExit("a server did not start")


async def prepare(
    tmp: Path, rooms: int, clients_per_room: int = CLIENTS_PER_ROOM
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    import secrets
    from datetime import timedelta

    from cryptography.fernet import Fernet
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

    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    env = {
        "HEYAT_DATABASE_URL": url,
        "HEYAT_SECRET_KEY": "bench-" + secrets.token_urlsafe(24),
        "HEYAT_TOTP_KEYS": Fernet.generate_key().decode(),
        "HEYAT_VAR_DIR": str(tmp),
        "HEYAT_FILES_DIR": str(tmp / "files"),
        "HEYAT_PKI_DIR": str(tmp / "pki"),
    }
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
            users = [chair] + [others[i % len(others)] for i in range(clients_per_room - 1)]
            cookies = []
            now = utcnow()
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
            plan.append(
                {
                    "hearing_id": hearing.id,
                    "document_id": document.id,
                    "cookies": cookies,
                    "user_ids": users,
                }
            )
    await db.dispose()
    return env, plan
