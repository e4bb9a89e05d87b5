"""Issue #16 item 4: the public rulings search through its trigram index (0023_search).

Rows are arranged directly (no PDFs): the index follows inserts, updates and deletes of
``public_rulings`` (SQLite's triggers), a text query whose matches all lie past the newest
rows still finds them (the recent window falls back to the index), words shorter than a
trigram still match, and each database really has its index.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, text, update

from hearing_server.cases.models import StoredFile
from hearing_server.issuance import public
from hearing_server.issuance.models import PublicRuling, Ruling, RulingState
from hearing_server.issuance.public import PublicFilter, search_public, search_statement
from hearing_server.issuance.publication import search_fold
from hearing_server.law.rules import BoardType
from tests.factories import make_case, make_hearing

# The newest rows first; the word «تسویه» only in the three oldest, «بیکاری» in one.
TEXTS = [
    "رأی هیأت دربارهٔ دستمزد معوق ماده ۳۷",  # newest
    "رأی هیأت دربارهٔ حق سنوات ماده ۲۴",
    "رأی هیأت دربارهٔ مرخصی",
    "رأی هیأت دربارهٔ اضافه‌کاری",
    "رأی هیأت و برگ تسویه حساب امضا نشده است ماده ۱۴۸",
    "رأی هیأت و برگ تسویه حساب و مقرری بیمه بیکاری",
    "رأی هیأت و برگ تسویه حساب",  # oldest
]


async def _arrange(db: Any) -> dict[int, str]:
    """Public copies of TEXTS (newest first by day); their codes by position."""
    codes: dict[int, str] = {}
    async with db.transaction() as session:
        case = await make_case(session, board_type=BoardType.SETTLEMENT)
        hearing = await make_hearing(session, cases=[case], board_type=BoardType.SETTLEMENT)
        session.add(StoredFile(sha256="f" * 64, size=1, mime_type="application/pdf"))
        await session.flush()
        for n, words in enumerate(TEXTS):
            ruling = Ruling(
                case_id=case.id,
                hearing_id=hearing.id,
                version=n + 1,
                number=f"IX-{case.id}-{n}",
                verification_code=f"ix{case.id:06d}{n:02d}".ljust(16, "0"),
                state=RulingState.FINAL,
                content={},
            )
            session.add(ruling)
            await session.flush()
            code = f"pub{case.id:06d}{n:02d}".ljust(16, "0")
            session.add(
                PublicRuling(
                    ruling_id=ruling.id,
                    code=code,
                    pdf_sha256="f" * 64,
                    office_id=case.office_id,
                    board_id=case.board_id,
                    claim_kinds="|other|",
                    outcome="accepted",
                    ruled_on=date(2026, 1, 31) - timedelta(days=n),
                    jalali_date="1404/11/11",
                    title="عنوان",
                    content={},
                    search_text=search_fold(words),
                )
            )
            codes[n] = code
    return codes


async def _find(db: Any, q: str, **fields: Any) -> tuple[list[str], bool]:
    async with db.transaction(write=False) as session:
        found = await search_public(session, PublicFilter(q=q, **fields))
    return [r.code for r in found.rows], found.has_next


async def test_the_index_follows_the_rows_and_finds_matches_past_the_newest(
    db: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(public, "RECENT_WINDOW", 3)  # the newest three hold no «تسویه»
    codes = await _arrange(db)

    # Typed with Arabic ي/ك: all three old matches, newest first, over two pages.
    assert await _find(db, "تسويه", per_page=2) == ([codes[4], codes[5]], True)
    assert await _find(db, "تسويه", per_page=2, page=2) == ([codes[6]], False)
    # A word the newest rows hold: the window answers, the same order.
    assert await _find(db, "هيأت", per_page=2) == ([codes[0], codes[1]], True)
    # The window holds part of a page («ماده» in 0, 1 and 4): the whole table answers.
    assert await _find(db, "ماده", per_page=2) == ([codes[0], codes[1]], True)
    assert await _find(db, "ماده", per_page=2, page=2) == ([codes[4]], False)
    assert await _find(db, "هيأت", per_page=5) == ([codes[n] for n in range(5)], True)
    assert await _find(db, "بيكاري") == ([codes[5]], False)
    # Shorter than a trigram («24»): the LIKE alone, still found.
    assert await _find(db, "۲۴") == ([codes[1]], False)
    assert await _find(db, "کارآموزی") == ([], False)

    # Updated text: found by its new words only.
    async with db.transaction() as session:
        await session.execute(
            update(PublicRuling)
            .where(PublicRuling.code == codes[5])
            .values(search_text=search_fold("رأی هیأت و دورهٔ کارآموزی"))
        )
    assert await _find(db, "بيكاري") == ([], False)
    assert await _find(db, "كارآموزي") == ([codes[5]], False)
    assert await _find(db, "تسويه") == ([codes[4], codes[6]], False)

    # A deleted copy is no longer found; the others still are.
    async with db.transaction() as session:
        await session.execute(delete(PublicRuling).where(PublicRuling.code == codes[4]))
    assert await _find(db, "تسويه") == ([codes[6]], False)
    assert await _find(db, "كارآموزي") == ([codes[5]], False)


async def test_each_database_has_the_search_index(db: Any) -> None:
    async with db.transaction(write=False) as session:
        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":
            statement = search_statement(PublicFilter(q="تسویه حساب"), dialect)
            sql = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
            plan = (await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))).all()
            assert any("public_rulings_fts" in str(row) for row in plan), plan
        else:
            names = set(
                await session.scalars(
                    text("SELECT indexname FROM pg_indexes WHERE tablename = 'public_rulings'")
                )
            )
            assert "ix_public_rulings_search_trgm" in names, names
