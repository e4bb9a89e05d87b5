"""Issuance progress is shared by every process (#15 item 4): while one process issues a
ruling (its write transaction open), another process reads the step it reached."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from hearing_server.accounts.models import User
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.issuance.compose import member_ids
from hearing_server.issuance.models import Approval
from hearing_server.issuance.progress import IssueProgress
from hearing_server.issuance.rulings import do_draft_ruling, issue_ruling
from hearing_server.shared import shared_state
from rulings.pki import PkiPaths
from tests.conftest import PROJECT, REDIS_URL, require_or_skip
from tests.issuance.conftest import make_decided_case


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


# Another Python process: the progress of a ruling as the service reads it there.
READER = """
import asyncio, json, sys
from hearing_server.db import Database
from hearing_server.issuance.progress import IssueProgress
from hearing_server.shared import shared_state

async def main(url, ruling_id, redis_url, namespace):
    db = Database(url)
    shared = shared_state(db, redis_url or None, namespace)
    try:
        print(json.dumps(await IssueProgress(shared).get(ruling_id)))
    finally:
        await shared.close()
        await db.dispose()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
"""


@dataclass(frozen=True)
class Store:
    """Where the processes keep shared state: Redis (under ``namespace``) or the database."""

    database_url: str
    redis_url: str = ""
    namespace: str = "heyat-socketio"


async def read_in_another_process(store: Store, ruling_id: int) -> Any:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        READER,
        store.database_url,
        str(ruling_id),
        store.redis_url,
        store.namespace,
        cwd=str(PROJECT),
        env={"PYTHONPATH": str(PROJECT), "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await child.communicate()
    assert child.returncode == 0, err.decode(errors="replace")
    return json.loads(out)


class Watched(IssueProgress):
    """The app's progress, and at each step what a second process reads at that moment."""

    def __init__(self, shared: Any, store: Store) -> None:
        super().__init__(shared)
        self.store = store
        self.seen: dict[str, Any] = {}

    async def report(self, ruling_id: int, step: str, error: str | None = None) -> None:
        await super().report(ruling_id, step, error)
        if step in ("rendering", "signing"):
            self.seen[step] = await read_in_another_process(self.store, ruling_id)


@pytest.mark.parametrize("kept_in", ["database", "redis"])
async def test_a_second_process_reads_the_progress_of_an_issue_running_in_the_first(
    db: Any, settings: Settings, pki: PkiPaths, kept_in: str
) -> None:
    store = Store(settings.database_url)
    if kept_in == "redis":
        require_or_skip(_redis_reachable(), "Redis is not reachable", env="HEYAT_REQUIRE_REDIS")
        store = Store(settings.database_url, REDIS_URL, f"heyat-test-{uuid.uuid4().hex}")
    decided = await make_decided_case(db)
    shared = shared_state(db, store.redis_url or None, store.namespace)
    progress = Watched(shared, store)
    try:
        async with db.transaction() as session:
            secretary = await session.scalar(select(User).where(User.username == "secretary"))
            assert secretary is not None
            ruling = await do_draft_ruling(
                session, settings, actor=secretary, case_id=decided.case_id
            )
            for member_id in member_ids(ruling):
                session.add(Approval(ruling_id=ruling.id, member_id=member_id, at=utcnow()))
            await session.flush()
        await issue_ruling(db, settings, actor=secretary, ruling_id=ruling.id, progress=progress)
        assert progress.seen == {"rendering": ["rendering", None], "signing": ["signing", None]}
        # And once done, any process reads the last step.
        assert await read_in_another_process(store, ruling.id) == ["issued", None]
    finally:
        await shared.close()
