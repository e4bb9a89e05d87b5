"""The whole journey in Chromium, as the people of a labour office would walk it:

a clerk files for a worker at the counter → the secretary accepts, adds a document and
schedules → three members and both parties join the room → the presenter turns a page and
everyone sees it → deliberation (the parties are sent out) → votes with oathtool codes →
approvals with codes → the ruling is signed and issued → the worker downloads it →
/verify says authentic → the worker objects before the deadline and the appeal case opens.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from persiantools.jdatetime import JalaliDate
from playwright.async_api import expect
from sqlalchemy import select

from hearing_server import clock
from hearing_server.accounts.models import User
from hearing_server.boards.models import Board
from hearing_server.cases.models import Case, CaseStatus, FiledVia
from hearing_server.issuance.models import Notification, Ruling, RulingState
from hearing_server.law.holidays import day_off
from hearing_server.law.rules import BoardType
from hearing_server.scheduling.models import Hearing, Holiday
from hearing_server.voting.models import Ballot
from rulings.persian import to_tehran
from tests.conftest import (
    ARTIFACTS,
    EVENTUALLY_SECONDS,
    LiveServer,
    OtpSource,
    Person,
    browser_login,
)

FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


async def _signed_in(browser: Any, live: LiveServer, who: Person, otp: OtpSource) -> Any:
    context = await browser.new_context(
        viewport={"width": 1100, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(EVENTUALLY_SECONDS * 1000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.console_lines = console
    await browser_login(page, live.url, who, otp)
    return page


async def _free_working_day(db: Any) -> str:
    """A Jalali date two or more days ahead: not Friday, not a holiday, no hearing that day."""
    async with db.transaction(write=False) as session:
        holidays = set(await session.scalars(select(Holiday.day)))
        booked = {to_tehran(h).date() for h in await session.scalars(select(Hearing.starts_at))}
    day = to_tehran(clock.utcnow()).date() + timedelta(days=2)
    # Friday, the public calendar (law.holidays) and the office's table are days off.
    while day_off(day) is not None or day in holidays or day in booked:
        day += timedelta(days=1)
    return JalaliDate(day).strftime("%Y/%m/%d")


async def _shows(page: Any, selector: str) -> None:
    """Wait for ``selector`` on a room page; if it never shows, say what the page shows."""
    try:
        await page.wait_for_selector(selector)
    except Exception as exc:
        room = {
            name: await page.get_attribute(target, name)
            for target, name in (
                ("#room", "data-state"),
                ("#page-frame", "data-page"),
                ("#page-frame", "data-rendered"),
            )
        }
        problem = await page.locator("#problem").inner_text()
        raise AssertionError(
            f"{selector} never showed: {room} problem={problem!r} "
            f"errors={page.js_errors} console={page.console_lines[-20:]}"
        ) from exc


async def _connected(page: Any) -> None:
    await _shows(page, "#room[data-state=connected]")


def _pdf(pages: int) -> bytes:
    from weasyprint import HTML

    from rulings.render import RestrictedURLFetcher, base_url

    body = "".join(
        f'<section style="page-break-after: always"><h1>فیش حقوقی ماه {n}</h1>'
        f"<p>مبلغ پرداخت‌نشده: چهل و پنج میلیون ریال</p></section>"
        for n in range(1, pages + 1)
    )
    html = (
        '<html lang="fa" dir="rtl"><head><style>@font-face{font-family:V;'
        'src:url("static/vendor/vazirmatn/fonts/Vazirmatn-Regular.ttf")}'
        f"body{{font-family:V;font-size:26px}}</style></head><body>{body}</body></html>"
    )
    return bytes(
        HTML(string=html, base_url=base_url(), url_fetcher=RestrictedURLFetcher()).write_pdf()
    )


async def test_from_counter_to_appeal_in_chromium(
    browser: Any, live_server: LiveServer, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    live = live_server
    worker, employer = people["worker"], people["employer"]
    members = [people["member.gov1"], people["member.wrk1"], people["member.emp1"]]
    ARTIFACTS.mkdir(exist_ok=True)

    # 1. The clerk files for the worker standing at the counter, typing as people type.
    clerk = await _signed_in(browser, live, people["clerk"], otp)
    async with db.transaction(write=False) as session:
        worker_user = await session.get(User, worker.id)
        employer_user = await session.get(User, employer.id)
        diagnosis = await session.scalar(
            select(Board).where(Board.type == BoardType.DIAGNOSIS).order_by(Board.id)
        )
    assert worker_user and employer_user and diagnosis
    nid = worker_user.national_id or ""
    await clerk.goto(f"{live.url}/cases/new-for-worker")
    await clerk.fill("#f-claimant_name", worker.full_name)
    await clerk.fill(
        "#f-claimant_national_id", f"{nid[:3]}-{nid[3:9]}-{nid[9]}".translate(FA_DIGITS)
    )
    await clerk.fill("#f-claimant_mobile", "۰۹۱۲ ۱۰۰ ۰۰۰۳")
    await clerk.fill("#f-employer_name", employer.full_name)
    await clerk.fill("#f-workshop_name", "شرکت صنایع نمونه")
    await clerk.fill("#f-workshop_address", "تهران، خیابان آزادی، پلاک ۱۰")
    await clerk.fill("#f-employer_national_id", employer_user.national_id or "")
    await clerk.fill("#f-employment_start", "۱۴۰۰/۰۱/۱۵")
    await clerk.fill("#f-last_monthly_wage", "۱۵۰٬۰۰۰٬۰۰۰")
    if await clerk.locator("#f-board_id").count():
        await clerk.select_option("#f-board_id", str(diagnosis.id))
    for kind, amount in (("unpaid_wages", "۴۵۰٬۰۰۰٬۰۰۰"), ("severance", "120000000")):
        await clerk.check(f"[id='f-claims.{kind}']")
        await clerk.fill(f"[id='f-claims.{kind}.amount']", amount)
    await clerk.click("button[name=action][value=file]")
    await clerk.wait_for_url(re.compile(r"/cases/\d+/receipt"))
    case_id = int(re.search(r"/cases/(\d+)/receipt", clerk.url).group(1))  # type: ignore[union-attr]
    async with db.transaction(write=False) as session:
        case = await session.get(Case, case_id)
    assert case is not None and case.status == CaseStatus.FILED and case.filed_via == FiledVia.CLERK
    assert case.number and case.number.translate(FA_DIGITS) in await clerk.inner_text("main")
    await clerk.screenshot(path=str(ARTIFACTS / "journey-1-receipt.png"), full_page=True)

    # 2. The secretary finds it in the inbox, accepts it, adds a document, schedules it.
    secretary = await _signed_in(browser, live, people["secretary"], otp)
    await secretary.goto(f"{live.url}/cases/inbox")
    assert case.number.translate(FA_DIGITS) in await secretary.inner_text("main")
    await secretary.goto(f"{live.url}/cases/{case_id}")
    await secretary.click("text=پذیرش شکایت")
    await secretary.wait_for_load_state("networkidle")
    await secretary.set_input_files(
        "#f-file", {"name": "payslips.pdf", "mimeType": "application/pdf", "buffer": _pdf(3)}
    )
    await secretary.fill("#f-title", "فیش‌های حقوقی")
    await secretary.select_option("#f-kind", "payslip")
    await secretary.click("form.upload button[type=submit]")
    await secretary.wait_for_load_state("networkidle")
    assert "فیش‌های حقوقی" in await secretary.inner_text("main")

    day = await _free_working_day(db)
    await secretary.goto(f"{live.url}/boards/{diagnosis.id}/hearings/new")
    await secretary.fill("#f-date", day)
    await secretary.fill("#f-time", "09:00")
    await secretary.fill("#f-duration", "60")
    await secretary.check(f"input[name=case][value='{case_id}']")
    await secretary.click("button[type=submit].primary")
    await secretary.wait_for_url(re.compile(r"/hearings/\d+\?"))
    hearing_id = int(re.search(r"/hearings/(\d+)", secretary.url).group(1))  # type: ignore[union-attr]
    # A hearing happens at its time (#12 item 2): its day comes (the sessions idled out).
    async with db.transaction(write=False) as session:
        starts = await session.scalar(select(Hearing.starts_at).where(Hearing.id == hearing_id))
    assert starts is not None
    clock.set_frozen(starts)
    secretary = await _signed_in(browser, live, people["secretary"], otp)

    # 3. Everyone joins the room from home; the parties wait in the lobby until admitted.
    room_url = f"{live.url}/hearings/{hearing_id}/room"
    await secretary.goto(room_url)
    await _connected(secretary)
    member_pages = []
    for member in members:
        page = await _signed_in(browser, live, member, otp)
        await page.goto(room_url)
        await _connected(page)
        member_pages.append(page)
    party_pages = []
    for party in (worker, employer):
        page = await _signed_in(browser, live, party, otp)
        await page.goto(room_url)
        await _connected(page)
        await page.wait_for_selector("#lobby-wait", state="visible")
        party_pages.append(page)

    await secretary.select_option("#phase-next", "hearing")
    await secretary.click("#phase-go")
    for page in member_pages:
        # Selectors, not wait_for_function: its string predicates need eval, which the CSP forbids.
        await expect(page.locator("#phase")).to_have_text("رسیدگی و استماع طرفین")
    for party in (worker, employer):
        await (
            secretary.locator("#people li", has_text=party.full_name)
            .get_by_role("button", name="پذیرش")
            .click()
        )
    for page in party_pages:
        await page.wait_for_selector("#lobby-wait", state="hidden")

    # 4. The presenter opens the payslips and turns to page 2: members and parties follow.
    options = await secretary.locator("#doc-select option").all_inner_texts()
    assert any("فیش‌های حقوقی" in o for o in options)
    await secretary.select_option(
        "#doc-select", label=next(o for o in options if "فیش‌های حقوقی" in o)
    )
    await secretary.click("#page-next")
    for page in [*member_pages, *party_pages]:
        await _shows(page, '#page-frame[data-page="2"][data-rendered$=":2"]')
    await member_pages[1].screenshot(
        path=str(ARTIFACTS / "journey-2-room-member.png"), full_page=True
    )

    # 5. End of debate: deliberation sends the parties out, then voting.
    await secretary.select_option("#phase-next", "deliberation")
    await secretary.click("#phase-go")
    for page in party_pages:
        await page.wait_for_selector("#room:not([data-state='connected'])", state="attached")
    await secretary.select_option("#phase-next", "voting")
    await secretary.click("#phase-go")
    await expect(member_pages[0].locator("#phase")).to_have_text("رأی‌گیری")

    # 6. The secretary opens a vote per claim; each member votes with a fresh oathtool code.
    vote_url = f"{live.url}/hearings/{hearing_id}/vote"
    desk = await secretary.context.new_page()
    await desk.goto(vote_url)
    for _ in range(2):
        await desk.locator("form.open-motion").first.locator("button[type=submit]").click()
        await desk.wait_for_load_state("networkidle")
    assert await desk.locator("form.open-motion").count() == 0
    choices = {"member.gov1": "for", "member.wrk1": "for", "member.emp1": "against"}
    for member, room_page in zip(members, member_pages, strict=True):
        ballot_page = (
            await room_page.context.new_page()
        )  # the room stays open: the member is present
        await ballot_page.goto(vote_url)
        for _ in range(2):
            form = ballot_page.locator("form[action*='/vote/']").first
            await form.locator(f"input[name=choice][value={choices[member.username]}]").check()
            if choices[member.username] == "against":
                await form.locator("textarea[name=opinion]").fill(
                    "کارفرما مدارک پرداخت را ارائه کرده است."
                )
            await form.locator("input[name=otp]").fill(otp.code(member.totp_secret))
            await form.locator("button[type=submit]").click()
            await ballot_page.wait_for_load_state("networkidle")
            assert "receipt" in await ballot_page.inner_html("main")
        await ballot_page.close()
    async with db.transaction(write=False) as session:
        decided = await session.get(Case, case_id, populate_existing=True)
        ballots = list(
            await session.scalars(
                select(Ballot).where(Ballot.member_id.in_([m.id for m in members]))
            )
        )
    assert decided is not None and decided.status == CaseStatus.DECIDED
    assert len([b for b in ballots if b.choice == "against"]) >= 2

    # 7. The secretary drafts the ruling; members approve it with codes; it is signed and issued.
    await desk.goto(f"{live.url}/rulings")
    await desk.click(f"button[data-case='{case.number}']")
    await desk.wait_for_url(re.compile(r"/rulings/\d+"))
    ruling_id = int(re.search(r"/rulings/(\d+)", desk.url).group(1))  # type: ignore[union-attr]
    for member, room_page in zip(members, member_pages, strict=True):
        approval = await room_page.context.new_page()
        await approval.goto(f"{live.url}/rulings/{ruling_id}")
        await approval.fill("#approve-form #f-otp", otp.code(member.totp_secret))
        await approval.click("#approve")
        await approval.wait_for_load_state("networkidle")
        assert await approval.locator("#approve-form").count() == 0, await approval.inner_text(
            "main"
        )
        await approval.close()
    await desk.goto(f"{live.url}/rulings/{ruling_id}")
    await desk.click("#issue-ruling")
    await desk.wait_for_selector(
        "#ruling[data-state='issued']", state="attached", timeout=EVENTUALLY_SECONDS * 1000
    )

    # 8. The worker downloads the signed ruling: that is the notification, and the clock starts.
    home = await _signed_in(browser, live, worker, otp)
    await home.goto(f"{live.url}/rulings/{ruling_id}")
    async with home.expect_download() as info:
        await home.click("#download-ruling")
    download = await info.value
    pdf_path = ARTIFACTS / "journey-ruling.pdf"
    await download.save_as(str(pdf_path))
    assert pdf_path.read_bytes().startswith(b"%PDF")
    async with db.transaction(write=False) as session:
        ruling = await session.get(Ruling, ruling_id)
        notified = await session.scalar(
            select(Notification).where(Notification.ruling_id == ruling_id)
        )
    assert ruling is not None and ruling.state == RulingState.ISSUED and notified is not None

    # 9. Anyone checks it: the public /verify page says authentic.
    public = await browser.new_context()
    check = await public.new_page()
    await check.goto(f"{live.url}/verify")
    await check.set_input_files("#f-file", str(pdf_path))
    await check.click("form button[type=submit].primary")
    await check.wait_for_selector("#verify-result")
    assert await check.get_attribute("#verify-result", "data-authentic") == "true"
    await check.screenshot(path=str(ARTIFACTS / "journey-3-verified.png"), full_page=True)

    # 10. Within the fifteen days the worker objects: the appeal case opens at the settlement board.
    await home.goto(f"{live.url}/rulings/{ruling_id}")
    await home.fill("#objection-form #f-text", "رأی صادره با مدارک پرونده مطابقت ندارد.")
    await home.click("#objection-form button[type=submit]")
    await home.wait_for_load_state("networkidle")
    async with db.transaction(write=False) as session:
        appeal = await session.scalar(select(Case).where(Case.appeal_of_id == case_id))
        settlement = await session.scalar(
            select(Board).where(Board.type == BoardType.SETTLEMENT).order_by(Board.id)
        )
    assert appeal is not None and settlement is not None
    assert appeal.board_id == settlement.id and appeal.status == CaseStatus.FILED

    for page in [clerk, secretary, *member_pages, home]:
        assert page.js_errors == [], page.js_errors
