"""R1, acknowledged means durable: `heyat serve` on SQLite killed with SIGKILL a hundred
times while nine members vote, and what durability costs a ballot's acknowledgement.

Set-up (its own, in a temporary directory): a SQLite database migrated and seeded with the
demo, a settlement board's hearing (nine members) in the voting phase. The run is the
harness of tests/voting/durability.py (the suite runs it with five kills):

* ``--kills`` lives of the server: it starts (port kept, clock four TOTP steps further on,
  so every member has fresh codes), the nine members connect their room sockets, the
  secretary opens a vote over the API when none is open, and every member casts
  ``vote.cast`` with a fresh authenticator code (pyotp, the member's secret) until the
  server acknowledges it or answers ``already_voted`` (a ballot whose answer a kill
  took). After a random 0–14 acknowledgements, with casts on their way, the server is
  killed with SIGKILL. One more life lets the last vote finish. Then: every acknowledged
  receipt in the database with its motion and member (``lost``), no (motion, member)
  twice and no member acknowledged twice on one motion (``duplicated``), and
  ``heyat audit verify`` run on the result (``audit``).
* The cost of durability: lives without kills, alternating ``synchronous=FULL`` (the
  default) and ``NORMAL`` (``HEYAT_SQLITE_SYNCHRONOUS``), nine members casting on
  ``--motions`` votes each life; the acknowledgement latency (``vote.cast`` → ack, at the
  client) p50/p95 of each.

A power loss cannot be simulated here (no virtual machine to cut, and a killed process
leaves its pages in the kernel's cache, where NORMAL keeps them too): kill -9 shows that
nothing is acknowledged before its commit; ``synchronous=FULL`` is what puts the commit on
the disk before the answer leaves (SQLite syncs the WAL at every commit).

Run: ``python bench/r1_durability.py [--kills 100] [--rounds 3] [--motions 3]``. The last
line is ``r1: kills=… acknowledged=… lost=… duplicated=… audit=intact|BROKEN``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def prepare(tmp: Path) -> tuple[Any, Any, Any, list[Any], Any]:
    from hearing_server.accounts.services import get_user_by_username
    from hearing_server.db import Database
    from hearing_server.demo import demo_summary, do_seed_demo
    from hearing_server.law.rules import BoardType
    from hearing_server.migrate import upgrade_async
    from tests.conftest import make_settings
    from tests.voting.conftest import SETTLEMENT, arrange_voting
    from tests.voting.durability import Voter

    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    settings = make_settings(url, tmp)
    await upgrade_async(url)
    db = Database(url)
    async with db.transaction() as session:
        await do_seed_demo(session, settings)
        summary = await demo_summary(session, settings)
    arranged = await arrange_voting(db, board_type=BoardType.SETTLEMENT, present=[])
    people: dict[str, Voter] = {}
    async with db.transaction(write=False) as session:
        for item in summary["users"]:
            user = await get_user_by_username(session, item["username"])
            assert user is not None
            people[item["username"]] = Voter(
                item["username"], user.id, item["password"], item["totp_secret"]
            )
    return settings, db, arranged, [people[name] for name in SETTLEMENT], people["secretary"]


def figures(samples: list[float]) -> tuple[float, float]:
    from tests.voting.durability import percentile

    return percentile(samples, 50), percentile(samples, 95)


async def main(args: argparse.Namespace) -> None:
    from tests.voting.durability import VotingRun

    with tempfile.TemporaryDirectory(prefix="heyat-r1-") as name:
        tmp = Path(name)
        settings, db, arranged, voters, secretary = await prepare(tmp)
        run = VotingRun(
            settings,
            hearing_id=arranged.hearing_id,
            case_id=arranged.case_id,
            voters=voters,
            secretary=secretary,
            workdir=tmp,
            seed=args.seed,
        )
        began = time.perf_counter()
        for index in range(args.kills):
            await run.life(kill=True, label="r1")
            if (index + 1) % 10 == 0:
                print(
                    f"  {index + 1} kills, {len(run.ledger.acknowledged)} acknowledged, "
                    f"{time.perf_counter() - began:.0f} s",
                    flush=True,
                )
        await run.life(kill=False, motions=1, label="r1")
        for _ in range(args.rounds):
            for level in ("FULL", "NORMAL"):
                await run.life(kill=False, synchronous=level, motions=args.motions, label=level)
        outcome = await run.verdict(db)
        await db.dispose()

    ledger = run.ledger
    for phase, seconds in ledger.phases.items():
        print(f"  life phase {phase}: mean {sum(seconds) / len(seconds):.2f} s over {len(seconds)}")
    print(
        f"  ballots in the database {outcome.ballots_in_db}; casts in flight at the kills "
        f"{outcome.unanswered}; refusals {dict(ledger.refused)}"
    )
    r1_p50, r1_p95 = figures(ledger.latencies_ms.get("r1", []))
    print(f"  r1 lives (FULL, kills between): ack p50_ms={r1_p50:.1f} p95_ms={r1_p95:.1f}")
    full = ledger.latencies_ms.get("FULL", [])
    normal = ledger.latencies_ms.get("NORMAL", [])
    full_p50, full_p95 = figures(full)
    normal_p50, normal_p95 = figures(normal)
    print(
        f"r1_latency: full_p50_ms={full_p50:.1f} full_p95_ms={full_p95:.1f} "
        f"normal_p50_ms={normal_p50:.1f} normal_p95_ms={normal_p95:.1f} "
        f"p95_ratio={full_p95 / normal_p95:.2f} samples={len(full)}/{len(normal)}"
    )
    print("power loss: not simulated here; synchronous=FULL syncs the WAL before each ack")
    print(
        f"r1: kills={outcome.kills} acknowledged={outcome.acknowledged} lost={outcome.lost} "
        f"duplicated={outcome.duplicated} audit={'intact' if outcome.audit_ok else 'BROKEN'}"
    )
    if not outcome.audit_ok:
        print(outcome.audit_output[-2000:])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="FULL/NORMAL lives each")
    parser.add_argument("--motions", type=int, default=3, help="votes per latency life")
    parser.add_argument("--seed", type=int, default=1)
    asyncio.run(main(parser.parse_args()))
