"""The secretary's list: filters, search by number / name / national ID, pages, and a
fixed number of queries whatever the page size (no N+1)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event

from hearing_server import clock
from hearing_server.cases.filing import do_file, do_return
from hearing_server.cases.models import CaseStatus
from hearing_server.cases.petition import ClaimInput, PetitionInput
from hearing_server.cases.search import CaseFilter, search_cases
from hearing_server.text import make_national_id
from tests.cases.conftest import petition
from tests.conftest import OtpSource, Person, api_login
from tests.factories import user_named

NAMES = ["رضا قربانی", "مریم قربانیان", "علی کریمی", "زهرا کریمی‌نژاد", "حمید نوروزی"]


async def _file_many(db: Any, count: int) -> list[Any]:
    made = []
    for i in range(count):
        async with db.transaction() as session:
            clerk = await user_named(session, "clerk")
            body = {k: v for k, v in petition().items() if k != "submit"}
            body["claims"] = [ClaimInput(**c) for c in body["claims"]]
            body["claimant_name"] = NAMES[i % len(NAMES)]
            body["claimant_national_id"] = make_national_id(f"0077000{i:02d}")
            case = await do_file(session, actor=clerk, data=PetitionInput(**body))
            made.append(case)
        clock.advance(timedelta(hours=1))
    return made


async def test_search_by_number_name_and_national_id_with_filters(
    client: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    cases = await _file_many(db, 10)
    await api_login(client, people["secretary"], otp)

    async def numbers(query: str) -> list[str]:
        key, _, value = query.partition("=")
        body = await (await client.get("/api/v1/cases", query_string={key: value})).get_json()
        return [c["number"] for c in body["cases"]]

    assert await numbers(f"q={cases[3].number}") == [cases[3].number]
    persian_number = cases[3].number.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert await numbers(f"q={persian_number}") == [cases[3].number]
    # "قربان" matches both surnames by prefix; typed with Arabic letters it still matches.
    by_prefix = await numbers("q=قربان")
    assert sorted(by_prefix) == sorted(
        c.number for c in cases if "قربان" in NAMES[cases.index(c) % 5]
    )
    assert await numbers("q=علي كريمي") == [
        c.number for c in reversed(cases) if cases.index(c) % 5 == 2
    ]
    nid = make_national_id("007700004")
    assert await numbers(f"q={nid}") == [cases[4].number]
    assert await numbers("q=نام‌ناموجود") == []
    # Newest first; status filter; pages.
    page1 = await (
        await client.get("/api/v1/cases", query_string={"q": "قربان", "per_page": "2"})
    ).get_json()
    assert page1["has_next"] is True and len(page1["cases"]) == 2
    assert page1["cases"][0]["filed_at"] > page1["cases"][1]["filed_at"]
    demo_returned = await numbers("status=returned")  # the demo's returned case
    assert all(n not in demo_returned for n in (c.number for c in cases))
    secretary = people["secretary"]
    async with db.transaction() as session:
        actor = await user_named(session, secretary.username)
        await do_return(session, actor=actor, case_id=cases[7].id, reason="ناقص")
    assert await numbers("status=returned") == [cases[7].number, *demo_returned]
    bad = await client.get("/api/v1/cases?status=lost")
    assert bad.status_code == 422
    bad_date = await client.get("/api/v1/cases?filed_from=yesterday")
    assert bad_date.status_code == 422
    page = await client.get("/cases", query_string={"q": "قربان", "status": "filed"})
    assert page.status_code == 200 and "قربانی" in await page.get_data(as_text=True)


async def test_listing_takes_the_same_number_of_queries_for_5_or_25_rows(db: Any) -> None:
    await _file_many(db, 25)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        sizes = []
        for per_page in (5, 25):
            statements.clear()
            async with db.transaction(write=False) as session:
                secretary = await user_named(session, "secretary")
                before = len(statements)
                page = await search_cases(
                    session,
                    actor=secretary,
                    filters=CaseFilter(per_page=per_page, status=CaseStatus.FILED),
                )
                sizes.append(len(statements) - before)
            assert len(page.rows) == per_page
            assert all(r.claimant and r.respondent for r in page.rows)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert sizes[0] == sizes[1] == 2
