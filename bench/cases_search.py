"""Benchmark: the secretary's case search over 100,000 cases on SQLite.

Seeds a temporary SQLite database (schema from the models, rows by bulk insert with
the sqlite3 module), then times ``hearing_server.cases.search.search_cases`` — the
function the page and the API call — on a mix of searches (by name prefix, case number,
national ID, status and board filters, plain newest-first pages), beside a bare
hand-written SQL query returning the same page of rows through the same async engine.
Last line: ``cases_search: p50_ms=… p95_ms=… p99_ms=… baseline_p95_ms=… ratio=…``
with ratio = our p95 / baseline p95.

    .venv/bin/python bench/cases_search.py [cases] [rounds]
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402  # after the path set-up above

from hearing_server.accounts.models import Role, User  # noqa: E402
from hearing_server.cases import search  # noqa: E402
from hearing_server.cases.models import CaseStatus  # noqa: E402
from hearing_server.db import Database  # noqa: E402
from hearing_server.models import Base  # noqa: E402
from hearing_server.text import make_national_id  # noqa: E402

FIRST = ["علی", "رضا", "محمد", "حسین", "مریم", "زهرا", "فاطمه", "سارا", "حمید", "نرگس"]
LAST = [
    "رضایی", "محمدی", "حسینی", "کریمی", "احمدی", "قربانی", "نوروزی", "کاظمی", "یوسفی",
    "جعفری", "صادقی", "موسوی", "اکبری", "عباسی", "رحیمی", "حیدری", "شریفی", "مرادی",
]  # fmt: skip
STATUSES = [
    (CaseStatus.FILED, 10),
    (CaseStatus.ACCEPTED, 20),
    (CaseStatus.SCHEDULED, 10),
    (CaseStatus.RETURNED, 5),
    (CaseStatus.RULING_ISSUED, 15),
    (CaseStatus.FINAL, 40),
]


def seed(path: Path, count: int) -> dict[str, Any]:
    """Bulk insert ``count`` cases with two parties each and their search terms."""
    rnd = random.Random(1405)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    con.execute("INSERT INTO labour_offices (id, code, name_fa, name_en) VALUES (1,'THR','ت','T')")
    con.executemany(
        "INSERT INTO boards (id, office_id, type, name_fa, name_en) VALUES (?,1,?,?,?)",
        [(1, "diagnosis", "تشخیص", "Diagnosis"), (2, "settlement", "حل اختلاف", "Settlement")],
    )
    con.execute(
        "INSERT INTO users (id, username, full_name, locale, role, password_hash, is_active,"
        " created_at) VALUES (1,'secretary','دبیر','fa','secretary','x',1,?)",
        (now.replace(tzinfo=None).isoformat(" "),),
    )
    weights = [w for _, w in STATUSES]
    cases, parties, terms = [], [], []
    picks: dict[str, list[str]] = {"number": [], "nid": [], "name": []}
    for i in range(1, count + 1):
        filed = now - timedelta(minutes=5 * (count - i))
        status = rnd.choices([s for s, _ in STATUSES], weights)[0]
        number = f"1405-{i:06d}"
        stamp = filed.replace(tzinfo=None).isoformat(" ")
        cases.append(
            (i, 1, 1 if i % 4 else 2, number, f"T{i:09d}", status.value, "clerk", 1, stamp, stamp)
        )
        worker = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
        nid = make_national_id(f"{i + 10_000_000:09d}")
        employer = f"شرکت {rnd.choice(LAST)} {i % 97}"
        parties.append((i, "claimant", worker, nid))
        parties.append((i, "respondent", employer, None))
        for word in search.name_terms(worker, employer):
            terms.append((i, word))
        if i % 997 == 0:
            picks["number"].append(number)
            picks["nid"].append(nid)
            picks["name"].append(worker.split()[1][:3])
    con.executemany(
        "INSERT INTO cases (id, office_id, board_id, number, tracking_code, status, filed_via,"
        " created_by_id, created_at, filed_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        cases,
    )
    con.executemany(
        "INSERT INTO case_parties (case_id, role, full_name, national_id) VALUES (?,?,?,?)",
        parties,
    )
    con.executemany("INSERT INTO case_search_terms (case_id, term) VALUES (?,?)", terms)
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return picks


def searches(picks: dict[str, list[str]], rounds: int) -> list[search.CaseFilter]:
    rnd = random.Random(7)
    made: list[search.CaseFilter] = []
    for _ in range(rounds):
        made += [
            search.CaseFilter(q=rnd.choice(picks["name"])),
            search.CaseFilter(q=rnd.choice(picks["number"])),
            search.CaseFilter(q=rnd.choice(picks["nid"])),
            search.CaseFilter(status=CaseStatus.FILED),
            search.CaseFilter(board_id=2, status=CaseStatus.ACCEPTED, page=3),
            search.CaseFilter(),
            search.CaseFilter(q=f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"),
        ]
    return made


BARE = """
SELECT c.id, c.number, c.status, c.board_id, c.filed_at,
  (SELECT full_name FROM case_parties p WHERE p.case_id = c.id AND p.role = 'claimant'
   ORDER BY p.id LIMIT 1),
  (SELECT full_name FROM case_parties p WHERE p.case_id = c.id AND p.role = 'respondent'
   ORDER BY p.id LIMIT 1)
