"""The room in Chromium: two members in two browsers, one turns the page, the other sees it.
Screenshots go to test-artifacts/ (look at them: the Persian PDF text must be joined)."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.conftest import ARTIFACTS, LiveServer, OtpSource, Person, browser_login
from tests.rooms.conftest import Room


async def open_room(browser: Any, live: LiveServer, who: Person, otp: OtpSource, room: Room) -> Any:
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    await browser_login(page, live.url, who, otp)
    await page.goto(f"{live.url}/hearings/{room.hearing_id}/room")
    await page.wait_for_selector("#room[data-state=connected]")
    await page.wait_for_selector("#people li")
    return page


async def test_follower_sees_the_presenters_page_in_persian_and_english(
    browser: Any,
    live_server: LiveServer,
    people: dict[str, Person],
    otp: OtpSource,
    room: Room,
    db: Any,
) -> None:
    from hearing_server.accounts.services import do_set_locale

    async with db.transaction() as session:  # B reads the room in English
        await do_set_locale(session, user_id=people["member.wrk1"].id, locale="en")
    chair = await open_room(browser, live_server, people["member.gov1"], otp, room)
    member = await open_room(browser, live_server, people["member.wrk1"], otp, room)
    assert await chair.get_attribute("html", "dir") == "rtl"
    assert await member.get_attribute("html", "dir") == "ltr"
    assert await chair.inner_text("#phase") == "انتظار"
    assert await member.inner_text("#phase") == "Lobby"

    unread = "document.querySelectorAll('#unread li').length"
    before = await chair.evaluate(unread)
    assert before >= 2  # nobody has opened the file yet: the chair and the member among them
    await chair.select_option("#doc-select", str(room.public_doc))
    await chair.wait_for_selector(f'#page-frame[data-rendered="{room.public_doc}:1"]')
    await chair.click("#page-next")
    await chair.click("#page-next")
    await chair.wait_for_selector(f'#page-frame[data-rendered="{room.public_doc}:3"]')
    await member.wait_for_selector(f'#page-frame[data-rendered="{room.public_doc}:3"]')
    assert await member.inner_text("#page-label") == "Page 3 of 4"
    # Both opened the file: the chair's list says so at once (not after a reading period).
    # expect, not wait_for_function: a string predicate needs eval, which the CSP forbids.
    await expect(chair.locator("#unread li")).to_have_count(before - 2, timeout=10_000)
    assert await chair.inner_text("#page-label") == "صفحهٔ ۳ از ۴"
    ARTIFACTS.mkdir(exist_ok=True)
    await member.locator("#page-frame").screenshot(path=str(ARTIFACTS / "room-follower-page3.png"))
    await chair.screenshot(path=str(ARTIFACTS / "room-presenter-fa.png"), full_page=True)

    # The member reads alone, then follows again.
    await member.click("#page-prev")
    await member.wait_for_selector(f'#page-frame[data-rendered="{room.public_doc}:2"]')
    assert not await member.is_checked("#follow")
    await chair.click("#page-next")
    await chair.wait_for_selector(f'#page-frame[data-rendered="{room.public_doc}:4"]')
    assert "page 4" in (await member.inner_text("#presenter-info"))
    await member.check("#follow")
    await member.wait_for_selector(f'#page-frame[data-rendered="{room.public_doc}:4"]')

    # Chat text is text, never markup.
    attack = '<img src=x onerror="window.__xss=1">سلام'
    await chair.fill("#chat-body", attack)
    await chair.click("#chat-form button[type=submit]")
    await member.wait_for_selector("#chat li .chat-body")
    assert await member.inner_text("#chat li .chat-body") == attack
    assert await member.evaluate("window.__xss") is None
    assert await member.locator("#chat img").count() == 0
    assert chair.errors == [] and member.errors == []
    await chair.context.close()
    await member.context.close()
