"""Issue #16 item 2 in Chromium: the public statistics page draws every chart (a canvas
with pixels on it) beside its table, in Persian and in English, raises no CSP violation,
passes an axe-core scan without serious or critical violations, and a table's CSV
download holds the same rows as the table."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from hearing_server.stats.services import refresh
from tests.conftest import EVENTUALLY_SECONDS, PROJECT, LiveServer, require_or_skip, wait_until
from tests.stats.fixture import build

AXE = PROJECT / "node_modules" / "axe-core" / "axe.min.js"

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
}, true);
"""

# Every chart drawn, and each canvas has at least one painted pixel.
CHARTS_DRAWN = """() => {
  const canvases = [...document.querySelectorAll("canvas[data-chart]")];
  if (!canvases.length || !canvases.every((c) => c.dataset.drawn === "true")) return false;
  return canvases.every((c) => {
    const { data } = c.getContext("2d").getImageData(0, 0, c.width, c.height);
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
    return false;
  }) && canvases.length;
}"""

AXE_SERIOUS = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}"""

TABLE_ROWS = """(id) => [...document.querySelectorAll(`#t-${id} table tr`)].map(
  (tr) => [...tr.cells].map((c) => c.textContent.trim()))"""

FA_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")


async def _download_rows(page: Any, table: str, tmp: Path) -> list[list[str]]:
    async with page.expect_download() as info:
        await page.click(f'a[data-table-csv="{table}"]')
    download = await info.value
    target = tmp / f"{table}.csv"
    await download.save_as(target)
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    return [row[:-2] for row in rows]  # without the audit seq and hash on every row


async def test_stats_page_charts_tables_accessibility_and_csv_in_chromium(
    browser: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    require_or_skip(
        AXE.is_file(),
        "axe-core is not installed (bash scripts/vendor.sh)",
        env="HEYAT_REQUIRE_BROWSER",
    )
    db = live_server.app.runtime.db
    async with db.transaction() as session:
        fx = await build(session)
    done = await refresh(db)
    context = await browser.new_context(accept_downloads=True)
    context.set_default_timeout(EVENTUALLY_SECONDS * 1000)
    await context.add_init_script(RECORD_VIOLATIONS)
    await context.add_init_script(path=str(AXE))  # the test's own: no page of Heyat loads it
    page = await context.new_page()
    await page.goto(f"{live_server.url}/stats/office/{fx.office_id}")

    # Persian (the default).
    assert await page.get_attribute("html", "lang") == "fa"
    await wait_until(page, f"({CHARTS_DRAWN})()")
    assert await page.locator("canvas[data-chart]").count() == 6
    caption = await page.text_content("#t-time_to_hearing caption")
    assert caption is not None and "نخستین جلسه" in caption
    fa_rows = await page.evaluate(TABLE_ROWS, "time_to_hearing")
    assert fa_rows[1] == ["۱۴۰۴-۰۷", "۱۰", "۳۵.۰", "۴۳.۰"]
    assert fa_rows[2] == ["۱۴۰۴-۰۸", "—", "—", "—"]
    seq = await page.get_attribute("#stats-checkpoint", "data-seq")
    assert seq == str(done.seq)
    assert await page.get_attribute("#stats-checkpoint", "data-hash") == done.hash
    assert await page.evaluate(AXE_SERIOUS) == []
    fa_csv = await _download_rows(page, "hearings", tmp_path)
    fa_table = await page.evaluate(TABLE_ROWS, "hearings")
    assert [[c.translate(FA_DIGITS) for c in r] for r in fa_table] == fa_csv

    # English, through the page's own language switch.
    await page.click(".lang-switch button")
    await page.wait_for_load_state("load")
    assert await page.get_attribute("html", "lang") == "en"
    await wait_until(page, f"({CHARTS_DRAWN})()")
    en_rows = await page.evaluate(TABLE_ROWS, "time_to_hearing")
    assert en_rows == [
        ["Month", "Cases", "Median (days)", "90th percentile (days)"],
        ["1404-07", "10", "35.0", "43.0"],
        ["1404-08", "—", "—", "—"],
    ]
    assert await page.evaluate(AXE_SERIOUS) == []
    for table in ("time_to_hearing", "outcomes", "appeals", "attendance"):
        assert await _download_rows(page, table, tmp_path) == await page.evaluate(
            TABLE_ROWS, table
        ), table
    assert await page.evaluate("window.__csp") == []
    await context.close()
