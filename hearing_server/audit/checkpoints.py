"""Sealed checkpoints of the audit chain's head.

The chain alone proves that no row was changed or inserted, but not that its newest rows
were not cut off: a chain that ends early still links. A checkpoint records (seq, hash,
time) of the head, sealed with the board's certificate (and an RFC 3161 timestamp when
``HEYAT_TSA_URL`` is set), so that everything up to it is anchored: :func:`verify_anchored`
fails when the row the latest checkpoint names is gone or different.

Checkpoints are made by a background loop every ``audit_checkpoint_seconds`` when the head
moved, and on demand (``heyat audit checkpoint``). Each one first verifies the rows added
since the previous checkpoint, so a broken chain is never sealed. Sealing runs outside any
transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.audit.models import AuditCheckpoint, AuditEvent
from hearing_server.audit.services import GENESIS, ChainReport, get_chain_tip, verify_chain
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import Database
from rulings.seal import SealStatus, check_seal, seal
from rulings.sign import SignerConfig

log = logging.getLogger(__name__)


def checkpoint_message(seq: int, head: str, at: datetime) -> bytes:
    """The exact bytes a checkpoint's seal covers."""
    body = {
        "chain": "heyat-audit",
        "seq": seq,
        "hash": head,
        "at": at.isoformat(timespec="microseconds"),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def seal_config(settings: Settings) -> SignerConfig:
    return SignerConfig(
        pkcs12_path=settings.pki_dir / "board.p12",
        tsa_url=settings.tsa_url,
        reason="Audit chain checkpoint",
    )


@dataclass(frozen=True)
class CheckpointView:
    """A checkpoint as documents print it."""

    seq: int
    hash: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "at": self.at.isoformat()}


async def latest_checkpoint(session: AsyncSession) -> AuditCheckpoint | None:
    found: AuditCheckpoint | None = await session.scalar(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1)
    )
    return found


async def latest_checkpoint_view(session: AsyncSession) -> CheckpointView | None:
    found = await latest_checkpoint(session)
    return None if found is None else CheckpointView(found.seq, found.hash, found.at)


async def _row_matches(session: AsyncSession, seq: int, head: str) -> bool:
    return (await session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))) == head


async def make_checkpoint(db: Database, settings: Settings) -> AuditCheckpoint | None:
    """Seal the current head when it moved since the latest checkpoint; None when it did not
    (or another process sealed it first). Refuses (logs, returns None) on a broken chain."""
    async with db.transaction(write=False) as session:
        seq, head = await get_chain_tip(session)
        last = await latest_checkpoint(session)
        if seq == 0 or (last is not None and last.seq >= seq):
            return None
        if last is not None and not await _row_matches(session, last.seq, last.hash):
            log.error("audit chain: the row of checkpoint seq %s is gone or changed", last.seq)
            return None
        report = await verify_chain(
            session,
            start_seq=last.seq if last else 0,
            start_hash=last.hash if last else GENESIS,
        )
    if not report.ok:
        log.error("audit chain broken at seq %s: %s; not sealed", report.broken_seq, report.reason)
        return None
    at = utcnow()
    config = seal_config(settings)
    sealed = await seal(checkpoint_message(seq, head, at), config)
    checkpoint = AuditCheckpoint(
        seq=seq, hash=head, at=at, seal=sealed, timestamped=config.tsa_url is not None
    )
    try:
        async with db.transaction() as session:
            session.add(checkpoint)
    except IntegrityError:  # another process sealed the same head
        return None
    return checkpoint


async def check_checkpoint(checkpoint: AuditCheckpoint, settings: Settings) -> SealStatus:
    ca = settings.pki_dir / "ca.pem"
    return await check_seal(
        checkpoint_message(checkpoint.seq, checkpoint.hash, checkpoint.at),
        checkpoint.seal,
        ca.read_bytes() if ca.is_file() else b"",
    )


@dataclass(frozen=True)
class AnchoredReport:
    """The chain checked, and checked against its latest checkpoint."""

    chain: ChainReport
    checkpoint_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.problem is None


async def verify_anchored(session: AsyncSession, settings: Settings) -> AnchoredReport:
    """The whole chain, then its latest checkpoint: sealed by a trusted certificate, and its
    row present with the sealed hash (rows cut off before it are caught here)."""
    chain = await verify_chain(session)
    last = await latest_checkpoint(session)
    if last is None:
        return AnchoredReport(chain, None, None)
    status = await check_checkpoint(last, settings)
    if not status.ok:
        return AnchoredReport(
            chain, last.seq, f"the seal of checkpoint seq {last.seq} does not verify"
        )
    if chain.checked < last.seq or not await _row_matches(session, last.seq, last.hash):
        return AnchoredReport(
            chain,
            last.seq,
            f"checkpoint seq {last.seq} names a row that is missing or different "
            f"(the chain verifies only up to seq {chain.checked})",
        )
    return AnchoredReport(chain, last.seq, None)


async def covering_checkpoint(session: AsyncSession, seq: int) -> AuditCheckpoint | None:
    """The oldest checkpoint at or after ``seq``, when its row still has the sealed hash."""
    found = await session.scalar(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.seq >= seq)
        .order_by(AuditCheckpoint.seq)
        .limit(1)
    )
    if found is None or not await _row_matches(session, found.seq, found.hash):
        return None
    return found


async def run_forever(db: Database, settings: Settings) -> None:
    """A served app's background task: checkpoint the head whenever it moved (once the
    installation has its signing certificate)."""
    while True:
        await asyncio.sleep(settings.audit_checkpoint_seconds)
        if not seal_config(settings).pkcs12_path.is_file():
            continue
        try:
            await make_checkpoint(db, settings)
        except asyncio.CancelledError:
            raise
        except Exception:  # no certificate yet, a TSA down: try again next time
            log.exception("audit checkpoint failed")


def install(app: Any) -> None:
    """Start the loop when the app starts serving (the after_serving hook cancels it)."""

    async def start_checkpoint_loop() -> None:
        rt = app.extensions["heyat"]
        rt.background.append(
            asyncio.create_task(run_forever(rt.db, rt.settings), name="heyat-audit-checkpoints")
        )

    app.before_serving(start_checkpoint_loop)