FROM cases c WHERE c.status != 'draft' {where}
ORDER BY c.filed_at DESC, c.id DESC LIMIT :limit OFFSET :offset
"""


def bare_query(f: search.CaseFilter) -> tuple[str, dict[str, Any]]:
    """The same page as ``search_cases`` would return, written by hand."""
    where, params = [], {"limit": f.per_page + 1, "offset": (f.page - 1) * f.per_page}
    if f.status:
        where.append("c.status = :status")
        params["status"] = f.status.value
    if f.board_id:
        where.append("c.board_id = :board")
        params["board"] = f.board_id
    q = (f.q or "").strip()
    if q.startswith("1405-"):
        where.append("c.number = :number")
        params["number"] = q
    elif q.isdigit():
        where.append("c.id IN (SELECT case_id FROM case_parties WHERE national_id = :nid)")
        params["nid"] = q
    elif q:
        for n, word in enumerate(sorted(search.name_terms(q))):
            where.append(
                f"c.id IN (SELECT case_id FROM case_search_terms WHERE term >= :w{n}"  # noqa: S608  # only placeholder names are formatted in; values are bound
                f" AND term < :w{n}x)"
            )
            params[f"w{n}"] = word
            params[f"w{n}x"] = word + "\uffff"
    sql = BARE.format(where="".join(f" AND {w}" for w in where))
    return sql, params


def summary(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return statistics.median(ordered), q[94], q[98]


async def run(count: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        db = Database(f"sqlite+aiosqlite:///{path}")
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        started = time.perf_counter()
        picks = await asyncio.to_thread(seed, path, count)
        print(f"seeded {count} cases in {time.perf_counter() - started:.1f} s")
        plan = searches(picks, rounds)
        ours: list[float] = []
        bare: list[float] = []
        async with db.transaction(write=False) as session:
            secretary = await session.get(User, 1)
            assert secretary is not None and secretary.role == Role.SECRETARY
            for f in plan[:20]:  # warm caches and statement compilation
                await search.search_cases(session, actor=secretary, filters=f)
            for f in plan:
                sql, params = bare_query(f)
                t0 = time.perf_counter()
                page = await search.search_cases(session, actor=secretary, filters=f)
                t1 = time.perf_counter()
                rows = (await session.execute(text(sql), params)).all()
                t2 = time.perf_counter()
                ours.append((t1 - t0) * 1000)
                bare.append((t2 - t1) * 1000)
                got = [r.id for r in page.rows]
                expected = [r[0] for r in rows[: f.per_page]]
                assert got == expected, (f, got[:3], expected[:3])
        await db.dispose()
    p50, p95, p99 = summary(ours)
    b50, b95, b99 = summary(bare)
    print(f"bare SQL: p50_ms={b50:.2f} p95_ms={b95:.2f} p99_ms={b99:.2f} over {len(bare)} searches")
    print(
        f"cases_search: p50_ms={p50:.2f} p95_ms={p95:.2f} p99_ms={p99:.2f} "
        f"baseline_p95_ms={b95:.2f} ratio={p95 / b95:.2f}"
    )


if __name__ == "__main__":
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    asyncio.run(run(cases, rounds))
