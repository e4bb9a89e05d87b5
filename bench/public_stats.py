"""Benchmark: the public statistics pages over 100,000 cases (issue #16 item 4).

Seeds a temporary SQLite database (and a PostgreSQL one when 127.0.0.1:5432 answers):
schema from the models, offices and boards, 100,000 cases (a tenth of them appeals), their
hearings (held, postponed, failed for quorum), agenda, rulings, objections, panels and
attendance, by bulk insert. Publishes the statistics once (`refresh`, timed), serves the
real app with uvicorn and times N sequential GETs of /stats, /stats.json and
/stats/office/1 over HTTP; in the same run, beside them, the bare SQL read of the same
published row through the same engine (the floor: ``baseline``), and one statistic
(hearings by month and status) aggregated straight from the tables (what a page without
the snapshot would pay at least: ``raw_aggregate``).

Last line per backend:
``public_stats: backend=… p50_ms=… p95_ms=… baseline_p95_ms=… raw_aggregate_p95_ms=…``

    .venv/bin/python bench/public_stats.py [cases] [requests]

The public rulings search: one anonymised public copy per final ruling (a redacted
Persian text of a few hundred characters, its claim kinds, outcome, office, board, day),
then over the same live server the page /public/rulings and the API
/api/v1/public/rulings: no filter, a word in ~1% of the rulings, two words in ~30%, a word
in none (each typed with Arabic ي/ك), office + Jalali date range + claim type; each
beside the same page's SQL run bare. One line per search:
``public_search: backend=… query=… p50_ms=… p95_ms=… baseline_p95_ms=…``
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402  # after the path set-up above
import uvicorn  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from hearing_server.config import Settings  # noqa: E402
from hearing_server.db import Database  # noqa: E402
from hearing_server.models import Base  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
OFFICES = 3
CHUNK = 5000


def _rows(count: int) -> dict[str, list[dict[str, Any]]]:
    """Every row to insert, by table, in an order the foreign keys accept."""
    rnd = random.Random(1405)
    start = datetime(2024, 3, 20, 8, tzinfo=UTC)
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in TABLE_ORDER}
    for uid in range(1, 8):
        rows["users"].append(
            {
                "id": uid,
                "username": f"u{uid}",
                "full_name": f"عضو {uid}",
                "locale": "fa",
                "role": "secretary" if uid == 1 else "member",
                "password_hash": "x",
                "is_active": True,
                "created_at": start,
            }
        )
    for kind, rid in (("diagnosis", 1), ("settlement", 2)):
        rows["board_rules_versions"].append(
            {"id": rid, "board_type": kind, "version": 1, "rules_json": {}, "created_at": start}
        )
    seat_ids: dict[int, list[int]] = {}
    for office in range(1, OFFICES + 1):
        rows["labour_offices"].append(
            {
                "id": office,
                "code": f"O{office}",
                "name_fa": f"اداره {office}",
                "name_en": f"Office {office}",
                "stats_name_members": office == 1,
            }
        )
        for offset, kind in ((0, "diagnosis"), (1, "settlement")):
            board = office * 2 - 1 + offset
            rows["boards"].append(
                {
                    "id": board,
                    "office_id": office,
                    "type": kind,
                    "name_fa": f"هیأت {board}",
                    "name_en": f"Board {board}",
                }
            )
            seat_ids[board] = []
            for pos, group in enumerate(("government", "worker", "employer"), 1):
                sid = len(rows["seats"]) + 1
                rows["seats"].append(
                    {
                        "id": sid,
                        "board_id": board,
                        "group": group,
                        "position": pos,
                        "is_chair": pos == 1,
                    }
                )
                seat_ids[board].append(sid)
    appeals = count // 10
    first = count - appeals
    hearing_of_board: dict[int, dict[str, Any]] = {}
    hid = 0
    ruled: list[tuple[int, int, datetime, int]] = []  # case, ruling id, issued, office

    def new_hearing(board: int, when: datetime, status: str) -> dict[str, Any]:
        nonlocal hid
        hid += 1
        row = {
            "id": hid,
            "board_id": board,
            "starts_at": when,
            "duration_minutes": 120,
            "status": status,
            "rules_version_id": 1 if board % 2 else 2,
            "created_by_id": 1,
            "created_at": when,
            "phase": "closed",
            "room_seq": 0,
            "view_page": 1,
            "view_zoom": 100,
        }
        rows["hearings"].append(row)
        if status in ("held", "failed_quorum"):
            for n, sid in enumerate(seat_ids[board]):
                member = 2 + n + (3 if board % 2 == 0 else 0)
                rows["panel_seats"].append(
                    {
                        "hearing_id": hid,
                        "seat_id": sid,
                        "member_id": member,
                        "group": ("government", "worker", "employer")[n],
                        "is_chair": n == 0,
                        "answer": "attending",
                    }
                )
                if rnd.random() < 0.9:
                    rows["attendances"].append(
                        {
                            "hearing_id": hid,
                            "user_id": member,
                            "role": "member",
                            "joined_at": when,
                            "admitted": True,
                        }
                    )
        return row

    def case_row(cid: int, office: int, board: int, filed: datetime, appeal_of: int | None) -> None:
        rows["cases"].append(
            {
                "id": cid,
                "office_id": office,
                "board_id": board,
                "number": f"B-{cid:07d}",
                "status": "final",
                "filed_via": "self",
                "created_by_id": 1,
                "created_at": filed,
                "filed_at": filed,
                "appeal_of_id": appeal_of,
            }
        )

    span = 2 * 365 * 24 * 3600
    for cid in range(1, first + 1):
        office = cid % OFFICES + 1
        board = office * 2 - 1
        filed = start + timedelta(seconds=span * cid / first)
        case_row(cid, office, board, filed, None)
        current = hearing_of_board.get(board)
        if current is None or len(current["_agenda"]) >= 10:
            when = filed + timedelta(days=rnd.randint(15, 60))
            for status in rnd.choices(["postponed", "failed_quorum"], k=rnd.choice((0, 0, 1))):
                new_hearing(board, when - timedelta(days=7), status)
            current = new_hearing(board, when, "held")
            current["_agenda"] = []
            hearing_of_board[board] = current
        current["_agenda"].append(cid)
        rows["agenda_items"].append(
            {
                "hearing_id": current["id"],
                "case_id": cid,
                "position": len(current["_agenda"]),
                "starts_at": current["starts_at"],
                "minutes": 10,
            }
        )
        if rnd.random() < 0.8:
            issued = current["starts_at"] + timedelta(days=rnd.randint(7, 40))
            rid = len(rows["rulings"]) + 1
            rows["rulings"].append(_ruling(rid, cid, current["id"], issued, rnd))
            ruled.append((cid, rid, issued, office))
    rnd.shuffle(ruled)
    for n, (cid, rid, issued, office) in enumerate(ruled[:appeals]):
        appeal_id = first + n + 1
        party = len(rows["case_parties"]) + 1
        rows["case_parties"].append(
            {"id": party, "case_id": cid, "role": "claimant", "full_name": "کارگر"}
        )
        filed = issued + timedelta(days=10)
        rows["objections"].append(
            {
                "ruling_id": rid,
                "party_id": party,
                "user_id": 1,
                "text": "اعتراض",
                "at": filed,
                "appeal_case_id": appeal_id,
            }
        )
        case_row(appeal_id, office, office * 2, filed, cid)
        hearing = new_hearing(office * 2, filed + timedelta(days=30), "held")
        if rnd.random() < 0.7:
            arid = len(rows["rulings"]) + 1
            rows["rulings"].append(
                _ruling(
                    arid, appeal_id, hearing["id"], hearing["starts_at"] + timedelta(days=10), rnd
                )
            )
    for row in rows["hearings"]:
        row.pop("_agenda", None)
    objected = {o["ruling_id"] for o in rows["objections"]}
    for ruling in rows["rulings"]:
        ruling["state"] = "appealed" if ruling["id"] in objected else "final"
    _public_rows(rows)
    return rows


def _ruling(
    rid: int, cid: int, hearing: int, issued: datetime, rnd: random.Random
) -> dict[str, Any]:
    claims = [
        {
            "kind": kind,
            "decision": rnd.choice(("accepted", "partly_accepted", "rejected")),
            "awarded_rials": None,
        }
        for kind in rnd.sample(["unpaid_wages", "overtime", "severance", "annual_leave"], 2)
    ]
    return {
        "id": rid,
        "case_id": cid,
        "hearing_id": hearing,
        "version": 1,
        "number": f"R-{rid:07d}",
        "verification_code": uuid.uuid4().hex,
        "state": "issued",
        "content": {"kind": "ruling", "claims": claims},
        "created_at": issued,
        "issued_at": issued,
    }


TABLE_ORDER = [
    "users",
    "board_rules_versions",
    "labour_offices",
    "boards",
    "seats",
    "cases",
    "case_parties",
    "hearings",
    "agenda_items",
    "panel_seats",
    "attendances",
    "rulings",
    "objections",
    "stored_files",
    "public_rulings",
]

# --------------------------------------------------------------------------- public rulings

RARE_WORD = "بیکاری"  # in about 1% of the public copies
COMMON_WORDS = "تسویه حساب"  # in about 30%
NOWHERE_WORD = "کارآموزی"  # in none
CLAIM_TITLES = {
    "unpaid_wages": "مطالبه دستمزد معوق",
    "overtime": "مطالبه حق اضافه‌کاری",
    "severance": "مطالبه حق سنوات",
    "annual_leave": "مطالبه مزد مرخصی استحقاقی",
}
SENTENCES = [
    "با عنایت به محتویات پرونده و اظهارات طرفین در جلسه رسیدگی",
    "و با توجه به فیش‌های حقوقی و سوابق پرداخت ارائه شده",
    "هیأت به استناد ماده ۳۷ قانون کار",
    "نظر به اینکه کارفرما دلیلی بر پرداخت ارائه ننموده است",
    "رأی به محکومیت کارفرما به پرداخت مبلغ {amount} ریال صادر می‌نماید",
    "مدت اشتغال کارگر از تاریخ {day} محرز است",
    "ادعای کارگر در این خصوص مستند به دلیل نیست و رد می‌شود",
    "حسب گزارش بازرس کار و اظهارات شهود",
    "طبق ماده ۲۴ قانون کار به ازای هر سال سابقه یک ماه آخرین مزد",
    "قرارداد کار موقت بوده و مدت آن در ماه‌های آخر تمدید نشده است",
    "کارفرما مدعی پرداخت مطالبات در نقد بوده و رسید معتبری ارائه نکرده است",
    "این رأی ظرف پانزده روز از تاریخ ابلاغ قابل اعتراض در هیأت حل اختلاف است",
]
BENCH_FILE = "0" * 64


def _public_rows(rows: dict[str, list[dict[str, Any]]]) -> None:
    """One anonymised public copy per final ruling, with a redacted text of a few hundred
    characters: a rare word in ~1% of them, two common ones in ~30%."""
    from hearing_server.issuance.publication import jalali_key, search_fold
    from rulings.persian import to_tehran

    rnd = random.Random(1404)
    case_of = {c["id"]: c for c in rows["cases"]}
    first = rows["rulings"][0]["created_at"] if rows["rulings"] else datetime.now(UTC)
    rows["stored_files"].append(
        {"sha256": BENCH_FILE, "size": 1, "mime_type": "application/pdf", "created_at": first}
    )
    for ruling in rows["rulings"]:
        if ruling["state"] != "final":
            continue
        case = case_of[ruling["case_id"]]
        claims = ruling["content"]["claims"]
        decisions = {c["decision"] for c in claims}
        outcome = (
            "accepted"
            if decisions == {"accepted"}
            else "rejected"
            if decisions == {"rejected"}
            else "partly_accepted"
        )
        day = to_tehran(ruling["issued_at"]).date()
        jalali = jalali_key(day)
        picked = rnd.sample(SENTENCES, 5)
        if rnd.random() < 0.30:
            picked.insert(rnd.randrange(len(picked)), f"و برگ {COMMON_WORDS} امضا نشده است")
        if rnd.random() < 0.01:
            picked.insert(rnd.randrange(len(picked)), f"و مقرری بیمه {RARE_WORD} دریافت شده است")
        reasons = "، ".join(picked).format(
            amount=rnd.randrange(10, 900) * 1_000_000, day=jalali_key(day - timedelta(days=900))
        )
        titles = [CLAIM_TITLES[c["kind"]] for c in claims]
        public_claims = [
            {
                "kind": c["kind"],
                "title": t,
                "decision": c["decision"],
                "claimed_rials": None,
                "awarded_rials": None,
                "reasons": reasons,
                "legal_basis": "ماده ۳۷ قانون کار",
            }
            for c, t in zip(claims, titles, strict=True)
        ]
        board = f"هیأت {case['board_id']}"
        office = f"اداره {case['office_id']}"
        content = {
            "kind": "public_ruling",
            "schema": 1,
            "ruling": {
                "ruling_number": ruling["number"],
                "case_number": case["number"],
                "board": {"name": board, "labour_office": office},
                "claims": public_claims,
                "parties": [
                    {"role": "claimant", "name": "کارگر"},
                    {"role": "respondent", "name": "کارفرما"},
                ],
            },
            "original_verification_code": ruling["verification_code"],
            "original_verification_url": f"https://heyat.example/verify/{ruling['verification_code']}",
        }
        text = "\n".join(
            [office, board, case["number"], ruling["number"], "کارگر", "کارفرما", *titles, reasons]
        )
        rows["public_rulings"].append(
            {
                "id": len(rows["public_rulings"]) + 1,
                "ruling_id": ruling["id"],
                "code": uuid.uuid4().hex,
                "pdf_sha256": BENCH_FILE,
                "published_at": ruling["issued_at"],
                "office_id": case["office_id"],
                "board_id": case["board_id"],
                "claim_kinds": "|" + "|".join(sorted({c["kind"] for c in claims})) + "|",
                "outcome": outcome,
                "ruled_on": day,
                "jalali_date": jalali,
                "title": "، ".join(titles)[:300],
                "content": content,
                "search_text": search_fold(text + " " + jalali),
            }
        )


async def seed(db: Database, count: int) -> None:
    rows = _rows(count)
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    async with db.engine.begin() as conn:
        for name in TABLE_ORDER:
            for i in range(0, len(rows[name]), CHUNK):
                await conn.execute(insert(tables[name]), rows[name][i : i + CHUNK])
        if db.engine.dialect.name == "postgresql":
            for name in TABLE_ORDER:
                if name == "stored_files":
                    continue
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608  # table names from the list above
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
    async with db.engine.begin() as conn:  # committed: PostgreSQL drops a rolled-back ANALYZE
        await conn.execute(text("ANALYZE"))


def summary(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(sorted(samples), n=100, method="inclusive")
    return statistics.median(samples), q[94]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


RAW_AGGREGATE = """
SELECT h.status, substr(CAST(h.starts_at AS TEXT), 1, 7) AS month, count(*)
FROM hearings h JOIN boards b ON b.id = h.board_id
GROUP BY h.status, month
"""
SNAPSHOT_READ = "SELECT data FROM stats_snapshots WHERE scope = :scope ORDER BY id DESC LIMIT 1"


async def measure(url: str, var_dir: Path, count: int, requests: int, backend: str) -> None:
    from hearing_server.app import create_app
    from hearing_server.stats.services import refresh

    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    started = time.perf_counter()
    await seed(db, count)
    print(f"{backend}: seeded {count} cases in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    await refresh(db)
    print(f"{backend}: statistics computed (every scope) in {time.perf_counter() - started:.1f} s")
    port = _free_port()
    settings = replace(
        Settings(
            var_dir=var_dir, database_url=url, files_dir=var_dir / "files", pki_dir=var_dir / "pki"
        ),
        base_url=f"http://127.0.0.1:{port}",
        public_stats_rate="1000000/minute",
        public_rulings_rate="1000000/minute",
        stats_refresh_seconds=3600.0,
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to await
        await asyncio.sleep(0.05)
    paths = ["/stats", "/stats.json", "/stats/office/1"]
    ours: list[float] = []
    bare: list[float] = []
    raw: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for path in paths:  # warm up templates and statement caches
                assert (await client.get(path)).status_code == 200
            for i in range(requests):
                path = paths[i % len(paths)]
                t0 = time.perf_counter()
                response = await client.get(path)
                t1 = time.perf_counter()
                assert response.status_code == 200, (path, response.status_code)
                ours.append((t1 - t0) * 1000)
                async with db.engine.connect() as conn:
                    t2 = time.perf_counter()
                    (await conn.execute(text(SNAPSHOT_READ), {"scope": "all"})).one()
                    t3 = time.perf_counter()
                    if i % 5 == 0:
                        (await conn.execute(text(RAW_AGGREGATE))).all()
                        raw.append((time.perf_counter() - t3) * 1000)
                bare.append((t3 - t2) * 1000)
            searched = await measure_search(client, db, requests)
    finally:
        server.should_exit = True
        await task
        await app.runtime.db.dispose()
        await db.dispose()
    p50, p95 = summary(ours)
    _b50, b95 = summary(bare)
    _r50, r95 = summary(raw)
    print(
        f"public_stats: backend={backend} p50_ms={p50:.2f} p95_ms={p95:.2f} "
        f"baseline_p95_ms={b95:.2f} raw_aggregate_p95_ms={r95:.2f} requests={len(ours)}"
    )
    for name, (page_ms, bare_ms, hits) in searched.items():
        p50, p95 = summary(page_ms)
        _b50, b95 = summary(bare_ms)
        print(
            f"public_search: backend={backend} query={name} p50_ms={p50:.2f} p95_ms={p95:.2f} "
            f"baseline_p95_ms={b95:.2f} first_page_rows={hits} requests={len(page_ms)}"
        )


def search_queries() -> dict[str, tuple[str, dict[str, str]]]:
    """What the public search is timed on: name → (path, query arguments). The text is typed
    with Arabic ي/ك (the data holds the Persian letters)."""
    arabic = str.maketrans("یک", "يك")
    return {
        "all": ("/public/rulings", {}),
        "text_rare": ("/public/rulings", {"q": RARE_WORD.translate(arabic)}),
        "text_common": ("/public/rulings", {"q": COMMON_WORDS.translate(arabic)}),
        "text_none": ("/public/rulings", {"q": NOWHERE_WORD.translate(arabic)}),
        "filters": (
            "/public/rulings",
            {
                "office_id": "2",
                "date_from": "1404/01/01",
                "date_to": "1404/03/31",
                "claim_kind": "severance",
            },
        ),
        "api": ("/api/v1/public/rulings", {}),
        "api_text_rare": ("/api/v1/public/rulings", {"q": RARE_WORD.translate(arabic)}),
    }


async def measure_search(
    client: httpx.AsyncClient, db: Database, requests: int
) -> dict[str, tuple[list[float], list[float], int]]:
    """Each search over HTTP, and beside it the same page's SQL (the statement the service
    builds, run bare on a connection); first checks that both give the same rulings."""
    from werkzeug.datastructures import MultiDict

    from hearing_server.issuance.api import parse_filter
    from hearing_server.issuance.public import recent_statement, search_statement

    async def bare_page(conn: Any, name: str) -> list[Any]:
        """The service's SQL for the page: the recent window, else the full search."""
        recent, full = statements[name]
        rows: list[Any] = []
        if recent is not None:
            rows = list((await conn.execute(recent)).all())
        if len(rows) <= 20:
            rows = list((await conn.execute(full)).all())
        return rows

    queries = search_queries()
    statements: dict[str, tuple[Any, Any]] = {}
    hits: dict[str, int] = {}
    for name, (path, params) in queries.items():
        filters, problems = parse_filter(MultiDict(params))
        assert not problems, problems
        statements[name] = (
            recent_statement(filters),
            search_statement(filters, db.engine.dialect.name),
        )
        response = await client.get(path, params=params)
        assert response.status_code == 200, (name, response.status_code)
        async with db.engine.connect() as conn:
            codes = [r.code for r in await bare_page(conn, name)][:20]
        if path.startswith("/api/"):
            assert [r["code"] for r in response.json()["rulings"]] == codes, name
        else:
            assert all(f'data-code="{c}"' in response.text for c in codes), name
            assert response.text.count("data-code=") == len(codes), name
        hits[name] = len(codes)
        assert name == "text_none" or codes, f"{name}: no rows, the bench data is wrong"
    ours: dict[str, list[float]] = {n: [] for n in queries}
    bare: dict[str, list[float]] = {n: [] for n in queries}
    for i in range(requests):
        name = list(queries)[i % len(queries)]
        path, params = queries[name]
        t0 = time.perf_counter()
        response = await client.get(path, params=params)
        ours[name].append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (name, response.status_code)
        async with db.engine.connect() as conn:
            t2 = time.perf_counter()
            await bare_page(conn, name)
            bare[name].append((time.perf_counter() - t2) * 1000)
    return {n: (ours[n], bare[n], hits[n]) for n in queries}


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


async def main(count: int, requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await measure(f"sqlite+aiosqlite:///{tmp}/bench.db", Path(tmp), count, requests, "sqlite")
    if not _pg_reachable() or os.environ.get("BENCH_SKIP_POSTGRES"):
        print("public_stats: PostgreSQL not reachable, skipped")
        return
    import asyncpg

    name = f"heyat_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
            await measure(url, Path(tmp), count, requests, "postgres")
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


if __name__ == "__main__":
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 600
    asyncio.run(main(cases, n))
