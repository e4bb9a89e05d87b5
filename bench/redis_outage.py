"""A Redis outage during a hearing: how long after Redis returns every client of the room
knows its newest events, beside how long a ballot's event takes to reach them all with
Redis up, measured in the same run.

Set-up (its own, in a temporary directory): a SQLite database migrated and seeded with the
demo, a diagnosis board's hearing in the voting phase, a redis-server of its own on a free
port (nothing persisted), two `heyat serve` processes sharing both; the three members'
and the secretary's room sockets spread over the two processes (two on each). The
clients keep the room's numbered events as the room page does (tests/rooms/redis_outage.py:
next number applied, a gap filled with ``sync {last_seq}``).

Each of ``--outages`` rounds: the secretary opens a vote (HTTP); Redis is stopped; one
member votes over its socket on the first process and one over HTTP on the second (both
acknowledged, with Redis down); Redis is started again on the same port and, from the
moment it answers PING, the clock runs until every client knows the room's newest event
number (``resync_ms``). Then the third member votes over its socket and the clock runs
from the acknowledgement until every client knows that event (``baseline_ms``: delivery
across the two processes with Redis up).

Run: ``python bench/redis_outage.py [--outages 5]``. The last line is
``redis_outage: resync_ms=<worst> median_ms=… baseline_ms=<median> outages=… bound_ms=5000``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BOUND_MS = 5000  # issue #15 item 8: clients resync within 5 s after Redis returns


async def prepare(tmp: Path) -> tuple[Any, Any, Any, dict[str, Any]]:
    from hearing_server.accounts.services import get_user_by_username
    from hearing_server.db import Database
    from hearing_server.demo import demo_summary, do_seed_demo
    from hearing_server.migrate import upgrade_async
    from tests.conftest import make_settings
    from tests.rooms.redis_outage import Person
    from tests.voting.conftest import DIAGNOSIS, arrange_voting

    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    settings = make_settings(url, tmp)
    await upgrade_async(url)
    db = Database(url)
    async with db.transaction() as session:
        await do_seed_demo(session, settings)
        summary = await demo_summary(session, settings)
    arranged = await arrange_voting(db, present=[])
    people: dict[str, Person] = {}
    async with db.transaction(write=False) as session:
        for item in summary["users"]:
            if item["username"] not in [*DIAGNOSIS, "secretary"]:
                continue
            user = await get_user_by_username(session, item["username"])
            assert user is not None
            people[item["username"]] = Person(
                item["username"], item["password"], item["totp_secret"], user.id
            )
    return settings, db, arranged, people


async def main(args: argparse.Namespace) -> None:
    from tests.rooms.redis_outage import (
        RedisProcess,
        SyncingClient,
        cast_over_http,
        cast_over_socket,
        caught_up,
        open_motion,
        sign_in,
    )
    from tests.serve import ServeProcess
    from tests.voting.conftest import DIAGNOSIS

    resync: list[float] = []
    baseline: list[float] = []
    with tempfile.TemporaryDirectory(prefix="heyat-redis-outage-") as name:
        tmp = Path(name)
        settings, db, arranged, people = await prepare(tmp)
        redis = RedisProcess(tmp)
        await redis.start()
        env = {
            "HEYAT_REDIS_URL": redis.url,
            "HEYAT_REDIS_CHANNEL": f"heyat-bench-{uuid.uuid4().hex[:8]}",
        }
        first = ServeProcess(settings, tmp / "first.log", **env)
        second = ServeProcess(settings, tmp / "second.log", **env)
        clients: list[SyncingClient] = []
        try:
            for server in (first, second):
                server.spawn()
            for server in (first, second):
                await server.healthy()
            for person in people.values():
                await sign_in(first.url, person)
            gov, wrk, emp = (SyncingClient(people[username]) for username in DIAGNOSIS)
            secretary = SyncingClient(people["secretary"])
            clients = [gov, wrk, emp, secretary]
            for client, server in ((gov, first), (wrk, first), (emp, second), (secretary, second)):
                await client.connect(server.url, arranged.hearing_id)
            hearing = arranged.hearing_id
            for _ in range(args.outages):
                motion_id = await open_motion(
                    first.url, people["secretary"], hearing, arranged.case_id
                )
                await caught_up(db, hearing, clients)
                redis.stop()
                await cast_over_socket(gov, motion_id)
                await cast_over_http(second.url, people["member.emp1"], motion_id)
                await redis.start()
                started = time.perf_counter()
                await caught_up(db, hearing, clients)
                resync.append((time.perf_counter() - started) * 1000)
                await cast_over_socket(wrk, motion_id)
                started = time.perf_counter()
                await caught_up(db, hearing, clients)
                baseline.append((time.perf_counter() - started) * 1000)
                print(f"  outage: resync_ms={resync[-1]:.0f} baseline_ms={baseline[-1]:.0f}")
            print(
                "  clients: "
                + ", ".join(f"{c.person.username} live={c.live} syncs={c.synced}" for c in clients)
            )
        finally:
            for client in clients:
                await client.close()
            first.stop()
            second.stop()
            redis.stop()
            await db.dispose()
    print(
        f"redis_outage: resync_ms={max(resync):.0f} median_ms={statistics.median(resync):.0f} "
        f"baseline_ms={statistics.median(baseline):.0f} outages={len(resync)} bound_ms={BOUND_MS}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outages", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
