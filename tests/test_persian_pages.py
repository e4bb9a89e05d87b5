"""Persian pages are Persian: every main page, as every role, in fa, shows no English
sentence. The heuristic reads the visible text (and the labels a screen reader speaks) and
looks for a run of two Latin words; codes (``<code>``) are left out, and links are one
"word" each. The world is the access matrix's: a room in the lobby, a decided case with
an issued ruling and minutes, a draft, a hearing per phase."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx

from hearing_server.cases.models import CaseTransition
from hearing_server.cases.reasons import system_reason
from hearing_server.issuance.models import Ruling
from tests import test_access_matrix as matrix
from tests.conftest import EVENTUALLY_SECONDS
from tests.issuance.conftest import flip_byte
from tests.test_access_matrix import ROLES, World

# The access matrix's world, module-scoped, on each backend.
database_url = matrix.database_url
world = matrix.world

# Two Latin words in a row ("hearing 3 closed without a decision", "Next page"; "PDF",
# "SHA-256", a username such as "member.wrk1" or one name in Latin letters do not).
_WORD = r"(?<![\w\-])[A-Za-z][A-Za-z'’]*(?![\w\-])"  # a word on its own, not in "T6HA-GY74"
_SEP = r"(?:\s*[,:;()–—]\s*|\.\s+|\s+)"
ENGLISH = re.compile(rf"(?<![\w\-])[A-Za-z][A-Za-z'’]+(?![\w\-])(?:{_SEP}(?:\d+{_SEP})*{_WORD})+")
SKIPPED_TAGS = {"script", "style", "template", "head", "code", "pre", "svg"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
SPOKEN = ("aria-label", "title", "placeholder", "alt")

PAGES = (
    "/",
    "/account",
    "/cases",
    "/cases/mine",
    "/cases/inbox",
    "/cases/new",
    "/cases/{case}",
    "/cases/{decided_case}",
    "/cases/{case}/receipt",
    "/track",
    "/activate?code=ACDE-FHJK-MNPQ",
    "/hearings",
    "/hearings/{hearing}",
    "/hearings/{held}",
    "/hearings/{hearing}/room",
    "/hearings/{held}/vote",
    "/calendar",
    "/rulings",
    "/rulings/{ruling}",
    "/rulings/{draft_ruling}",
    "/verify",
    "/verify/{code}",
    "/public/rulings",
    "/admin/users",
    "/admin/calendar",
)


class VisibleText(HTMLParser):
    """The text a reader sees or hears, without scripts, styles and codes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # per open element: is its text left out
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        skipped = (bool(self.stack) and self.stack[-1]) or tag in SKIPPED_TAGS
        if not skipped:
            self.parts.extend(str(values[a]) for a in SPOKEN if values.get(a))
            if (
                tag == "input"
                and values.get("type") in ("submit", "button")
                and values.get("value")
            ):
                self.parts.append(str(values["value"]))
        if tag not in VOID:
            self.stack.append(skipped)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]):
            self.parts.append(data)


def english_in(html: str) -> list[str]:
    reader = VisibleText()
    reader.feed(html)
    found: list[str] = []
    for part in reader.parts:
        found.extend(m.group().strip() for m in ENGLISH.finditer(" ".join(part.split())))
    return found


def test_the_heuristic_finds_a_sentence_and_spares_links_and_codes() -> None:
    page = (
        "<html><head><title>x</title></head><body><p>پرونده — hearing 3 closed without a "
        'decision: to be reheard</p><a dir="ltr" href="#">http://127.0.0.1/hearings/2/room</a>'
        '<code>SHA-256 of the file</code><p>فایل PDF</p><p dir="ltr" lang="en">Bad digest.</p>'
        '<button aria-label="Next page">›</button><input placeholder="XXXX-XXXX-XXXX">'
        "<p>کد T6HA-GY74-HVVF</p>"
        '<script>const x = "not shown at all";</script></body></html>'
    )
    assert english_in(page) == [
        "hearing 3 closed without a decision: to be reheard",
        "Bad digest",
        "Next page",
    ]


async def _ids(world: World) -> dict[str, Any]:
    """The matrix's ids, the decided case and the ruling's code; a reheard case on the
    room's case, in the keyed form and in the English written before the keys."""
    db = world.live.app.runtime.db
    async with db.transaction() as session:
        ruling = await session.get(Ruling, world.ids["ruling"])
        assert ruling is not None
        for reason in (
            system_reason("reheard", hearing=world.ids["hearing"]),
            f"hearing {world.ids['hearing']} closed without a decision: to be reheard",
            "every motion resolved by vote",
        ):
            session.add(
                CaseTransition(
                    case_id=world.ids["case"],
                    from_status="in_hearing",
                    to_status="accepted",
                    reason=reason,
                )
            )
        return {**world.ids, "decided_case": ruling.case_id, "code": ruling.verification_code}


async def _client(world: World, username: str | None) -> httpx.AsyncClient:
    headers = {"Accept-Language": "fa"}
    if username:
        headers["Cookie"] = await world.signed.cookie(username)
    return httpx.AsyncClient(base_url=world.live.url, headers=headers, timeout=EVENTUALLY_SECONDS)


async def test_every_main_page_in_persian_has_no_english_sentence(world: World) -> None:
    ids = await _ids(world)
    hits: list[str] = []
    seen = 0
    for role, username in {"anonymous": None, **ROLES}.items():
        async with await _client(world, username) as http:
            for path in PAGES:
                url = path.format(**ids)
                response = await http.get(url)
                if response.status_code != 200 or "text/html" not in response.headers.get(
                    "content-type", ""
                ):
                    continue
                assert 'lang="fa"' in response.text, f"{role} {url} is not in Persian"
                seen += 1
                hits.extend(f"{role} {url}: {found}" for found in english_in(response.text))
    assert seen > 60  # the walk reached the pages (not a login page 22 times over)
    assert hits == [], "English on Persian pages:\n" + "\n".join(sorted(set(hits)))


async def test_verify_says_what_is_wrong_in_persian(world: World) -> None:
    """A ruling changed after signing, uploaded on /verify: the reason is Persian."""
    async with await _client(world, ROLES["secretary"]) as http:
        pdf = (await http.get(f"/rulings/{world.ids['ruling']}/pdf")).content
    async with await _client(world, None) as visitor:
        page = (await visitor.get("/verify")).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        response = await visitor.post(
            "/verify",
            data={"csrf_token": token.group(1), "code": ""},
            files={"file": ("r.pdf", flip_byte(pdf), "application/pdf")},
        )
    assert response.status_code == 200
    assert 'data-authentic="false"' in response.text
    assert 'data-problem="changed"' in response.text
    assert english_in(response.text) == []
