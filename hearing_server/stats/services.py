"""Snapshots of the statistics: made on a schedule when the audit chain moved (every change
that matters is on it) and on demand (``heyat stats refresh``); read by the public pages;
re-checked by ``heyat stats verify``.

Computing reads in one read-only transaction; the snapshot rows are written in a short
write transaction afterwards, so the single SQLite writer never waits for the arithmetic.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.audit.checkpoints import verify_anchored
from hearing_server.audit.models import AuditCheckpoint, AuditEvent
from hearing_server.audit.services import do_record, get_chain_tip
from hearing_server.boards.models import LabourOffice
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import Database
from hearing_server.errors import NotFound
from hearing_server.stats.compute import TABLES, compute_all, load_facts
from hearing_server.stats.models import StatsSnapshot

log = logging.getLogger(__name__)


def _as_json(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as it reads back from the JSON column (so two can be compared)."""
    loaded: dict[str, Any] = json.loads(json.dumps(data, ensure_ascii=False))
    return loaded


@dataclass(frozen=True)
class Computed:
    seq: int
    hash: str
    at: datetime | None
    sealed: bool
    computed_at: datetime
    scopes: dict[str, dict[str, Any]]


async def compute_now(session: AsyncSession, as_of: datetime | None = None) -> Computed:
    """Every scope's statistics as at ``as_of`` (now by default), with the chain head."""
    seq, head = await get_chain_tip(session)
    at = await session.scalar(select(AuditEvent.at).where(AuditEvent.seq == seq)) if seq else None
    sealed = (
        await session.scalar(
            select(AuditCheckpoint.id).where(
                AuditCheckpoint.seq == seq, AuditCheckpoint.hash == head
            )
        )
        is not None
    )
    moment = as_of or utcnow()
    facts = await load_facts(session, moment)
    return Computed(seq, head, at, sealed, moment, compute_all(facts))


def do_store(session: AsyncSession, computed: Computed) -> list[StatsSnapshot]:
    rows = [
        StatsSnapshot(
            scope=scope,
            computed_at=computed.computed_at,
            checkpoint_seq=computed.seq,
            checkpoint_hash=computed.hash,
            checkpoint_at=computed.at,
            sealed=computed.sealed,
            data=_as_json(data),
        )
        for scope, data in computed.scopes.items()
    ]
    session.add_all(rows)
    return rows


KEEP_REFRESHES = 48
"""Older refreshes than this many are deleted (each is every scope's tables again)."""


async def do_prune(session: AsyncSession) -> None:
    cutoff = await session.scalar(
        select(StatsSnapshot.computed_at)
        .where(StatsSnapshot.scope == "all")
        .order_by(StatsSnapshot.computed_at.desc())
        .offset(KEEP_REFRESHES - 1)
        .limit(1)
    )
    if cutoff is not None:
        await session.execute(delete(StatsSnapshot).where(StatsSnapshot.computed_at < cutoff))


async def refresh(db: Database) -> Computed:
    """Compute every scope now and publish it."""
    async with db.transaction(write=False) as session:
        computed = await compute_now(session)
    async with db.transaction() as session:
        do_store(session, computed)
        await session.flush()
        await do_prune(session)
    return computed


async def get_snapshot(session: AsyncSession, scope: str) -> StatsSnapshot | None:
    """The published (newest) snapshot of ``scope``."""
    found: StatsSnapshot | None = await session.scalar(
        select(StatsSnapshot)
        .where(StatsSnapshot.scope == scope)
        .order_by(StatsSnapshot.id.desc())
        .limit(1)
    )
    return found


async def latest_snapshots(session: AsyncSession) -> list[StatsSnapshot]:
    """The newest snapshot of every scope of the latest refresh."""
    newest = await get_snapshot(session, "all")
    if newest is None:
        return []
    rows = await session.scalars(
        select(StatsSnapshot)
        .where(StatsSnapshot.computed_at == newest.computed_at)
        .order_by(StatsSnapshot.id)
    )
    by_scope = {row.scope: row for row in rows}  # the newest of each, should two share a time
    return sorted(by_scope.values(), key=lambda row: row.id)


async def do_set_name_members(session: AsyncSession, *, office_id: int, on: bool) -> None:
    """Whether ``office_id``'s public statistics name each member's attendance; recorded on
    the audit chain (the next refresh follows it)."""
    office = await session.get(LabourOffice, office_id)
    if office is None:
        raise NotFound("No such labour office.")
    if office.stats_name_members == on:
        return
    office.stats_name_members = on
    await do_record(
        session,
        actor_id=None,
        action="office.stats_name_members",
        subject_type="labour_office",
        subject_id=office_id,
        payload={"on": on},
    )
    await session.flush()


# --------------------------------------------------------------------------- verify


