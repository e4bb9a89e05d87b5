"""The loop that makes rulings final once their objection window has passed.

Started in a ``before_serving`` hook and kept in ``Runtime.background`` (cancelled on
shutdown). Each pass is one short transaction running
:func:`hearing_server.issuance.services.do_finality_sweep`, which only touches rulings
still ``issued`` with a past deadline: running it twice, or in two processes at once,
marks each ruling final exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from hearing_server.db import Database
from hearing_server.issuance.services import do_finality_sweep

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 60.0


async def sweep_once(db: Database) -> int:
    """One pass in its own transaction; returns how many rulings became final."""
    async with db.transaction() as session:
        made = await do_finality_sweep(session)
    if made:
        log.info("rulings became final: %s", ", ".join(r.number for r in made))
    return len(made)


async def run_forever(db: Database, interval: float = INTERVAL_SECONDS) -> None:
    while True:
        try:
            await sweep_once(db)
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed pass is retried on the next tick; never kill the loop
            log.exception("finality sweep failed")
        await asyncio.sleep(interval)


def start(db: Database, background: list[asyncio.Task[None]]) -> asyncio.Task[None]:
    """Start the loop (once per runtime) and register it for cancellation on shutdown."""
    for task in background:
        if task.get_name() == "heyat-finality" and not task.done():
            return task
    task = asyncio.create_task(run_forever(db), name="heyat-finality")
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
        _task = start(rt.db, rt.background)

    app.before_serving(start_finality_loop)
