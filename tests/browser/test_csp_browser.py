"""Issue #13, items 3 and 4 in a real browser.

- A hostile ``next`` (``/\\host``, which Chromium reads as ``//host``) after signing in
  ends on the site.
- The main pages, walked as several roles, raise no Content-Security-Policy violation:
  a ``securitypolicyviolation`` listener installed before any page script, and the
  console's CSP messages, both collected and required empty.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import select

from hearing_server.demo import demo_summary
from hearing_server.issuance.models import Ruling
from hearing_server.scheduling.models import Hearing
from tests.conftest import EVENTUALLY_SECONDS, LiveServer, OtpSource, Person, browser_login

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
}, true);
"""


async def test_hostile_next_after_sign_in_stays_on_the_site_in_chromium(
    browser: Any, live_server: LiveServer, people: dict[str, Person], otp: OtpSource
) -> None:
    site = urlsplit(live_server.url)
    # Same server under another name: on the old code Chromium followed /\localhost:port/x.
    elsewhere = f"/\\localhost:{site.port}/elsewhere"
    context = await browser.new_context()
    context.set_default_timeout(EVENTUALLY_SECONDS * 1000)
    page = await context.new_page()
    worker = people["worker"]
    await page.goto(f"{live_server.url}/login?next={quote(elsewhere)}")
    await page.fill("#f-username", worker.username)
    await page.fill("#f-password", worker.password)
    await page.click("button[type=submit].primary")
    await page.wait_for_url("**/login/otp**")
    await page.fill("#f-otp", otp.code(worker.totp_secret))
    await page.click("form button[type=submit].primary")
    # Signed in and sent on (commit: another host need not answer for the check below).
    await page.wait_for_url(lambda url: "/login" not in url, wait_until="commit")
    landed = urlsplit(page.url)
    assert (landed.scheme, landed.netloc) == (site.scheme, site.netloc), page.url
    assert landed.path != "/elsewhere"
    await context.close()


async def _pages(db: Any, settings: Any) -> dict[str, list[str]]:
    async with db.transaction(write=False) as session:
        ruled = (await demo_summary(session, settings))["ruled_case"]
        assert ruled is not None
        case_id = ruled["case_id"]
        ruling_id = await session.scalar(select(Ruling.id).where(Ruling.case_id == case_id))
        hearings = list(await session.scalars(select(Hearing.id).order_by(Hearing.id)))
    assert ruling_id and hearings
    common = ["/", "/account", "/rulings", f"/rulings/{ruling_id}", "/verify", "/track"]
    hearing_pages = [p for h in hearings for p in (f"/hearings/{h}", f"/hearings/{h}/room")]
    case_pages = [f"/cases/{case_id}", f"/cases/{case_id}/receipt"]
    return {
        "secretary": [
            *common,
            *case_pages,
            "/cases/inbox",
            "/cases",
            "/hearings",
            "/calendar",
            "/boards/1/hearings/new",
            *hearing_pages,
            *(f"/hearings/{h}/vote" for h in hearings),
        ],
        "member.gov1": [*common, *case_pages, "/cases", "/hearings", "/calendar", *hearing_pages],
        "worker": [*common, *case_pages, "/cases/mine", "/cases/new", "/hearings", *hearing_pages],
        "clerk": [*common, "/cases/mine", "/cases/new-for-worker"],
        "admin": [*common, "/admin/users", "/dev/outbox"],
    }


# One backend: the headers and pages are the same on both backends.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_main_pages_raise_no_csp_violation_in_chromium(
    browser: Any, live_server: LiveServer, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    pages = await _pages(db, live_server.settings)
    found: list[str] = []
    visited = 0
    for username, paths in pages.items():
        context = await browser.new_context(viewport={"width": 1100, "height": 900})
        context.set_default_timeout(EVENTUALLY_SECONDS * 1000)
        await context.add_init_script(RECORD_VIOLATIONS)
        page = await context.new_page()
        console: list[str] = []
        page.on(
            "console",
            lambda msg, sink=console: (
                sink.append(msg.text)
                if "Content Security Policy" in msg.text or "Refused to" in msg.text
                else None
            ),
        )
        await browser_login(page, live_server.url, people[username], otp)
        for path in paths:
            response = await page.goto(f"{live_server.url}{path}")
            assert response is not None
            # The room keeps a Socket.IO connection open: its page never goes network-idle.
            await page.wait_for_load_state("load" if path.endswith("/room") else "networkidle")
            if response.status == 200:
                visited += 1
                # The CSP header reached the browser for this very page.
                assert "default-src 'self'" in (await response.all_headers()).get(
                    "content-security-policy", ""
                ), path
            for item in await page.evaluate("window.__csp"):
                found.append(f"{username} {path}: {item}")
            found += [f"{username} {path}: console: {text}" for text in console]
            console.clear()
        await context.close()
    assert visited >= 30, visited  # the walk reached real pages, not only refusals
    assert found == [], "\n".join(found)
