"""A worker signs up in Chromium from the login page (Persian digits, the SMS code from the
outbox) and files a complaint straight away; the page's script (no inline code: the CSP)
shows a company's fields only for a company."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from hearing_server.accounts.models import User
from hearing_server.cases.models import Case, CaseStatus, FiledVia
from hearing_server.notifications.models import OutboxMessage
from hearing_server.text import make_national_id
from tests.conftest import ARTIFACTS, EVENTUALLY_SECONDS, LiveServer, eventually, wait_until

FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
NATIONAL_ID = make_national_id("007766554")
MOBILE = "09361234567"


async def test_a_worker_signs_up_from_the_login_page_and_files_a_complaint(
    browser: Any, live_server: LiveServer
) -> None:
    db = live_server.app.runtime.db
    context = await browser.new_context(viewport={"width": 1000, "height": 900})
    context.set_default_timeout(EVENTUALLY_SECONDS * 1000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    missing: list[str] = []
    page.on(
        "response",
        lambda r: missing.append(r.url) if r.status == 404 and "favicon" not in r.url else None,
    )

    await page.goto(f"{live_server.url}/login")
    await page.click("text=ساخت حساب کاربری")
    await page.wait_for_url("**/signup")
    # The script hides the company's fields until "company" is chosen.
    await wait_until(page, "document.querySelector('[data-for-kind=company]').hidden")
    await page.check("input[name=kind][value=company]")
    await wait_until(page, "!document.querySelector('[data-for-kind=company]').hidden")
    assert await page.inner_text("label[for=f-full_name]") == "نام شرکت"
    await page.check("input[name=kind][value=worker]")
    await wait_until(page, "document.querySelector('[data-for-kind=company]').hidden")

    await page.fill("#f-full_name", "مریم سلطانی")
    await page.fill("#f-national_id", NATIONAL_ID.translate(FA_DIGITS))
    await page.fill("#f-mobile", "۰۹۳۶ ۱۲۳ ۴۵۶۷")
    await page.click("button[type=submit].primary")
    await page.wait_for_url("**/signup/verify**")

    async def code_sent() -> str | None:
        async with db.transaction(write=False) as session:
            bodies = list(
                await session.scalars(
                    select(OutboxMessage.body).where(OutboxMessage.address == MOBILE)
                )
            )
        assert len(bodies) <= 1, bodies
        found = re.search(r"#(\d{6})$", bodies[0]) if bodies else None
        return found.group(1) if found else None

    code = await eventually(code_sent)
    await page.fill("#f-code", code.translate(FA_DIGITS))
    await page.fill("#f-password", "mariam-kargar-1405")
    await page.fill("#f-password_again", "mariam-kargar-1405")
    await page.click("form button[type=submit].primary")
    await page.wait_for_url("**/cases/new")

    await page.fill("#f-employer_name", "کارگاه نساجی البرز")
    await page.fill("#f-workshop_address", "کرج، خیابان شهید بهشتی")
    await page.fill("#f-employer_registration_number", "۴۴۵۵۱")
    await page.fill("#f-employment_start", "۱۴۰۱/۰۲/۰۱")
    await page.fill("#f-last_monthly_wage", "۱۵۰٬۰۰۰٬۰۰۰")
    await page.check("[id='f-claims.unpaid_wages']")
    await page.fill("[id='f-claims.unpaid_wages.amount']", "۳۰۰٬۰۰۰٬۰۰۰")
    await page.click("button[name=action][value=file]")
    await page.wait_for_url(re.compile(r"/cases/\d+/receipt"))
    await page.screenshot(path=str(ARTIFACTS / "signup-receipt.png"), full_page=True)

    async with db.transaction(write=False) as session:
        user = await session.scalar(select(User).where(User.username == NATIONAL_ID))
        assert user is not None and user.mobile == MOBILE
        case = await session.scalar(select(Case).where(Case.created_by_id == user.id))
    assert case is not None and case.status == CaseStatus.FILED
    assert case.filed_via == FiledVia.SELF and case.number
    assert case.number.translate(FA_DIGITS) in await page.inner_text("main")
    assert errors == [] and missing == []
    await context.close()
