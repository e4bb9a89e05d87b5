"""Redis goes away during a hearing and comes back (issue #15, item 8): two `heyat serve`
processes share the database and a redis-server of the test's own; the members' and the
secretary's room sockets are spread over both. With Redis stopped, ballots still commit
and are acknowledged (over a socket on one process, over HTTP on the other) and the
public pages answer; once Redis is started again on the same port, every client learns
the room's newest events without a new one being sent and without a server restart, and
a ballot after that reaches everyone live. How fast is bench/redis_outage.py's figure.

What a broken implementation gets wrong here: an emit that fails with Redis turning the
acknowledged ballot into an error (or a hang), the rate limiter's Redis storage turning a
public page into a 500, the events published while Redis was down lost for the other
process's sockets until something else happens in the room, a subscription that comes
back only after the stock manager's doubling back-off (up to a minute).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hearing_server.config import Settings
from hearing_server.voting.models import Ballot
from tests.conftest import EVENTUALLY_SECONDS
from tests.conftest import Person as DemoPerson
from tests.rooms.redis_outage import (
    Person,
    RedisProcess,
    SyncingClient,
    cast_over_http,
    cast_over_socket,
    caught_up,
    open_motion,
    sign_in,
)
from tests.serve import ServeProcess
from tests.voting.conftest import DIAGNOSIS, arrange_voting


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    await server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the property is Redis's
async def test_ballots_commit_while_redis_is_down_and_every_client_resyncs_when_it_returns(
    db: Any,
    settings: Settings,
    people: dict[str, DemoPerson],
    redis_server: RedisProcess,
    tmp_path: Path,
) -> None:
    env = {
        "HEYAT_REDIS_URL": redis_server.url,
        "HEYAT_REDIS_CHANNEL": f"heyat-outage-{uuid.uuid4().hex[:8]}",
    }
    first = ServeProcess(settings, tmp_path / "first.log", **env)
    second = ServeProcess(settings, tmp_path / "second.log", **env)
    clients: list[SyncingClient] = []
    try:
        await first.start()
        await second.start()
        arranged = await arrange_voting(db, present=[])
        person = {
            name: Person(name, people[name].password, people[name].totp_secret, people[name].id)
            for name in [*DIAGNOSIS, "secretary"]
        }
        for one in person.values():
            await sign_in(first.url, one)
        gov, wrk, emp = (SyncingClient(person[name]) for name in DIAGNOSIS)
        secretary = SyncingClient(person["secretary"])
        clients = [gov, wrk, emp, secretary]
        for client, server in ((gov, first), (wrk, first), (emp, second), (secretary, second)):
            await client.connect(server.url, arranged.hearing_id)
        motion_id = await open_motion(
            first.url, person["secretary"], arranged.hearing_id, arranged.case_id
        )
        await caught_up(db, arranged.hearing_id, clients)

        redis_server.stop()
        by_socket = await cast_over_socket(gov, motion_id)  # on the first process
        by_http = await cast_over_http(second.url, person["member.emp1"], motion_id)
        async with db.transaction(write=False) as session:
            stored = set(
                await session.scalars(select(Ballot.receipt).where(Ballot.motion_id == motion_id))
            )
        assert stored == {by_socket["receipt"], by_http["receipt"]}
        async with httpx.AsyncClient(timeout=EVENTUALLY_SECONDS) as http:
            for server in (first, second):  # rate-limited through Redis when it is up
                response = await http.get(f"{server.url}/stats", headers={"Accept": "text/html"})
                assert response.status_code == 200, response.text[:500]

        await redis_server.start()  # the same port
        newest = await caught_up(db, arranged.hearing_id, clients)
        # Each process's sockets had their own process's event live; the other process's
        # arrived after Redis came back (re-sent, or asked for by the gap it left).
        assert all(client.last == newest for client in clients)

        closing = await cast_over_socket(wrk, motion_id)  # the last ballot closes the vote
        assert closing["closed"] is True
        await caught_up(db, arranged.hearing_id, clients)
        for server in (first, second):
            server.check_alive()
            log = server.log.read_text(errors="replace")
            assert '" 500' not in log and "Traceback" not in log, log[-3000:]
    finally:
        for client in clients:
            await client.close()
        first.stop()
        second.stop()
