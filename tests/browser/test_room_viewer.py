"""Issue #17 item 6 in Chromium: the room's document viewer lays pdf.js's text layer over
the page, so a Persian sentence of a WeasyPrint PDF is selected with the mouse, read in the
page's accessibility tree and found by the viewer's search (typed with Arabic letters,
on another page, highlighted); the room passes an axe-core scan as a member and as a party,
and is used by keyboard alone: entering it, admitting, raising a hand, leaving and following
the presenter again."""

from __future__ import annotations

import io
import unicodedata
from typing import Any

import pytest
from playwright.async_api import expect

from hearing_server.cases.models import Document, DocumentVisibility, StoredFile
from hearing_server.config import Settings
from tests.browser.test_stats_browser import AXE, AXE_SERIOUS, RECORD_VIOLATIONS
from tests.conftest import ARTIFACTS, LiveServer, OtpSource, Person, browser_login, require_or_skip
from tests.factories import user_named
from tests.rooms.conftest import Room, make_room, store_file

# The sentence on page 3 (a zero-width non-joiner in «حق‌سنوات», Persian digits); pages 1
# and 2 say other things, so the search has one right answer.
SENTENCE = "کارفرما مزد سه ماه آخر و حق‌سنوات کارگر را از سال ۱۴۰۲ نپرداخته است."
PAGES = (
    "صفحهٔ نخست: مشخصات طرفین دعوا",
    "صفحهٔ دوم: خلاصهٔ جلسهٔ پیشین",
    SENTENCE,
)
# What a person with an Arabic keyboard types: ك (Arabic kaf), ي (Arabic yeh), Arabic-Indic
# digits, and no zero-width non-joiner.
QUERY = "حقسنوات كارگر را از سال ١٤٠٢"

# ZWNJ, ZWJ, bidi marks, tatweel, and the vowel and hamza marks (pdf.js gives the ٔ of «صفحهٔ»
# as a glyph of its own, after a space).
IGNORED = {"\u200c", "\u200d", "\u200e", "\u200f", "\u0640", "\u0670"} | {
    chr(c) for c in range(0x064B, 0x0660)
}
LETTERS = str.maketrans(
    {"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9"}
    | {d: str(i) for i, d in enumerate("۰۱۲۳۴۵۶۷۸۹")}
    | {d: str(i) for i, d in enumerate("٠١٢٣٤٥٦٧٨٩")}
)


def normal(s: str) -> str:
    """The test's own normalisation (not the page's): NFKC, Persian letters and ASCII digits,
    no ZWNJ, bidi or vowel marks, single spaces."""
    s = unicodedata.normalize("NFKC", s).translate(LETTERS)
    return " ".join("".join(c for c in s if c not in IGNORED).split())


def persian_pdf() -> bytes:
    from weasyprint import HTML

    body = "".join(
        f'<section style="page-break-after: always"><p>{text}</p></section>' for text in PAGES
    )
    style = "font-family: Vazirmatn, sans-serif; font-size: 20px"
    html = f'<html lang="fa" dir="rtl"><body style="{style}">{body}</body></html>'
    out = io.BytesIO()
    HTML(string=html).write_pdf(out)
    return out.getvalue()


async def add_document(db: Any, settings: Settings, room: Room) -> int:
    data = persian_pdf()
    sha = store_file(settings, data)
    async with db.transaction() as session:
        secretary = await user_named(session, "secretary")
        if await session.get(StoredFile, sha) is None:
            session.add(
                StoredFile(sha256=sha, size=len(data), mime_type="application/pdf", pages=3)
            )
            await session.flush()
        doc = Document(
            case_id=room.case_id,
            sha256=sha,
            title="لایحهٔ کارگر",
            kind="statement",
            visibility=DocumentVisibility.PARTIES,
            uploaded_by_id=secretary.id,
        )
        session.add(doc)
        await session.flush()
        return doc.id


async def open_page(browser: Any, live: LiveServer, who: Person, otp: OtpSource) -> Any:
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(30_000)
    await context.add_init_script(RECORD_VIOLATIONS)
    await context.add_init_script(path=str(AXE))  # the test's own: no page of Heyat loads it
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    await browser_login(page, live.url, who, otp)
    return page


async def enter_room(page: Any, live: LiveServer, room: Room) -> None:
    await page.goto(f"{live.url}/hearings/{room.hearing_id}/room")
    await page.wait_for_selector("#room[data-state=connected]")
    await page.wait_for_selector("#people li")


async def no_serious_violations(page: Any, who: str) -> None:
    found = await page.evaluate(AXE_SERIOUS)
    assert found == [], f"axe-core as {who}: {found}"
    assert await page.evaluate("window.__csp") == [], f"CSP violations as {who}"
    assert page.errors == [], page.errors


