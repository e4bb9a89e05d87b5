"""Rulings become final once every party's objection window has closed without
objection: the sweep, and the loop that runs it.

``final_at`` is the instant the last window closed (the end of that party's last day in
Tehran), not the moment a pass noticed it. A ruling with a party never notified has no
``objection_deadline`` and is never picked up. Before marking a ruling final the windows
are computed again with the calendar of the moment (a holiday entered since the
notification may have moved a last day): a window that is open again only updates the
stored deadline.

The loop is started in a ``before_serving`` hook and kept in ``Runtime.background``
(cancelled on shutdown). Each pass is one short transaction running
:func:`do_finality_sweep`, which only touches rulings still ``issued`` with a past
deadline, skipping rows another process holds: running it twice, or in two processes at
once, marks each ruling final exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.audit.services import do_record
from hearing_server.cases.models import Case, CaseStatus
from hearing_server.cases.workflow import do_transition
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import Database
from hearing_server.errors import NotFound
from hearing_server.issuance.models import Objection, Ruling, RulingState
from hearing_server.issuance.notices import do_refresh_deadline
from hearing_server.issuance.publication import publish_pending

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 60.0


async def do_finality_sweep(session: AsyncSession) -> list[Ruling]:
    """Mark final every issued ruling whose parties' windows have all closed. Idempotent."""
    now = utcnow()
    due = list(
        await session.scalars(
            select(Ruling)
            .where(
                Ruling.state == RulingState.ISSUED,
                Ruling.objection_deadline.is_not(None),
                Ruling.objection_deadline < now,
            )
            .order_by(Ruling.id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    made: list[Ruling] = []
    for ruling in due:
        closed = await do_refresh_deadline(session, ruling)
        if closed is None or closed > now:
            continue  # a window moved (or a party is no longer counted as notified)
        objected = await session.scalar(
            select(Objection.id).where(Objection.ruling_id == ruling.id).limit(1)
        )
        if objected is not None:
            continue
        made.append(ruling)
        ruling.state = RulingState.FINAL
        ruling.final_at = closed
        case = await session.get(Case, ruling.case_id)
        if case is None:
            raise NotFound("The record is missing.")
        if case.status == CaseStatus.RULING_ISSUED:
            await do_transition(session, case, CaseStatus.FINAL, actor=None, reason=ruling.number)
        await do_record(
            session,
            actor_id=None,
            action="ruling.final",
            subject_type="ruling",
            subject_id=ruling.id,
            payload={
                "number": ruling.number,
                "deadline": ruling.objection_deadline.isoformat()
                if ruling.objection_deadline
                else None,
            },
        )
    await session.flush()
    return made


async def sweep_once(db: Database) -> int:
    """One pass in its own transaction; returns how many rulings became final."""
    async with db.transaction() as session:
        made = await do_finality_sweep(session)
    if made:
        log.info("rulings became final: %s", ", ".join(r.number for r in made))
    return len(made)


async def run_forever(
    db: Database, interval: float = INTERVAL_SECONDS, settings: Settings | None = None
) -> None:
    """Sweep, then (with ``settings``) publish the anonymised copies of rulings that are
    final — after the sweep's transaction has committed, never inside it."""
    while True:
        try:
            await sweep_once(db)
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed pass is retried on the next tick; never kill the loop
            log.exception("finality sweep failed")
        if settings is not None:
            try:
                await publish_pending(db, settings)
            except asyncio.CancelledError:
                raise
            except Exception:  # retried on the next tick, like the sweep
                log.exception("publishing final rulings failed")
        await asyncio.sleep(interval)


def start(
    db: Database, background: list[asyncio.Task[None]], settings: Settings | None = None
) -> asyncio.Task[None]:
    """Start the loop (once per runtime) and register it for cancellation on shutdown."""
    for task in background:
        if task.get_name() == "heyat-finality" and not task.done():
            return task
    task = asyncio.create_task(run_forever(db, settings=settings), name="heyat-finality")
    background.append(task)
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def install(app: Any) -> None:
    """Start the loop when the app starts serving (the after_serving hook cancels it)."""

    async def start_finality_loop() -> None:
        rt = app.extensions["heyat"]
        _task = start(rt.db, rt.background, rt.settings)

    app.before_serving(start_finality_loop)
