"""Too many attempts: counting them, and refusing once a limit is reached.

Sign-in and the public case tracking are guessing a subject's secret (an account's
password, the national ID behind a tracking code) from clients: a :class:`Guard` limits
them so that no stranger can lock its owner out (:func:`check_guard`,
:func:`do_count_guard_failure`):

- failures are counted per (subject, client) and, after ``per_client`` of them, each
  next try from that client waits, 30 s doubling up to the window (growing delays): a
  stranger guessing from one client slows down at once and blocks only that client;
- a client refused for every subject is one failing on ``subjects_per_client`` different
  subjects (spraying many accounts); one person's typos on a shared office address
  touch one or a few subjects and lock no colleague;
- a subject is locked for every client only by a distributed attack: ``per_subject``
  failures from at least ``lock_clients`` clients. The owner's way past it is a client the
  caller says is trusted (sign-in: a device that completed a sign-in to the account).

The client is the caller's choice: the address (X-Forwarded-For believed only from
configured proxies, ``web.context.client_ip``), or a trusted device. Ballots (per member)
and authenticator codes (per user) are limited here too. A limit is ``limit`` attempts
within ``window``; :func:`is_over` is the one place that decides "too many", and
:func:`retry_after` / :func:`seconds_until` the ones that say how long a lock lasts. Every
refusal carries its wait in seconds (``retry_after``), which the boundary sends as
Retry-After.

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

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import bindparam, delete, distinct, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import ThrottleHit
from hearing_server.clock import utcnow
from hearing_server.db import table_of
from hearing_server.errors import Locked, TooManyRequests

KEEP = timedelta(days=1)  # hits older than this are forgotten


def is_over(count: int | None, *, limit: int) -> bool:
    """``count`` attempts reach ``limit``: the next one is refused."""
    return (count or 0) >= limit


def too_many(seconds: int | None = None) -> TooManyRequests:
    """The refusal of one more attempt, saying how long to wait when it is known."""
    if seconds is None:
        return TooManyRequests(
            "Too many attempts. Please wait a few minutes and try again.", retry_after=60
        )
    if seconds < 60:
        return TooManyRequests(
            "Too many attempts. Try again in {seconds} seconds.",
            seconds=seconds,
            retry_after=seconds,
        )
    return TooManyRequests(
        "Too many attempts. Try again in {minutes} minutes.",
        minutes=math.ceil(seconds / 60),
        retry_after=seconds,
    )


def seconds_until(until: datetime, now: datetime) -> int:
    """Whole seconds from ``now`` to ``until``, at least 1 (a Retry-After)."""
    return max(1, math.ceil((until - now).total_seconds()))


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


# ---------------------------------------------------------------- guessing a subject's secret

FIRST_DELAY = timedelta(seconds=30)  # the first wait after a client's free failures; doubles


@dataclass(frozen=True)
class Guard:
    """The limits on guessing one kind of subject's secret from clients (see the module)."""

    name: str  # the keys' prefix: "login", "track"
    per_client: int  # a subject's failures from one client before each next try waits
    subjects_per_client: int  # subjects failing from one client before it is refused
    per_subject: int  # a subject's failures from every client before it is locked …
    lock_clients: int  # … when they came from at least this many clients
    window: timedelta  # failures older than this are not counted; the longest wait


def delay_after(failures: int, *, free: int, longest: timedelta) -> timedelta | None:
    """The wait before the next try after ``failures`` (None while they are under ``free``)."""
    if failures < free:
        return None
    delay: timedelta = FIRST_DELAY * 2 ** min(failures - free, 30)
    return min(delay, longest)


def _part(value: str) -> str:
    """``value`` as one part of a key: no separator in it, and not too long."""
    quoted = quote(value, safe="")
    if len(quoted) <= 72:
        return quoted
    return "h" + hashlib.sha256(value.encode()).hexdigest()[:40]


def _client_prefix(guard: Guard, client: str) -> str:
    return f"{guard.name}:c:{_part(client)}:"


def _subject_prefix(guard: Guard, subject: str) -> str:
    return f"{guard.name}:s:{_part(subject)}:"


def _pair_key(guard: Guard, subject: str, client: str) -> str:
    return _client_prefix(guard, client) + _part(subject)


async def check_guard(
    session: AsyncSession, guard: Guard, *, subject: str, client: str, trusted: bool = False
) -> None:
    """Refuse one more try on ``subject`` from ``client``: 429 while the client waits
    (growing delays) or while it is refused for trying too many subjects, 423 while the
    subject is locked by failures from many clients. A ``trusted`` client (the owner's)
    is refused only by its own failures."""
    now = utcnow()
    since = now - guard.window
    pair = await session.execute(
        select(func.count(), func.max(ThrottleHit.at)).where(
            ThrottleHit.key == _pair_key(guard, subject, client), ThrottleHit.at >= since
        )
    )
    failures, last = pair.one()
    delay = delay_after(failures or 0, free=guard.per_client, longest=guard.window)
    if delay is not None and last is not None and last + delay > now:
        raise too_many(seconds_until(last + delay, now))
    if trusted:
        return
    spread = await session.execute(
        select(func.count(distinct(ThrottleHit.key)), func.min(ThrottleHit.at)).where(
            ThrottleHit.key.startswith(_client_prefix(guard, client), autoescape=True),
            ThrottleHit.at >= since,
        )
    )
    subjects, oldest = spread.one()
    if is_over(subjects, limit=guard.subjects_per_client) and oldest is not None:
        raise too_many(seconds_until(oldest + guard.window, now))
    attack = await session.execute(
        select(func.count(), func.count(distinct(ThrottleHit.key)), func.min(ThrottleHit.at)).where(
            ThrottleHit.key.startswith(_subject_prefix(guard, subject), autoescape=True),
            ThrottleHit.at >= since,
        )
    )
    hits, clients, first = attack.one()
    if (
        is_over(hits, limit=guard.per_subject)
        and is_over(clients, limit=guard.lock_clients)
        and first is not None
    ):
        seconds = seconds_until(first + guard.window, now)
        minutes = math.ceil(seconds / 60)
        if guard.name == "login":
            raise Locked(
                "This account is locked for {minutes} minutes: wrong passwords were tried on "
                "it from many places. Sign in on a device you have signed in on before, "
                "or try again later.",
                code="account_locked",
                minutes=minutes,
                retry_after=seconds,
            )
        raise Locked(
            "This tracking code is locked for {minutes} minutes: it was tried from many "
            "places. Try again later, or sign in to see your case.",
            code="track_locked",
            minutes=minutes,
            retry_after=seconds,
        )


async def do_count_guard_failure(
    session: AsyncSession, guard: Guard, *, subject: str, client: str
) -> None:
    """Count one failed try on ``subject`` from ``client`` (under the pair, and under the
    subject with the client, so its failures from many clients can be told apart)."""
    await do_count_attempt(
        session,
        [_pair_key(guard, subject, client), _subject_prefix(guard, subject) + _part(client)],
    )


async def do_forget_failures(
    session: AsyncSession, guard: Guard, *, subject: str, client: str
) -> None:
    """Forget ``subject``'s failures from every client (an account-wide lock ends) and
    ``client``'s on it (its waits end): its owner proved who they are another way, from
    ``client`` (a password reset). Other clients' waits on it stay."""
    await session.execute(
        delete(ThrottleHit)
        .where(
            or_(
                ThrottleHit.key.startswith(_subject_prefix(guard, subject), autoescape=True),
                ThrottleHit.key == _pair_key(guard, subject, client),
            )
        )
        .execution_options(synchronize_session=False)
    )