SELECTION = "() => window.getSelection().toString()"
MATCHES = """() => [...document.querySelectorAll("#text-layer .highlight.selected")]
  .map((n) => n.textContent).join("")"""


# One backend: the viewer's own work, in the browser.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_persian_sentence_is_selected_read_and_found_in_the_room_viewer(
    browser: Any,
    live_server: LiveServer,
    people: dict[str, Person],
    otp: OtpSource,
    db: Any,
    settings: Settings,
) -> None:
    require_or_skip(
        AXE.is_file(),
        "axe-core is not installed (bash scripts/vendor.sh)",
        env="HEYAT_REQUIRE_BROWSER",
    )
    room = await make_room(db, settings)
    doc = await add_document(db, settings, room)
    member = await open_page(browser, live_server, people["member.wrk1"], otp)
    await enter_room(member, live_server, room)
    await member.select_option("#doc-select", str(doc))
    await member.wait_for_selector(f'#page-frame[data-rendered="{doc}:1"]')
    # The text layer holds the page's words (a canvas alone held none).
    assert normal(PAGES[0]) in normal(await member.inner_text("#text-layer"))

    # The viewer's search: typed with Arabic letters and digits, without the ZWNJ; the match
    # is on page 3, which the viewer turns to and marks.
    await member.fill("#find-text", QUERY)
    await member.press("#find-text", "Enter")
    await member.wait_for_selector(f'#page-frame[data-rendered="{doc}:3"]')
    await expect(member.locator("#text-layer .highlight.selected").first).to_be_visible()
    assert normal(await member.evaluate(MATCHES)) == normal(QUERY)
    status = await member.inner_text("#find-status")
    assert "صفحهٔ ۳" in status and "۱ از ۱" in status, status
    assert await member.inner_text("#page-label") == "صفحهٔ ۳ از ۳"
    # The mark lies over the sentence's words on the canvas (inside the page, not at 0,0).
    frame = await member.locator("#page-canvas").bounding_box()
    mark = await member.locator("#text-layer .highlight.selected").first.bounding_box()
    assert frame and mark
    assert frame["x"] < mark["x"] < frame["x"] + frame["width"]
    assert frame["y"] < mark["y"] < frame["y"] + frame["height"] / 2

    # Selected with the mouse: a triple click on the sentence selects its line.
    line = member.locator("#text-layer span[role=presentation]").first
    await line.click(click_count=3)
    assert normal(await member.evaluate(SELECTION)) == normal(SENTENCE)
    # And a screen reader meets the sentence inside the page's region.
    tree = await member.locator("#page-frame").aria_snapshot()
    assert normal(SENTENCE) in normal(tree.replace("- text:", " ").replace("\n", " ")), tree
    ARTIFACTS.mkdir(exist_ok=True)
    await member.locator("#page-frame").screenshot(path=str(ARTIFACTS / "room-viewer-find.png"))

    # Highlights still work over the text layer: in marking mode a drag draws a box (and
    # selects no text), which the room keeps and draws where it was drawn.
    async def note(dialog: Any) -> None:
        await dialog.accept("بند سنوات")

    member.once("dialog", note)
    await member.click("#mark")
    box = await member.locator("#page-canvas").bounding_box()
    assert box
    x0, y0 = box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.05
    x1, y1 = box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.15
    await member.mouse.move(x0, y0)
    await member.mouse.down()
    await member.mouse.move(x1, y1, steps=5)
    await member.mouse.up()
    mark = member.locator("#marks .mark:not(.ghost)")
    await expect(mark).to_have_count(1)
    assert await member.evaluate(SELECTION) == ""
    drawn = await mark.bounding_box()
    assert drawn
    assert abs(drawn["x"] - x0) < 3 and abs(drawn["y"] - y0) < 3
    assert abs(drawn["x"] + drawn["width"] - x1) < 3
    await member.click("#mark")  # marking off: the text is selectable again
    await line.click(click_count=3)
    assert normal(await member.evaluate(SELECTION)) == normal(SENTENCE)

    # A word that is nowhere: said so, no mark left over.
    await member.fill("#find-text", "دادنامه")
    await member.press("#find-text", "Enter")
    await expect(member.locator("#find-status")).to_have_text("در این سند یافت نشد.")
    assert await member.locator("#text-layer .highlight").count() == 0

    await no_serious_violations(member, "member")

    # A party, admitted, reads the same page: the same scan.
    party = await open_page(browser, live_server, people["worker"], otp)
    await enter_room(party, live_server, room)
    await no_serious_violations(party, "party in the lobby")
    await member.close()


