"""Too many attempts: counting them, and refusing once a limit is reached.

Sign-in (per account and per address), the public case tracking (per address and per
tracking code), ballots (per member) and authenticator codes (per user) are limited
here. A limit is ``limit`` attempts within ``window``; :func:`is_over` is the one place
that decides "too many", and :func:`retry_after` the one that says how long a lock lasts.

Attempts are kept in one of two ways:

- ThrottleHit rows under a key ("login:acct:ali", "track:ip:…", "vote:user:7"), counted
  over a sliding window: :func:`check_throttle` before the attempt, :func:`do_count_attempt`
  when it fails. A hot path counts a key's hits in its own read (:func:`hits_within`,
  :func:`oldest_hit`), then calls :func:`check_count` and :func:`do_count_hot_attempt`.
- a counter on the guarded row itself (an authenticator's ``failed_count`` and
  ``locked_until``), raised by one UPDATE … RETURNING so that concurrent failures are each
  counted: the count that reaches the limit locks the row until :func:`lock_until`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import ThrottleHit
from hearing_server.clock import utcnow
from hearing_server.db import table_of
from hearing_server.errors import TooManyRequests

KEEP = timedelta(days=1)  # hits older than this are forgotten


def is_over(count: int | None, *, limit: int) -> bool:
    """``count`` attempts reach ``limit``: the next one is refused."""
    return (count or 0) >= limit


def too_many() -> TooManyRequests:
    return TooManyRequests("Too many attempts. Please wait a few minutes and try again.")


def check_count(count: int | None, *, limit: int) -> None:
    """Refuse when ``count`` (a key's hits in the window, read by the caller) is over ``limit``."""
    if is_over(count, limit=limit):
        raise too_many()


def lock_until(
    count: int | None, *, limit: int, window: timedelta, now: datetime
) -> datetime | None:
    """A counter's lock: when ``count`` failures reach ``limit``, locked until now + ``window``."""
    return now + window if is_over(count, limit=limit) else None


def retry_after(locked_until: datetime | None, now: datetime) -> int | None:
    """Minutes to wait until a lock ends (at least 1), or None when it is not locked."""
    if locked_until is None or locked_until <= now:
        return None
    return max(1, int((locked_until - now).total_seconds() // 60) + 1)


# ---------------------------------------------------------------- hits under keys


def hits_within(key: Any, since: Any) -> Any:
    """The number of ``key``'s hits at or after ``since`` (a scalar subquery; either may be
    a bind parameter), for a caller's own read."""
    return (
        select(func.count())
        .select_from(ThrottleHit)
        .where(ThrottleHit.key == key, ThrottleHit.at >= since)
        .scalar_subquery()
    )


def oldest_hit(key: Any) -> Any:
    """When ``key``'s oldest hit was (a scalar subquery), to tell :func:`do_count_hot_attempt`."""
    return select(func.min(ThrottleHit.at)).where(ThrottleHit.key == key).scalar_subquery()


# Built once.
_HITS = select(hits_within(bindparam("key"), bindparam("since")))
_HIT_INSERT = insert(table_of(ThrottleHit))


async def check_throttle(
    session: AsyncSession, keys: Sequence[str], *, limit: int, window: timedelta
) -> None:
    """Refuse (429) when any of ``keys`` has ``limit`` hits within the last ``window``."""
    since = utcnow() - window
    for key in keys:
        check_count(await session.scalar(_HITS, {"key": key, "since": since}), limit=limit)


async def do_count_attempt(session: AsyncSession, keys: Sequence[str]) -> None:
    """Count one attempt under each of ``keys``; forget every key's hits older than KEEP
    (a scan of the table: for the refusals of sign-in and tracking, not a hot path)."""
    now = utcnow()
    await session.execute(_HIT_INSERT, [{"key": key, "at": now} for key in keys])
    await session.execute(
        delete(ThrottleHit)
        .where(ThrottleHit.at < now - KEEP)
        .execution_options(synchronize_session=False)
    )


async def do_count_hot_attempt(
    session: AsyncSession, key: str, *, now: datetime, oldest: datetime | None
) -> None:
    """:func:`do_count_attempt` for one key on a hot path that read the key's
    :func:`oldest_hit` already: one insert, and a delete of this key's hits older than KEEP
    only when there are any."""
    await session.execute(_HIT_INSERT, {"key": key, "at": now})
    if oldest is not None and oldest < now - KEEP:
        await session.execute(
            delete(ThrottleHit)
            .where(ThrottleHit.key == key, ThrottleHit.at < now - KEEP)
            .execution_options(synchronize_session=False)
        )