@dataclass
class VerifyReport:
    snapshots: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.snapshots > 0 and not self.problems


def _cell(value: Any) -> str:
    if value is None:
        return "suppressed"
    if isinstance(value, dict):
        return str(value.get("en", value))
    return str(value)


def diff_tables(scope: str, published: dict[str, Any], recomputed: dict[str, Any]) -> list[str]:
    """Readable differences between two scopes' tables, cell by cell."""
    out: list[str] = []
    for table, columns in TABLES.items():
        old = published.get("tables", {}).get(table, [])
        new = recomputed.get("tables", {}).get(table, [])
        key = columns[0]
        old_rows = {_cell(r.get(key)): r for r in old}
        new_rows = {_cell(r.get(key)): r for r in new}
        for label in sorted(old_rows.keys() | new_rows.keys()):
            a, b = old_rows.get(label), new_rows.get(label)
            if a is None or b is None:
                where = "only published" if b is None else "only recomputed"
                out.append(f"{scope} {table} [{label}]: row {where}")
                continue
            for column in columns[1:]:
                if a.get(column) != b.get(column):
                    out.append(
                        f"{scope} {table} [{label}] {column}: published "
                        f"{_cell(a.get(column))}, recomputed {_cell(b.get(column))}"
                    )
    return out


async def verify(session: AsyncSession, settings: Settings) -> VerifyReport:
    """The audit chain intact (and its latest sealed checkpoint), the head each published
    snapshot names still on it unchanged, and every published number recomputed from the
    database as at the snapshot's time, equal."""
    report = VerifyReport()
    snapshots = await latest_snapshots(session)
    report.snapshots = len(snapshots)
    if not snapshots:
        report.problems.append("no statistics have been published yet (run `heyat stats refresh`)")
        return report
    anchored = await verify_anchored(session, settings)
    if not anchored.chain.ok:
        report.problems.append(
            f"audit chain broken at seq {anchored.chain.broken_seq}: {anchored.chain.reason}"
        )
    if anchored.problem:
        report.problems.append(f"audit chain: {anchored.problem}")
    first = snapshots[0]
    row_hash = await session.scalar(
        select(AuditEvent.hash).where(AuditEvent.seq == first.checkpoint_seq)
    )
    if first.checkpoint_seq and row_hash != first.checkpoint_hash:
        report.problems.append(
            f"the audit row at seq {first.checkpoint_seq} the statistics name is missing or "
            f"different (published {first.checkpoint_hash}, now {row_hash})"
        )
    if anchored.chain.ok and anchored.chain.checked < first.checkpoint_seq:
        report.problems.append(
            f"the audit chain ends at seq {anchored.chain.checked}, before the statistics' "
            f"seq {first.checkpoint_seq}"
        )
    recomputed = await compute_now(session, as_of=first.computed_at)
    for snapshot in snapshots:
        again = recomputed.scopes.get(snapshot.scope)
        if again is None:
            report.problems.append(f"{snapshot.scope}: this scope no longer exists")
            continue
        report.problems.extend(diff_tables(snapshot.scope, snapshot.data, _as_json(again)))
    return report


# --------------------------------------------------------------------------- schedule


async def refresh_if_moved(db: Database) -> bool:
    """Refresh when the audit chain moved since the published snapshot (or none exists)."""
    async with db.transaction(write=False) as session:
        seq, _head = await get_chain_tip(session)
        published = await get_snapshot(session, "all")
    if published is not None and published.checkpoint_seq == seq:
        return False
    await refresh(db)
    return True


def _refresh_in_thread(database_url: str) -> None:
    """:func:`refresh_if_moved` on its own event loop and engine: reading and tabulating
    100,000 cases takes seconds of Python, which must not stall the served loop (rooms,
    votes, pages)."""

    async def work() -> None:
        db = Database(database_url)
        try:
            await refresh_if_moved(db)
        finally:
            await db.dispose()

    asyncio.run(work())


async def run_forever(db: Database, settings: Settings) -> None:
    """A served app's background task: statistics follow the record within
    ``stats_refresh_seconds``, computed off the served loop (``db`` is the app's, unused
    here: the work gets an engine of its own in its thread)."""
    while True:
        try:
            await asyncio.to_thread(_refresh_in_thread, settings.database_url)
        except asyncio.CancelledError:
            raise
        except Exception:  # a database hiccup: try again next time
            log.exception("statistics refresh failed")
        await asyncio.sleep(settings.stats_refresh_seconds)


def install(app: Any) -> None:
    """Start the loop when the app starts serving (the after_serving hook cancels it)."""

    async def start_stats_loop() -> None:
        rt = app.extensions["heyat"]
        rt.background.append(
            asyncio.create_task(run_forever(rt.db, rt.settings), name="heyat-stats-refresh")
        )

    app.before_serving(start_stats_loop)
