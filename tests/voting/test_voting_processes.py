"""Ballots against real `heyat serve` processes sharing one database: nine members each
submitting twice across two processes, and a kill -9 right after the acknowledgements.

The servers run on the real clock, so members sign in (in this process) on a frozen
clock two minutes in the past: the sign-in uses an older time-step and the code each
member then votes with (from `oathtool` at the real current time) is fresh.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hearing_server import clock
from hearing_server.accounts.models import User
from hearing_server.audit.services import verify_chain
from hearing_server.config import Settings
from hearing_server.law.rules import BoardType
from hearing_server.voting import motions
from hearing_server.voting.models import Ballot, Motion, MotionKind
from tests.conftest import EVENTUALLY_SECONDS, PROJECT, Person, otp_at, server_env
from tests.serve import HEYAT, ServeProcess
from tests.voting.conftest import DIAGNOSIS, SETTLEMENT, Arranged, arrange_voting


@pytest.fixture
def start(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    made: list[ServeProcess] = []

    async def start_server() -> ServeProcess:
        server = ServeProcess(settings, tmp_path / f"serve-{len(made)}.log")
        made.append(server)
        await server.start()
        return server

    yield start_server
    for server in made:
        server.stop()


async def _sign_in(quart_app: Any, person: Person) -> dict[str, str]:
    """Cookie and CSRF headers for ``person``, signed in two minutes ago (an old step)."""
    moment = clock.utcnow()
    response = await quart_app.test_client().post(
        "/api/v1/auth/login",
        json={
            "username": person.username,
            "password": person.password,
            "otp": otp_at(person.totp_secret, moment),
        },
    )
    body = await response.get_json()
    assert response.status_code == 200, body
    token = response.headers["Set-Cookie"].split(";", 1)[0]
    return {"Cookie": token, "X-CSRF-Token": body["csrf_token"], "Accept-Language": "en"}


async def _open(db: Any, arranged: Arranged) -> int:
    async with db.transaction() as session:
        secretary = await session.scalar(select(User).where(User.username == "secretary"))
        assert secretary is not None
        motion = await motions.do_open_motion(
            session,
            actor=secretary,
            hearing_id=arranged.hearing_id,
            case_id=arranged.case_id,
            kind=MotionKind.ACCEPT,
            claim_id=arranged.claim_ids[0],
            text="پذیرش خواسته",
        )
        return motion.id


@pytest.fixture
def past_clock() -> None:
    clock.set_frozen(datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=120))


async def test_nine_members_twice_each_over_two_processes_count_nine_ballots(
    db: Any, quart_app: Any, people: dict[str, Person], start: Any, past_clock: None
) -> None:
    arranged = await arrange_voting(db, board_type=BoardType.SETTLEMENT)
    motion_id = await _open(db, arranged)
    headers = {u: await _sign_in(quart_app, people[u]) for u in SETTLEMENT}
    first, second = await start(), await start()
    now = datetime.now(UTC)
    codes = {u: otp_at(people[u].totp_secret, now) for u in SETTLEMENT}
    choices = {u: ("for" if i < 5 else "against") for i, u in enumerate(SETTLEMENT)}

    async with httpx.AsyncClient(timeout=EVENTUALLY_SECONDS) as client:

        async def submit(server: Any, username: str) -> tuple[str, int, Any]:
            response = await client.post(
                f"{server.url}/api/v1/motions/{motion_id}/ballots",
                json={"choice": choices[username], "otp": codes[username]},
                headers=headers[username],
            )
            return username, response.status_code, response.json()

        jobs = []
        for i, username in enumerate(SETTLEMENT):
            a, b = (first, second) if i % 2 else (second, first)
            jobs += [submit(a, username), submit(b, username)]
        answers = await asyncio.gather(*jobs)

    by_member: dict[str, list[tuple[int, Any]]] = {}
    for username, status, body in answers:
        by_member.setdefault(username, []).append((status, body))
    for username, pair in by_member.items():
        statuses = sorted(s for s, _ in pair)
        assert statuses[0] == 201, (username, pair)
        refused = pair[0][1] if pair[0][0] != 201 else pair[1][1]
        assert statuses[1] in (409, 422), (username, pair)
        assert refused["error"]["code"] in {"already_voted", "otp_reused"}, refused
    receipts = {body["receipt"] for _, status, body in answers if status == 201}
    assert len(receipts) == 9
    assert sum(1 for _, _, body in answers if body.get("closed")) == 1

    async with db.transaction(write=False) as session:
        rows = list(await session.scalars(select(Ballot).where(Ballot.motion_id == motion_id)))
        motion = await session.get(Motion, motion_id)
        report = await verify_chain(session)
    assert len(rows) == 9 and {r.receipt for r in rows} == receipts
    assert motion is not None and motion.state == "closed" and motion.outcome == "passed"
    assert motion.result is not None and motion.result["votes_for"] == 5
    assert motion.result["votes_against"] == 4
    assert report.ok


async def test_acknowledged_ballots_survive_kill_9_and_the_chain_verifies(
    db: Any,
    quart_app: Any,
    people: dict[str, Person],
    settings: Settings,
    start: Any,
    past_clock: None,
) -> None:
    arranged = await arrange_voting(db)
    motion_id = await _open(db, arranged)
    headers = {u: await _sign_in(quart_app, people[u]) for u in DIAGNOSIS[:2]}
    server = await start()
    now = datetime.now(UTC)
    async with httpx.AsyncClient(timeout=EVENTUALLY_SECONDS) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    f"{server.url}/api/v1/motions/{motion_id}/ballots",
                    json={"choice": "for", "otp": otp_at(people[u].totp_secret, now)},
                    headers=headers[u],
                )
                for u in headers
            )
        )
    server.kill9()  # right after the acknowledgements
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    acknowledged = {a.json()["receipt"] for a in answers}

    verify = subprocess.run(
        [HEYAT, "audit", "verify"],
        env=server_env(settings, server.port),
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stderr

    restarted = await start()
    async with httpx.AsyncClient(timeout=EVENTUALLY_SECONDS) as client:
        for receipt in sorted(acknowledged):
            async with db.transaction(write=False) as session:
                ballot = await session.scalar(select(Ballot).where(Ballot.receipt == receipt))
            assert ballot is not None
            owner = next(u for u in headers if people[u].id == ballot.member_id)
            response = await client.get(
                f"{restarted.url}/api/v1/receipts/{receipt}", headers=headers[owner]
            )
            assert response.status_code == 200, response.text
            assert response.json()["in_chain"] is True
