"""A party without an authenticator signs in in a real browser with the code sent by SMS;
the code page (and its WebOTP script) keeps to the site's CSP."""

from __future__ import annotations

from typing import Any

from hearing_server.accounts.models import Role
from hearing_server.accounts.services import do_create_user
from tests.conftest import LiveServer, browser_sms_login

PASSWORD = "a-long-Password-1"
MOBILE = "09121237777"


async def test_worker_signs_in_with_an_sms_code_in_chromium(
    browser: Any, live_server: LiveServer
) -> None:
    db = live_server.app.runtime.db
    async with db.transaction() as session:
        await do_create_user(
            session,
            username="worker.sms",
            full_name="کارگر بی‌برنامه",
            password=PASSWORD,
            role=Role.PARTY,
            mobile=MOBILE,
        )
    context = await browser.new_context(locale="fa-IR", viewport={"width": 390, "height": 844})
    page = await context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    await page.goto(f"{live_server.url}/login")
    assert await page.locator("a[href='/reset']").count() == 1
    await browser_sms_login(page, live_server.url, "worker.sms", PASSWORD, db, MOBILE)
    assert "/login" not in page.url
    await page.goto(f"{live_server.url}/account")
    assert "کارگر بی‌برنامه" in await page.inner_text("main")
    assert await page.locator("a[href='/account/authenticator']").count() == 1
    assert violations == []
    await context.close()
