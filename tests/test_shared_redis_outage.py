"""What keeps state in Redis while Redis is away (issue #15, item 8): the installation's
shared state (issuance progress) falls back to the database and reads what was written
there after Redis returns; the public rate limits count in this process's memory instead
of failing the request. Against a redis-server of the test's own, stopped and started
again on the same port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from hearing_server.db import Database
from hearing_server.errors import TooManyRequests
from hearing_server.shared import RedisState, shared_state
from hearing_server.web.ratelimit import PublicLimits
from tests.rooms.redis_outage import RedisProcess

KEEP = timedelta(minutes=5)


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    await server.start()
    yield server
    server.stop()


async def test_shared_state_lives_through_a_redis_outage(
    redis_server: RedisProcess, tmp_path: Path
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'heyat.db'}")
    shared = shared_state(db, redis_server.url, "heyat-outage-test")
    assert isinstance(shared, RedisState)
    try:
        await shared.put("issue:1", {"step": "rendering"}, ttl=KEEP)
        redis_server.stop()
        await shared.put("issue:1", {"step": "signing"}, ttl=KEEP)  # no error: the database
        await shared.put("issue:2", {"step": "composing"}, ttl=KEEP)
        assert await shared.get("issue:1") == {"step": "signing"}
        await redis_server.start()  # an empty Redis (nothing persisted) on the same port
        # What the outage wrote is still read; what Redis holds again wins.
        assert await shared.get("issue:2") == {"step": "composing"}
        await shared.put("issue:2", {"step": "issued"}, ttl=KEEP)
        assert await shared.get("issue:2") == {"step": "issued"}
    finally:
        await shared.close()
        await db.dispose()


async def test_public_limits_count_in_memory_while_redis_is_away(
    redis_server: RedisProcess,
) -> None:
    limits = PublicLimits.for_settings(redis_server.url)
    await limits.check("verify", "3/minute", "203.0.113.9")
    redis_server.stop()
    for _ in range(3):  # no error: this process counts alone
        await limits.check("verify", "3/minute", "203.0.113.9")
    with pytest.raises(TooManyRequests) as refused:
        await limits.check("verify", "3/minute", "203.0.113.9")
    assert refused.value.retry_after is not None and refused.value.retry_after >= 1
    await redis_server.start()
    await limits.check("verify", "3/minute", "203.0.113.10")  # Redis counts again
