"""The audit hash chain.

``do_record`` appends in the caller's transaction, so the record commits or
rolls back with the change it describes. Appends are serialised: on SQLite the
write transaction already holds the database's write lock (BEGIN IMMEDIATE);
on PostgreSQL a transaction-scoped advisory lock is taken. ``seq`` is unique,
so a fork of the chain cannot be committed even if the lock were bypassed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.audit.models import AuditEvent
from hearing_server.clock import utcnow
from hearing_server.db import table_of

GENESIS = "0" * 64
_EVENTS = table_of(AuditEvent)
_COLUMNS = (
    "seq",
    "at",
    "actor_id",
    "action",
    "subject_type",
    "subject_id",
    "payload",
    "prev_hash",
    "hash",
)
_PG_LOCK_KEY = 0x48455941  # "HEYA"


def canonical(event: AuditEvent) -> bytes:
    body = {
        "seq": event.seq,
        "at": event.at.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "payload": event.payload,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


# The tip (seq, hash) this transaction last appended, so a second append (or a receipt's
# chain head) in the same transaction needs no SELECT: with the chain's lock held until the
# transaction ends, nobody else can have appended since. Keyed by the root transaction and
# never used inside a savepoint (a rolled-back savepoint could drop the row it names).
_TIP = "audit_chain_tip"


def _known_tip(session: AsyncSession) -> tuple[int, str] | None:
    cached = session.info.get(_TIP)
    if cached is None:
        return None
    sync = session.sync_session
    if sync.in_nested_transaction() or sync.get_transaction() is not cached[0]:
        return None
    return cached[1], cached[2]


_INSERT = insert(_EVENTS).returning(_EVENTS.c.id)  # built once; the row's values as parameters
_TIP_READ = select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)


async def _read_tip(session: AsyncSession) -> tuple[int, str] | None:
    last = (await session.execute(_TIP_READ)).first()
    return (last.seq, last.hash) if last else None


async def do_record(
    session: AsyncSession,
    *,
    actor_id: int | None,
    action: str,
    subject_type: str | None = None,
    subject_id: object = None,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    last = _known_tip(session)
    if last is None:
        bind = session.get_bind()
        if bind.dialect.name == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        last = await _read_tip(session)
    event = AuditEvent(
        seq=(last[0] + 1) if last else 1,
        at=utcnow(),
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id),
        payload=payload or {},
        prev_hash=last[1] if last else GENESIS,
    )
    event.hash = compute_hash(event)
    # One Core INSERT … RETURNING id instead of the unit of work (the same row, the same
    # column types). The caller's pending changes are flushed first, as the ORM flush did.
    await session.flush()
    event.id = (
        await session.execute(_INSERT, {name: getattr(event, name) for name in _COLUMNS})
    ).scalar_one()
    sync = session.sync_session
    if sync.in_nested_transaction():
        session.info.pop(_TIP, None)
    else:
        session.info[_TIP] = (sync.get_transaction(), event.seq, event.hash)
    return event


async def get_chain_tip(session: AsyncSession) -> tuple[int, str]:
    """(seq, hash) of the newest event: ``(0, GENESIS)`` for an empty chain."""
    tip = _known_tip(session) or await _read_tip(session)
    return tip if tip is not None else (0, GENESIS)


async def get_chain_head(session: AsyncSession) -> str:
    return (await get_chain_tip(session))[1]


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str | None = None


async def verify_chain(
    session: AsyncSession, *, batch: int = 5000, start_seq: int = 0, start_hash: str = GENESIS
) -> ChainReport:
    """Walk the chain in order; report the first row whose links or hash do not hold.

    From the start by default; or only the rows after ``start_seq``, whose head was
    ``start_hash`` (a checkpoint's), counting those rows in ``checked``."""
    prev_hash = start_hash
    expected_seq = start_seq + 1
    checked = 0
    last_seq = start_seq
    while True:
        rows = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq > last_seq)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
        ).all()
        if not rows:
            return ChainReport(ok=True, checked=checked)
        for event in rows:
            if event.seq != expected_seq:
                return ChainReport(
                    False, checked, event.seq, event.id, f"expected seq {expected_seq}"
                )
            if event.prev_hash != prev_hash:
                return ChainReport(False, checked, event.seq, event.id, "prev_hash does not link")
            if compute_hash(event) != event.hash:
                return ChainReport(
                    False, checked, event.seq, event.id, "content does not match hash"
                )
            prev_hash = event.hash
            expected_seq += 1
            checked += 1
            last_seq = event.seq
