"""Rate limits on public endpoints, per client address, with the `limits` library.

The counts live in Redis when the installation has one (every process shares them),
otherwise in this process's memory. While Redis does not answer, this process counts in
its own memory (a limit per process instead of per installation, never a 500). A refused
request is a 429 whose Retry-After says when the oldest counted request leaves the window.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from hearing_server.errors import TooManyRequests

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 2.0  # seconds a count in Redis may take before this process counts alone


@dataclass
class PublicLimits:
    """One app's limiter: ``check("verify", rate, client)`` counts and refuses."""

    limiter: MovingWindowRateLimiter
    # This process's own counts, while the shared storage (Redis) does not answer.
    fallback: MovingWindowRateLimiter = field(
        default_factory=lambda: MovingWindowRateLimiter(MemoryStorage())
    )

    @classmethod
    def for_settings(cls, redis_url: str | None) -> PublicLimits:
        storage: Storage = (
            RedisStorage(
                redis_url,
                implementation="redispy",
                key_prefix="heyat-limits",
                wrap_exceptions=True,  # any Redis failure is a StorageError
                socket_timeout=REDIS_TIMEOUT,
                socket_connect_timeout=REDIS_TIMEOUT,
            )
            if redis_url
            else MemoryStorage()
        )
        return cls(MovingWindowRateLimiter(storage))

    async def check(self, bucket: str, rate: str | RateLimitItem, client: str) -> None:
        item = parse(rate) if isinstance(rate, str) else rate
        limiter = self.limiter
        try:
            allowed = await limiter.hit(item, bucket, client)
        except StorageError as exc:
            log.warning("rate-limit storage unreachable (%s): counting in this process", exc)
            limiter = self.fallback
            allowed = await limiter.hit(item, bucket, client)
        if allowed:
            return
        try:
            stats = await limiter.get_window_stats(item, bucket, client)
        except StorageError:
            limiter = self.fallback
            stats = await limiter.get_window_stats(item, bucket, client)
        wait = max(1, int(stats.reset_time - time.time()) + 1)
        raise TooManyRequests(
            "Too many requests. Please wait {seconds} seconds and try again.",
            seconds=wait,
            retry_after=wait,
        )
