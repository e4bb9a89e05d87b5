"""Sealed checkpoints anchor the audit chain's tail: cutting off its newest rows, or
forging a checkpoint, is caught by `heyat audit verify`; a TSA's RFC 3161 token is carried
when one is configured."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from sqlalchemy import delete, func, select, update

from hearing_server.audit.checkpoints import (
    check_checkpoint,
    make_checkpoint,
    verify_anchored,
)
from hearing_server.audit.models import AuditCheckpoint, AuditEvent
from hearing_server.audit.services import do_record
from hearing_server.config import Settings
from tests.conftest import PROJECT, eventually, server_env

HEYAT = str(PROJECT / ".venv" / "bin" / "heyat")


def heyat(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HEYAT, *args],
        env=server_env(settings, 1),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def _append(db: Any, n: int) -> None:
    async with db.transaction() as session:
        for i in range(n):
            await do_record(session, actor_id=None, action="test.event", payload={"i": i})


async def test_verify_passes_on_an_intact_chain_and_fails_when_its_tail_is_cut(
    db: Any, settings: Settings
) -> None:
    await _append(db, 3)
    made = await make_checkpoint(db, settings)
    assert made is not None
    async with db.transaction(write=False) as session:
        tip = await session.scalar(select(func.max(AuditEvent.seq)))
        report = await verify_anchored(session, settings)
    assert made.seq == tip
    assert report.ok and report.checkpoint_seq == tip
    assert (await check_checkpoint(made, settings)).ok
    intact = heyat(settings, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    assert f"checkpoint at seq {tip}" in intact.stdout

    # Nothing moved: no second checkpoint.
    assert await make_checkpoint(db, settings) is None

    # Cut the two newest rows, both before (and at) the checkpoint: the rest still links.
    async with db.transaction() as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.seq > tip - 2))
    cut = heyat(settings, "audit", "verify")
    assert cut.returncode == 1
    assert f"checkpoint seq {tip}" in cut.stderr
    # A checkpoint is never made over a chain that lost its anchored rows.
    await _append(db, 1)
    assert await make_checkpoint(db, settings) is None


async def test_a_forged_checkpoint_does_not_verify(db: Any, settings: Settings) -> None:
    await _append(db, 2)
    made = await make_checkpoint(db, settings)
    assert made is not None
    # Someone with the database moves the anchor back to an earlier row (to hide a cut).
    async with db.transaction() as session:
        earlier = await session.scalar(select(AuditEvent).where(AuditEvent.seq == made.seq - 1))
        assert earlier is not None
        await session.execute(
            update(AuditCheckpoint)
            .where(AuditCheckpoint.id == made.id)
            .values(seq=earlier.seq, hash=earlier.hash)
        )
    async with db.transaction(write=False) as session:
        report = await verify_anchored(session, settings)
    assert not report.ok and report.problem is not None and "seal" in report.problem
    assert heyat(settings, "audit", "verify").returncode == 1


async def test_rows_appended_after_a_checkpoint_are_verified_before_the_next(
    db: Any, settings: Settings
) -> None:
    await _append(db, 1)
    assert await make_checkpoint(db, settings) is not None
    await _append(db, 3)
    async with db.transaction() as session:  # rewrite a row after the checkpoint
        newest = await session.scalar(select(func.max(AuditEvent.seq)))
        await session.execute(
            update(AuditEvent).where(AuditEvent.seq == newest - 1).values(action="forged")
        )
    assert await make_checkpoint(db, settings) is None  # a broken chain is never sealed
    assert heyat(settings, "audit", "verify").returncode == 1


# ------------------------------------------------------------------ a real RFC 3161 TSA

TSA_TIME = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def _tsa_identity() -> tuple[asn1_x509.Certificate, asn1_keys.PrivateKeyInfo]:
    """A self-standing TSA: its own root and a time-stamping certificate."""
    now = datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's test TSA
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Test TSA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    der_key = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (
        asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        asn1_keys.PrivateKeyInfo.load(der_key),
    )


@pytest.fixture
def tsa_url() -> Iterator[tuple[str, list[int]]]:
    """An RFC 3161 server on a real port (application/timestamp-query over HTTP)."""
    stamper = DummyTimeStamper(*_tsa_identity(), fixed_dt=TSA_TIME)
    requests: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            assert self.headers["Content-Type"] == "application/timestamp-query"
            response = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
            requests.append(len(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(response)))
            self.end_headers()
            self.wfile.write(response)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa", requests
    server.shutdown()
    thread.join()


async def test_with_a_tsa_the_checkpoint_carries_its_timestamp(
    db: Any, settings: Settings, tsa_url: tuple[str, list[int]]
) -> None:
    from dataclasses import replace

    url, requests = tsa_url
    stamped = replace(settings, tsa_url=url)
    await _append(db, 1)
    made = await make_checkpoint(db, stamped)
    assert made is not None and made.timestamped
    assert len(requests) == 1
    status = await check_checkpoint(made, stamped)
    assert status.ok
    assert status.timestamp == TSA_TIME


async def test_a_served_app_seals_the_head_by_itself(settings: Settings) -> None:
    from dataclasses import replace

    from hearing_server.app import create_app
    from tests.conftest import free_port, serving

    app = create_app(replace(settings, audit_checkpoint_seconds=0.05))
    db = app.runtime.db
    try:
        async with serving(app, free_port()):
            await _append(db, 1)
            async with db.transaction(write=False) as session:
                tip = await session.scalar(select(func.max(AuditEvent.seq)))

            async def sealed_at_tip() -> int | None:
                async with db.transaction(write=False) as session:
                    sealed = await session.scalar(select(func.max(AuditCheckpoint.seq)))
                return sealed if sealed is not None and sealed >= tip else None

            sealed = await eventually(sealed_at_tip)
            assert sealed is not None and sealed >= tip
    finally:
        await db.dispose()
