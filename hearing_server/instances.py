"""Server instances: each serving process has an id and a heartbeat in the database, so
that what it held (its sockets' attendance) can be closed when it dies without a word.

A process registers at start-up and beats every ``Settings.instance_heartbeat_seconds``;
one whose last beat is three beats old is dead. Its rows are closed by whichever process sweeps
next (every process sweeps at start-up and after each beat; ``rooms.presence``), and its
instance row goes with them. Heartbeats use the wall clock, not :mod:`hearing_server.clock`
(the domain's time, which tests freeze and move).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Integer, String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from hearing_server.db import Base, Database, UTCDateTime

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0  # the default of Settings.instance_heartbeat_seconds
MISSED_BEATS = 3


def dead_after(interval: float = HEARTBEAT_SECONDS) -> timedelta:
    """How old the last beat of a dead instance is: three missed beats."""
    return timedelta(seconds=MISSED_BEATS * interval)


DEAD_AFTER = dead_after()


class ServerInstance(Base):
    __tablename__ = "server_instances"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))


def wallclock() -> datetime:
    return datetime.now(UTC)


async def do_register(session: AsyncSession, instance_id: str) -> ServerInstance:
    now = wallclock()
    row = ServerInstance(
        id=instance_id,
        started_at=now,
        heartbeat_at=now,
        pid=os.getpid(),
        host=socket.gethostname()[:255],
    )
    session.add(row)
    await session.flush()
    return row


async def do_beat(session: AsyncSession, instance_id: str) -> None:
    """This instance is alive now. Registered again if a sweep took it for dead (the
    process stalled longer than ``DEAD_AFTER``)."""
    result = await session.execute(
        update(ServerInstance)
        .where(ServerInstance.id == instance_id)
        .values(heartbeat_at=wallclock())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]  # CursorResult
        log.warning("instance %s was taken for dead; registering it again", instance_id)
        await do_register(session, instance_id)


async def dead_instances(
    session: AsyncSession, *, now: datetime | None = None, dead_after: timedelta = DEAD_AFTER
) -> list[tuple[str, datetime]]:
    """(id, last heartbeat) of every instance whose last beat is older than ``dead_after``."""
    limit = (now or wallclock()) - dead_after
    rows = await session.execute(
        select(ServerInstance.id, ServerInstance.heartbeat_at)
        .where(ServerInstance.heartbeat_at < limit)
        .order_by(ServerInstance.id)
    )
    return [(str(instance_id), at) for instance_id, at in rows]


async def do_forget(session: AsyncSession, instance_ids: list[str]) -> None:
    if instance_ids:
        await session.execute(delete(ServerInstance).where(ServerInstance.id.in_(instance_ids)))


Sweep = Callable[[AsyncSession], Awaitable[object]]
"""Close what dead instances held (in the caller's transaction)."""


async def run_heartbeats(
    db: Database, instance_id: str, sweep: Sweep, interval: float = HEARTBEAT_SECONDS
) -> None:
    """Forever (a served app's background task): beat, then sweep the dead, every
    ``interval``; a failure is logged and tried again at the next beat."""
    while True:
        await asyncio.sleep(interval)
        try:
            async with db.transaction() as session:
                await do_beat(session, instance_id)
            async with db.transaction() as session:
                await sweep(session)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("instance heartbeat or sweep failed")
