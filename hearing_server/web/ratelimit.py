"""Rate limits on public endpoints, per client address, with the `limits` library.

The counts live in Redis when the installation has one (every process shares them),
otherwise in this process's memory. A refused request is a 429 whose Retry-After says
when the oldest counted request leaves the window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from hearing_server.errors import TooManyRequests


@dataclass
class PublicLimits:
    """One app's limiter: ``check("verify", rate, client)`` counts and refuses."""

    limiter: MovingWindowRateLimiter

    @classmethod
    def for_settings(cls, redis_url: str | None) -> PublicLimits:
        storage: Storage = (
            RedisStorage(redis_url, implementation="redispy", key_prefix="heyat-limits")
            if redis_url
            else MemoryStorage()
        )
        return cls(MovingWindowRateLimiter(storage))

    async def check(self, bucket: str, rate: str | RateLimitItem, client: str) -> None:
        item = parse(rate) if isinstance(rate, str) else rate
        if await self.limiter.hit(item, bucket, client):
            return
        stats = await self.limiter.get_window_stats(item, bucket, client)
        wait = max(1, int(stats.reset_time - time.time()) + 1)
        raise TooManyRequests(
            "Too many requests. Please wait {seconds} seconds and try again.",
            seconds=wait,
            retry_after=wait,
        )
