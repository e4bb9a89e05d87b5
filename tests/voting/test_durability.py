"""Acknowledged means durable (issue #15, item 7), the suite's small R1: nine members vote
over their room sockets while `heyat serve` on SQLite is killed with SIGKILL five times
and started again; every ballot a member's client was acknowledged is in the database
once, and `heyat audit verify` passes. The full run (a hundred kills, and what
``synchronous=FULL`` costs) is bench/r1_durability.py; the harness and what a kill can and
cannot show are in tests/voting/durability.py.

What a broken implementation gets wrong here: an acknowledgement sent before the commit
(the ballot missing after the kill), a ballot recorded twice when a member casts again
after a kill took its answer, a ballot whose audit row is missing or out of order (the
chain fails to verify), a server that cannot start again on what a kill left.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hearing_server.config import Settings
from hearing_server.law.rules import BoardType
from tests.conftest import Person
from tests.voting.conftest import SETTLEMENT, arrange_voting
from tests.voting.durability import Voter, VotingRun

KILLS = 5


def voter(person: Person) -> Voter:
    return Voter(person.username, person.id, person.password, person.totp_secret)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the embedded default
async def test_acknowledged_ballots_survive_repeated_kill_9_once_each_and_the_chain_verifies(
    db: Any, settings: Settings, people: dict[str, Person], tmp_path: Path
) -> None:
    arranged = await arrange_voting(db, board_type=BoardType.SETTLEMENT, present=[])
    run = VotingRun(
        settings,
        hearing_id=arranged.hearing_id,
        case_id=arranged.case_id,
        voters=[voter(people[name]) for name in SETTLEMENT],
        secretary=voter(people["secretary"]),
        workdir=tmp_path,
        seed=7,
    )
    for _ in range(KILLS):
        await run.life(kill=True)
    await run.life(kill=False, motions=1)  # the open vote finishes after the last kill

    outcome = await run.verdict(db)
    assert outcome.kills == KILLS
    assert outcome.acknowledged > 0
    assert outcome.lost == 0, outcome
    assert outcome.duplicated == 0, outcome
    assert outcome.audit_ok, outcome.audit_output
    # Ballots whose answer a kill took may be in the database without an acknowledgement,
    # never the other way round.
    assert outcome.ballots_in_db >= outcome.acknowledged
