"""The public statistics pages and downloads: no sign-in, the published snapshot's numbers
with the audit head they were computed at, clear 4xx answers, a per-client rate limit."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from typing import Any

from hearing_server.app import create_app
from hearing_server.config import Settings
from hearing_server.stats.services import refresh
from tests.stats.fixture import build
from tests.test_persian_pages import english_in

EN = {"Cookie": "heyat_lang=en"}


async def test_pages_and_downloads_state_the_numbers_and_the_audit_head(
    client: Any, db: Any
) -> None:
    async with db.transaction() as session:
        fx = await build(session)
    done = await refresh(db)
    page = await client.get(f"/stats/office/{fx.office_id}", headers=EN)
    assert page.status_code == 200
    html = await page.get_data(as_text=True)
    assert done.hash in html and f'data-seq="{done.seq}"' in html
    assert "<caption>Days from petition to the first hearing</caption>" in html
    assert '<th scope="row">1404-07</th><td>10</td><td>35.0</td><td>43.0</td>' in html
    assert '<td class="suppressed">—</td>' in html  # the small cells

    fa = await (await client.get(f"/stats/office/{fx.office_id}")).get_data(as_text=True)
    assert english_in(fa) == []  # Persian pages are Persian (the fixture's names are)
    assert '<th scope="row">۱۴۰۴-۰۷</th><td>۱۰</td><td>۳۵.۰</td><td>۴۳.۰</td>' in fa

    body = await (await client.get(f"/stats/office/{fx.office_id}.json")).get_json()
    assert body["checkpoint"]["seq"] == done.seq and body["checkpoint"]["hash"] == done.hash
    assert body["tables"]["appeals"][0]["objection_rate"] == 80.0
    assert body["tables"]["time_to_ruling"][1]["cases"] is None

    response = await client.get(
        f"/stats/office/{fx.office_id}.csv?table=time_to_ruling", headers=EN
    )
    rows = list(csv.reader(io.StringIO(await response.get_data(as_text=True))))
    assert rows == [
        ["Month", "Cases", "Median (days)", "90th percentile (days)", "audit_seq", "audit_hash"],
        ["1404-07", "6", "31.0", "54.0", str(done.seq), done.hash],
        ["1404-08", "—", "—", "—", str(done.seq), done.hash],
    ]
    long = await (await client.get(f"/stats/office/{fx.office_id}.csv")).get_data(as_text=True)
    assert f"appeals,{BOARD_EN},change_rate,83.3,{done.seq},{done.hash}" in long

    overall = await client.get("/stats.json")
    assert (await overall.get_json())["scope"] == "all"


BOARD_EN = "Test Diagnosis Board — Test Labour Office"


async def test_bad_requests_get_a_clear_4xx_in_both_languages(client: Any, db: Any) -> None:
    await refresh(db)
    missing = await client.get("/stats/office/999999", headers=EN)
    assert missing.status_code == 404
    assert "No statistics are published for this labour office." in await missing.get_data(
        as_text=True
    )
    fa = await client.get("/stats/office/999999.json")
    assert fa.status_code == 404
    assert "برای این ادارهٔ کار آماری منتشر نشده است" in await fa.get_data(as_text=True)
    bad = await client.get("/stats.csv?table=nope", headers=EN)
    assert bad.status_code == 422
    assert "There is no such table." in await bad.get_data(as_text=True)


async def test_the_public_pages_are_rate_limited_per_client(settings: Settings, db: Any) -> None:
    await refresh(db)
    app = create_app(replace(settings, public_stats_rate="3/minute"))
    try:
        client = app.quart_app.test_client()
        codes = [(await client.get(p)).status_code for p in ("/stats", "/stats.json", "/stats.csv")]
        assert codes == [200, 200, 200]
        refused = await client.get("/stats", headers=EN)
        assert refused.status_code == 429
        assert refused.headers.get("Retry-After")
    finally:
        await app.runtime.db.dispose()


async def test_the_served_app_refreshes_when_the_audit_chain_moves(settings: Settings) -> None:
    from sqlalchemy import func, select

    from hearing_server.audit.services import do_record
    from hearing_server.stats.models import StatsSnapshot
    from tests.conftest import eventually, free_port, serving

    app = create_app(replace(settings, stats_refresh_seconds=0.05))
    db = app.runtime.db

    async def published() -> int:
        """The audit seq of the newest published statistics; 0 when none (the demo's chain
        is not empty, so a refresh names a seq above 0)."""
        async with db.transaction(write=False) as session:
            seq = await session.scalar(
                select(func.max(StatsSnapshot.checkpoint_seq)).where(StatsSnapshot.scope == "all")
            )
        return seq or 0

    assert await published() == 0
    async with serving(app, free_port()):
        first_seq = await eventually(published)
        async with db.transaction() as session:
            await do_record(session, actor_id=None, action="test.moved")
        await eventually(lambda: _moved(published, first_seq))
    await db.dispose()


async def _moved(published: Any, seq: int) -> bool:
    return bool(await published() > seq)
