"""A demo member signs in in a real browser: Persian login page, password, oathtool code."""

from __future__ import annotations

from typing import Any

from tests.conftest import ARTIFACTS, LiveServer, OtpSource, Person, browser_login


async def test_member_signs_in_in_chromium_in_persian_then_english(
    browser: Any, live_server: LiveServer, people: dict[str, Person], otp: OtpSource
) -> None:
    context = await browser.new_context(locale="fa-IR", viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await page.goto(f"{live_server.url}/login")
    assert await page.get_attribute("html", "dir") == "rtl"
    assert await page.get_attribute("html", "lang") == "fa"
    assert "ورود به سامانهٔ هیأت" in await page.inner_text("h1")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "login-fa.png"))

    await browser_login(page, live_server.url, people["member.gov1"], otp)
    assert page.url.endswith("/account")
    assert "دکتر فاطمه حسینی" in await page.inner_text("main")

    await page.click("button[name=locale][value=en]")
    await page.wait_for_load_state("networkidle")
    assert await page.get_attribute("html", "dir") == "ltr"
    assert "My account" in await page.inner_text("h1")
    await context.close()


async def test_wrong_code_in_browser_shows_error_tied_to_the_field(
    browser: Any, live_server: LiveServer, people: dict[str, Person]
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    member = people["member.wrk1"]
    await page.goto(f"{live_server.url}/login")
    await page.fill("#f-username", member.username)
    await page.fill("#f-password", member.password)
    await page.click("button[type=submit].primary")
    await page.wait_for_url("**/login/otp**")
    await page.fill("#f-otp", "000000")
    await page.click("form button[type=submit].primary")
    error = page.locator("#e-otp")
    assert await error.inner_text() == "کد درست نیست."
    assert await page.get_attribute("#f-otp", "aria-describedby") == "e-otp"
    await context.close()
