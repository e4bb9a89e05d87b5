"""A worker registered at the counter gets in on their own, in Chromium, with every SMS
really leaving through the Kavenegar API (the local fake on a real port): the activation
link from the SMS, the code proving the mobile, a password; later a sign-in with a code
by SMS, an uploaded document, and the ruling downloaded once it is issued."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from hearing_server.cases.models import Case, ClaimKind, Document
from hearing_server.config import Settings
from hearing_server.issuance.models import Notification
from hearing_server.text import make_national_id
from hearing_server.voting.models import MotionKind
from tests.conftest import (
    ARTIFACTS,
    EVENTUALLY_SECONDS,
    LiveServer,
    OtpSource,
    Person,
    eventually,
    kavenegar_live_server,
)
from tests.issuance.conftest import MotionPlan, make_decided_case
from tests.issuance.test_issuance_documents import issue_directly
from tests.notifications.fake_kavenegar import FakeKavenegar

WORKER_NID = make_national_id("004455667")
WORKER_MOBILE = "09351112233"
PASSWORD = "zahra-kargar-1405"
FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
CODE = re.compile(r"#(\d{6})$")


@dataclasses.dataclass
class Sms:
    live: LiveServer
    fake: FakeKavenegar

    def to_worker(self, word: str) -> list[str]:
        return [
            s.form["message"]
            for s in self.fake.accepted()
            if s.form.get("receptor") == WORKER_MOBILE and word in s.form["message"]
        ]

    async def next_to_worker(self, word: str, seen: int) -> str:
        """The message containing ``word`` that arrives after ``seen`` such messages."""

        async def arrived() -> list[str]:
            got = self.to_worker(word)
            return got if len(got) > seen else []

        return (await eventually(arrived))[seen]


@pytest.fixture
async def sms(settings: Settings) -> AsyncIterator[Sms]:
    """A live server whose SMS leave through the Kavenegar API to the local fake."""
    async with kavenegar_live_server(settings) as (live, fake):
        yield Sms(live, fake)


async def _clerk_files(live: LiveServer, clerk: Person, otp: OtpSource) -> int:
    async with httpx.AsyncClient(base_url=live.url, timeout=EVENTUALLY_SECONDS) as http:
        login = await http.post(
            "/api/v1/auth/login",
            json={
                "username": clerk.username,
                "password": clerk.password,
                "otp": otp.code(clerk.totp_secret),
            },
        )
        assert login.status_code == 200, login.text
        filed = await http.post(
            "/api/v1/cases",
            json={
                "claimant_name": "زهرا احمدی",
                "claimant_national_id": WORKER_NID,
                "claimant_mobile": WORKER_MOBILE,
                "employer_name": "کارگاه پوشاک مهر",
                "workshop_address": "تهران، خیابان ری",
                "employer_registration_number": "33121",
                "employment_start": "1401/03/01",
                "last_monthly_wage": 120_000_000,
                "claims": [{"kind": "unpaid_wages", "amount": 240_000_000}],
                "submit": True,
            },
            headers={"X-CSRF-Token": login.json()["csrf_token"]},
        )
        assert filed.status_code == 201, filed.text
        return int(filed.json()["id"])


def _pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# One backend: each step's rules run on both backends in tests/accounts.
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_counter_registered_worker_activates_signs_in_by_sms_uploads_and_downloads(
    browser: Any, sms: Sms, people: dict[str, Person], otp: OtpSource
) -> None:
    live, db = sms.live, sms.live.app.runtime.db
    case_id = await _clerk_files(live, people["clerk"], otp)

    # 1. The activation SMS carries the link; the worker opens it on their phone.
    text = await sms.next_to_worker("/activate?code=", 0)
    link = re.search(r"(http://\S+/activate\?code=[A-Z0-9-]+)", text)
    assert link, text
    context = await browser.new_context(
        locale="fa-IR", viewport={"width": 390, "height": 844}, accept_downloads=True
    )
    context.set_default_timeout(EVENTUALLY_SECONDS * 1000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(link.group(1))
    before = len(sms.to_worker("#"))
    await page.fill("#f-national_id", WORKER_NID.translate(FA_DIGITS))
    await page.click("form button[type=submit].primary")
    code_text = await sms.next_to_worker("#", before)
    found = CODE.search(code_text)
    assert found, code_text
    await page.fill("#f-sms_code", found.group(1).translate(FA_DIGITS))
    await page.fill("#f-password", PASSWORD)
    await page.fill("#f-password2", PASSWORD)
    await page.click("form button[type=submit].primary")
    await page.wait_for_url(lambda url: "/activate" not in url)
    await context.close()

    # 2. Another day, another browser: the password, then a code by SMS.
    context = await browser.new_context(
        locale="fa-IR", viewport={"width": 390, "height": 844}, accept_downloads=True
    )
    context.set_default_timeout(EVENTUALLY_SECONDS * 1000)
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    before = len(sms.to_worker("#"))
    await page.goto(f"{live.url}/login")
    await page.fill("#f-username", WORKER_NID.translate(FA_DIGITS))
    await page.fill("#f-password", PASSWORD)
    await page.click("button[type=submit].primary")
    await page.wait_for_url("**/login/otp**")
    login_text = await sms.next_to_worker("#", before)
    assert "ورود" in login_text
    found = CODE.search(login_text)
    assert found, login_text
    await page.fill("#f-code", found.group(1))
    await page.click("form button[type=submit].primary")
    await page.wait_for_url(lambda url: "/login" not in url)

    # 3. The worker adds evidence to their own case.
    await page.goto(f"{live.url}/cases/{case_id}")
    await page.set_input_files(
        "#f-file", {"name": "payslip.pdf", "mimeType": "application/pdf", "buffer": _pdf()}
    )
    await page.fill("#f-title", "فیش حقوقی خرداد")
    if await page.locator("#f-kind").count():
        await page.select_option("#f-kind", "payslip")
    await page.click("form.upload button[type=submit]")
    await page.wait_for_load_state("networkidle")
    assert "فیش حقوقی خرداد" in await page.inner_text("main")
    async with db.transaction(write=False) as session:
        titles = list(
            await session.scalars(select(Document.title).where(Document.case_id == case_id))
        )
    assert "فیش حقوقی خرداد" in titles

    # 4. The board decides; the ruling is issued; the worker downloads it from their case.
    decided = await make_decided_case(
        db,
        case_id=case_id,
        claims=[(ClaimKind.UNPAID_WAGES, 240_000_000)],
        plans=[MotionPlan(MotionKind.ACCEPT, "passed")],
    )
    ruling = await issue_directly(db, live.settings, decided)
    await page.goto(f"{live.url}/rulings/{ruling.id}")
    async with page.expect_download() as info:
        await page.click("#download-ruling")
    download = await info.value
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "people-journey-ruling.pdf"
    await download.save_as(str(path))
    text_of_ruling = "".join(p.extract_text() or "" for p in PdfReader(str(path)).pages)
    async with db.transaction(write=False) as session:
        case = await session.get(Case, case_id)
        notified = await session.scalar(
            select(Notification).where(Notification.ruling_id == ruling.id)
        )
    assert case is not None and notified is not None  # the download was the notification
    assert path.read_bytes().startswith(b"%PDF") and len(text_of_ruling) > 0

    # 5. Months later the password is forgotten: a reset by SMS ends every session.
    other = await browser.new_context(locale="fa-IR", viewport={"width": 390, "height": 844})
    other.set_default_timeout(EVENTUALLY_SECONDS * 1000)
    forgot = await other.new_page()
    forgot.on("pageerror", lambda exc: errors.append(str(exc)))
    await forgot.goto(f"{live.url}/login")
    await forgot.click("a[href='/reset']")
    before = len(sms.to_worker("#"))
    await forgot.fill("#f-identifier", WORKER_NID.translate(FA_DIGITS))
    await forgot.click("button[type=submit].primary")
    await forgot.wait_for_url("**/reset/code**")
    reset_text = await sms.next_to_worker("#", before)
    found = CODE.search(reset_text)
    assert found, reset_text
    await forgot.fill("#f-code", found.group(1))
    await forgot.fill("#f-password", "zahra-new-pass-1406")
    await forgot.fill("#f-password_again", "zahra-new-pass-1406")
    await forgot.click("button[type=submit].primary")
    await forgot.wait_for_url("**/reset/done**")
    assert len(sms.to_worker("#")) == before + 1  # one message for the one request
    await page.goto(f"{live.url}/cases/{case_id}")  # the old session has ended
    assert "/login" in page.url
    assert errors == []
    await other.close()
    await context.close()