FOCUSED = """() => {
  const n = document.activeElement;
  const style = getComputedStyle(n);
  if (n === document.body) return { body: true };  // Tab went past the page's last control
  return { id: n.id, text: n.textContent.trim(), href: n.getAttribute("href") || "",
           outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 };
}"""


async def tab_to(page: Any, wanted: Any, *, limit: int = 80) -> None:
    """Press Tab until the focused element is the one ``wanted(focused)`` picks; each stop on
    the way has a visible focus ring (an outline of at least 2 px)."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(FOCUSED)
        if focused.get("body"):
            continue
        assert focused["outline"], f"no visible focus on {focused}"
        if wanted(focused):
            return
    raise AssertionError(f"Tab never reached the control on {page.url}")


# One backend: the page's own work, in the browser.
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_the_room_works_by_keyboard_alone(
    browser: Any,
    live_server: LiveServer,
    people: dict[str, Person],
    otp: OtpSource,
    db: Any,
    settings: Settings,
) -> None:
    require_or_skip(
        AXE.is_file(),
        "axe-core is not installed (bash scripts/vendor.sh)",
        env="HEYAT_REQUIRE_BROWSER",
    )
    room = await make_room(db, settings)
    secretary = await open_page(browser, live_server, people["secretary"], otp)
    await enter_room(secretary, live_server, room)
    party = await open_page(browser, live_server, people["worker"], otp)

    # Joining: from the hearing's page, Tab to the room's link and Enter.
    await party.goto(f"{live_server.url}/hearings/{room.hearing_id}")
    await tab_to(party, lambda f: f["href"].endswith(f"/hearings/{room.hearing_id}/room"))
    await party.keyboard.press("Enter")
    await party.wait_for_selector("#room[data-state=connected]")
    await party.wait_for_selector("#lobby-wait", state="visible")

    # The secretary admits them by keyboard.
    await tab_to(secretary, lambda f: f["text"] == "پذیرش")
    await secretary.keyboard.press("Enter")
    await party.wait_for_selector("#lobby-wait", state="hidden")
    # The list of people is drawn again: the focus stays in the party's row, not lost.
    await expect(secretary.locator("#people button", has_text="پذیرش")).to_have_count(0)
    await expect(secretary.locator("#people button:focus")).to_have_count(1)
    await no_serious_violations(party, "admitted party")

    # The presenter (the secretary) shows a document; the party follows it.
    await secretary.focus("#doc-select")
    await secretary.select_option("#doc-select", str(room.public_doc))
    await party.wait_for_selector(f'#page-frame[data-rendered="{room.public_doc}:1"]')

    # The secretary opens the hearing of the parties by keyboard (a party raises a hand only
    # then): the phase list's first choice, and the button after it.
    await tab_to(secretary, lambda f: f["id"] == "phase-go")
    await secretary.keyboard.press("Enter")
    await expect(party.locator("#phase")).to_have_text("رسیدگی و استماع طرفین")

    # Raise the hand: Tab to it, Enter; the secretary sees it. Lower it with the shortcut.
    await tab_to(party, lambda f: f["id"] == "hand")
    await party.keyboard.press("Enter")
    await expect(party.locator("#hand")).to_have_text("پایین آوردن دست")
    await expect(secretary.locator("#people")).to_contain_text("✋")
    await party.keyboard.press("Alt+Shift+KeyH")
    await expect(party.locator("#hand")).to_have_text("بالا بردن دست")
    await expect(secretary.locator("#people")).not_to_contain_text("✋")

    # Leave the presenter (Space on the checkbox): their page turn is not followed but told.
    await tab_to(party, lambda f: f["id"] == "follow")
    await party.keyboard.press("Space")
    assert not await party.is_checked("#follow")
    await secretary.click("#page-next")
    await secretary.wait_for_selector(f'#page-frame[data-rendered="{room.public_doc}:2"]')
    await expect(party.locator("#presenter-info")).not_to_be_empty()
    assert await party.get_attribute("#page-frame", "data-rendered") == f"{room.public_doc}:1"
    # Follow again with the shortcut: the presenter's page.
    await party.keyboard.press("Alt+Shift+KeyF")
    await party.wait_for_selector(f'#page-frame[data-rendered="{room.public_doc}:2"]')
    assert await party.is_checked("#follow")
    # The search box by shortcut.
    await party.keyboard.press("Alt+Shift+KeyS")
    assert (await party.evaluate(FOCUSED))["id"] == "find-text"
    await no_serious_violations(party, "party reading")
    await no_serious_violations(secretary, "secretary")
