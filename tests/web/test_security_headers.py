"""Security headers on every response (issue #13, item 4).

The routes come from ``app.url_map``, so a route added later is checked without anyone
listing it; path parameters are filled with the seeded demo's real ids (its ruled case,
a document, a hearing with minutes, a ballot receipt …), so pages, API answers, files,
PDFs and the static files all answer for real. Every method of every rule is asked,
signed in as the secretary and signed out. The templates carry no inline script, no
``on*`` handler and no ``style`` attribute (the policy forbids them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hearing_server.cases.models import Document
from hearing_server.demo import demo_summary
from hearing_server.issuance.models import Minutes, Ruling
from hearing_server.notifications.models import OutboxMessage
from hearing_server.scheduling.models import Hearing, PanelSeat
from hearing_server.voting.models import Ballot, Motion
from hearing_server.web.context import ROOM_ENDPOINTS
from tests.conftest import PROJECT, OtpSource, Person, api_login

REQUIRED_CSP = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
)


def check_headers(response: Any, what: str, *, room: bool = False) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    if headers.get("Content-Disposition", "").startswith("attachment"):
        # A file goes out as an attachment in a sandbox: stricter than the pages' policy.
        assert csp == "sandbox", f"{what}: {csp!r}"
        assert headers.get("X-Content-Type-Options") == "nosniff", what
        return
    for directive in REQUIRED_CSP:
        assert directive in csp, f"{what}: {directive!r} missing from {csp!r}"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "same-origin", what
    policy = headers.get("Permissions-Policy", "")
    if room:
        assert "camera=(self)" in policy and "microphone=(self)" in policy, what
    else:
        assert "camera=()" in policy and "microphone=()" in policy, f"{what}: {policy!r}"
    assert "geolocation=()" in policy, what


async def demo_ids(db: Any, settings: Any) -> dict[str, str]:
    async with db.transaction(write=False) as session:
        ruled = (await demo_summary(session, settings))["ruled_case"]
        assert ruled is not None
        ruling = await session.scalar(select(Ruling).where(Ruling.case_id == ruled["case_id"]))
        minutes = await session.scalar(select(Minutes))
        document = await session.scalar(select(Document).order_by(Document.id))
        motion = await session.scalar(select(Motion).order_by(Motion.id))
        ballot = await session.scalar(select(Ballot).order_by(Ballot.id))
        seat = await session.scalar(select(PanelSeat).order_by(PanelSeat.id))
        hearing = await session.scalar(select(Hearing).order_by(Hearing.id))
        message = await session.scalar(select(OutboxMessage).order_by(OutboxMessage.id))
        assert ruling and minutes and motion and ballot and seat and hearing and message
        return {
            "case_id": str(ruled["case_id"]),
            "document_id": str(document.id) if document else "1",
            "hearing_id": str(hearing.id),
            "ruling_id": str(ruling.id),
            "minutes_id": str(minutes.id),
            "motion_id": str(motion.id),
            "receipt": ballot.receipt,
            "panel_seat_id": str(seat.id),
            "message_id": str(message.id),
            "board_id": "1",
            "user_id": "1",
            "counter_office_id": "1",
            "office_id": "1",
            "code": ruling.verification_code or "",
            "filename": "css/app.css",
        }


def every_request(app: Any, ids: dict[str, str]) -> list[tuple[str, str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", ids[name], path)
        assert "<" not in path, path
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, path, rule.endpoint))
    return found


async def test_every_route_answers_with_the_security_headers(
    quart_app: Any, db: Any, settings: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    ids = await demo_ids(db, settings)
    requests = every_request(quart_app, ids)
    assert len(requests) > 90  # the whole map, not a sample
    anonymous = quart_app.test_client()
    secretary = quart_app.test_client()
    await api_login(secretary, people["secretary"], otp)
    statuses: dict[tuple[str, str], int] = {}
    for who, client in (("anonymous", anonymous), ("secretary", secretary)):
        for method, path, endpoint in requests:
            response = await client.open(path, method=method)
            await response.get_data()
            what = f"{who} {method} {path} → {response.status_code}"
            assert response.status_code < 500, what
            check_headers(response, what, room=endpoint in ROOM_ENDPOINTS)
            if who == "secretary":
                statuses[(method, path)] = response.status_code
    # Files and PDFs answered for real, not only their refusals.
    for path in (
        "/static/css/app.css",
        f"/rulings/{ids['ruling_id']}/pdf",
        f"/api/v1/rulings/{ids['ruling_id']}/pdf",
        f"/minutes/{ids['minutes_id']}/pdf",
        f"/cases/{ids['case_id']}/receipt.pdf",
        f"/hearings/{ids['hearing_id']}/room",
        f"/cases/{ids['case_id']}",
        "/api/v1/me",
    ):
        assert statuses[("GET", path)] == 200, path
    for method, path in (("GET", "/no/such/page"), ("DELETE", "/cases")):
        response = await anonymous.open(path, method=method)
        check_headers(response, f"{method} {path} → {response.status_code}")


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
STYLE_ATTR = re.compile(r"\sstyle\s*=|<style", re.I)


def test_templates_hold_no_inline_script_handler_or_style() -> None:
    """rulings/ and *_pdf.html are WeasyPrint's PDF templates, never served to a browser."""
    found = []
    for path in sorted((PROJECT / "templates").rglob("*.html")):
        relative = path.relative_to(PROJECT / "templates")
        if relative.parts[0] == "rulings" or path.stem.endswith("_pdf"):
            continue
        text = Path(path).read_text()
        for pattern in (INLINE_SCRIPT, HANDLER, STYLE_ATTR):
            found += [f"{path.name}: {m.group(0)}" for m in pattern.finditer(text)]
    assert found == []
