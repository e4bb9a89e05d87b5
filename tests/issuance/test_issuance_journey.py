"""The issuance journey through the API: decided case → approvals with codes → issue →
the worker downloads (notification, their own window) → verify → objection → appeal →
the employer's objection joins it."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

from persiantools import digits
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from hearing_server import clock
from hearing_server.audit.services import verify_chain
from hearing_server.cases.models import Case, CaseParty, CaseStatus, CaseTransition, Document
from hearing_server.config import Settings
from hearing_server.issuance.files import stored_path
from hearing_server.issuance.models import Approval, Notification, Ruling, RulingState
from hearing_server.law.deadlines import objection_window
from hearing_server.law.holidays import day_off
from hearing_server.law.rules import BoardType
from rulings.persian import TEHRAN, fa_digits
from rulings.pki import PkiPaths
from tests.conftest import OtpSource, Person
from tests.issuance.conftest import (
    DISSENT,
    dark_pixels,
    draft_and_approve,
    flip_byte,
    login_as,
    make_decided_case,
    pdf_text,
    pyhanko_status,
)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def _verify_upload_page(quart_app: Any, pdf: bytes) -> str:
    """An anonymous visitor uploads the PDF on the public /verify page."""
    visitor = quart_app.test_client()
    token = _csrf(await (await visitor.get("/verify")).get_data(as_text=True))
    page = await visitor.post(
        "/verify",
        form={"csrf_token": token, "code": ""},
        files={
            "file": FileStorage(
                stream=__import__("io").BytesIO(pdf),
                filename="r.pdf",
                content_type="application/pdf",
            )
        },
    )
    assert page.status_code == 200
    return str(await page.get_data(as_text=True))


async def test_diagnosis_ruling_from_approval_to_appeal(
    quart_app: Any,
    db: Any,
    people: dict[str, Person],
    otp: OtpSource,
    settings: Settings,
    pki: PkiPaths,
) -> None:
    decided = await make_decided_case(db)
    secretary, csrf, ruling_id = await draft_and_approve(
        quart_app, people, otp, decided, approvers=["member.gov1"]
    )

    # One approval of three is not a majority: refused, nothing changes.
    early = await secretary.post(
        f"/api/v1/rulings/{ruling_id}/issue", headers={"X-CSRF-Token": csrf}
    )
    assert early.status_code == 409
    assert (await early.get_json())["error"]["code"] == "conflict"
    async with db.transaction(write=False) as session:
        ruling = await session.get(Ruling, ruling_id)
        assert (
            ruling is not None and ruling.state == RulingState.DRAFT and ruling.pdf_sha256 is None
        )

    # The employer's representative refuses — a reason is required, then it is recorded.
    emp, emp_csrf = await login_as(quart_app, people["member.emp1"], otp)
    no_reason = await emp.post(
        f"/api/v1/rulings/{ruling_id}/approvals",
        json={"otp": "123456", "approve": False},
        headers={"X-CSRF-Token": emp_csrf},
    )
    assert no_reason.status_code == 422
    assert (await no_reason.get_json())["error"]["field"] == "reason"
    refused = await emp.post(
        f"/api/v1/rulings/{ruling_id}/approvals",
        json={
            "otp": otp.code(people["member.emp1"].totp_secret),
            "approve": False,
            "reason": "با متن رأی درباره‌ی مزد موافق نیستم.",
        },
        headers={"X-CSRF-Token": emp_csrf},
    )
    assert refused.status_code == 201, await refused.get_json()
    wrk, wrk_csrf = await login_as(quart_app, people["member.wrk1"], otp)
    approved = await wrk.post(
        f"/api/v1/rulings/{ruling_id}/approvals",
        json={"otp": otp.code(people["member.wrk1"].totp_secret)},
        headers={"X-CSRF-Token": wrk_csrf},
    )
    assert approved.status_code == 201

    # A refusal is no signature: the ruling waits until the secretary records why.
    waiting = await secretary.post(
        f"/api/v1/rulings/{ruling_id}/issue", headers={"X-CSRF-Token": csrf}
    )
    assert waiting.status_code == 409
    excused = await secretary.post(
        f"/api/v1/rulings/{ruling_id}/missing-signatures",
        json={"member_id": people["member.emp1"].id, "reason": "از امضای متن خودداری کرد."},
        headers={"X-CSRF-Token": csrf},
    )
    assert excused.status_code == 201, await excused.get_json()

    issued = await secretary.post(
        f"/api/v1/rulings/{ruling_id}/issue", headers={"X-CSRF-Token": csrf}
    )
    body = await issued.get_json()
    assert issued.status_code == 200, body
    assert body["state"] == "issued" and body["objection_days"] == 15
    assert body["objection_deadline"] is None  # the clock starts at notification
    progress = await (await secretary.get(f"/api/v1/rulings/{ruling_id}/progress")).get_json()
    assert progress["step"] == "issued"
    sha = body["pdf_sha256"]
    stored = stored_path(settings.files_dir, sha)
    assert stored.is_file() and hashlib.sha256(stored.read_bytes()).hexdigest() == sha

    async with db.transaction(write=False) as session:
        case = await session.get(Case, decided.case_id)
        assert case is not None and case.status == CaseStatus.RULING_ISSUED
        answers = {
            a.member_id: a.approved
            for a in await session.scalars(select(Approval).where(Approval.ruling_id == ruling_id))
        }
        assert answers == {
            people["member.gov1"].id: True,
            people["member.emp1"].id: False,
            people["member.wrk1"].id: True,
        }

    # The worker downloads: the first download is the notification (ابلاغ).
    worker, worker_csrf = await login_as(quart_app, people["worker"], otp)
    first = await worker.get(f"/api/v1/rulings/{ruling_id}/pdf")
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    pdf = await first.get_data()
    assert hashlib.sha256(pdf).hexdigest() == sha
    downloaded_at = clock.utcnow()
    mine = await (await worker.get(f"/api/v1/rulings/{ruling_id}")).get_json()
    assert datetime.fromisoformat(mine["notified_at"]) == downloaded_at
    window = objection_window(downloaded_at.astimezone(TEHRAN).date(), 15, day_off)
    assert datetime.fromisoformat(mine["my_objection_deadline"]) == window.closes_at
    clock.advance(timedelta(days=1))
    worker, worker_csrf = await login_as(quart_app, people["worker"], otp)  # the session idled out
    again = await worker.get(f"/api/v1/rulings/{ruling_id}/pdf")
    assert again.status_code == 200
    async with db.transaction(write=False) as session:
        notes = list(
            await session.scalars(select(Notification).where(Notification.ruling_id == ruling_id))
        )
        assert len(notes) == 1 and notes[0].notified_at == downloaded_at
        ruling = await session.get(Ruling, ruling_id)
        # The employer is not notified yet: no instant of finality.
        assert ruling is not None and ruling.objection_deadline is None

    # pyHanko's validator on its own: intact, valid and trusted against the installation's CA.
    status = await pyhanko_status(pdf, pki.ca_cert.read_bytes())
    assert status.intact and status.valid and status.trusted

    # What is printed: case number, parties, amounts in Persian digits and words, dissent.
    text = pdf_text(pdf)
    assert fa_digits(decided.case_number) in text
    assert people["worker"].full_name in text
    assert people["employer"].full_name in text
    assert digits.to_word(450_000_000) in text  # accepted wages, in words
    assert digits.to_word(200_000_000) in text  # partly accepted severance
    assert digits.to_word(650_000_000) in text  # the total
    assert "۴۵۰٬۰۰۰٬۰۰۰" in text
    assert DISSENT.replace("\u200c", "") in text
    assert "امضا نشده" in text  # the refusing member's signature is not printed as given
    assert "از امضای متن خودداری کرد" in text  # but the secretary's record of why
    assert dark_pixels(pdf) > 2000

    # Verification: the genuine file is authentic; one flipped byte is not.
    good = await (
        await worker.post("/api/v1/verify", data=pdf, headers={"Content-Type": "application/pdf"})
    ).get_json()
    assert good["authentic"] is True and good["case_number"] == decided.case_number
    bad = await (
        await worker.post(
            "/api/v1/verify", data=flip_byte(pdf), headers={"Content-Type": "application/pdf"}
        )
    ).get_json()
    assert bad["authentic"] is False and bad["problems"]
    genuine_page = await _verify_upload_page(quart_app, pdf)
    assert 'data-authentic="true"' in genuine_page
    flipped_page = await _verify_upload_page(quart_app, flip_byte(pdf))
    assert 'data-authentic="false"' in flipped_page
    assert "اصیل نیست" in flipped_page

    # The worker objects within the window: the appeal case opens at the settlement board.
    objected = await worker.post(
        f"/api/v1/rulings/{ruling_id}/objections",
        json={"text": "مبلغ سنوات کمتر از حق اینجانب است."},
        headers={"X-CSRF-Token": worker_csrf},
    )
    result = await objected.get_json()
    assert objected.status_code == 201, result
    appeal_id = result["appeal_case"]["id"]
    async with db.transaction(write=False) as session:
        appeal = await session.get(Case, appeal_id)
        assert appeal is not None
        assert appeal.appeal_of_id == decided.case_id
        assert appeal.filed_via.value == "appeal" and appeal.status == CaseStatus.FILED
        board = await session.scalar(select(Case.board_id).where(Case.id == appeal_id))
        from tests.factories import board_of

        assert board == (await board_of(session, BoardType.SETTLEMENT)).id
        parties = list(
            await session.scalars(select(CaseParty).where(CaseParty.case_id == appeal_id))
        )
        assert {p.user_id for p in parties} == {people["worker"].id, people["employer"].id}
        docs = list(await session.scalars(select(Document).where(Document.case_id == appeal_id)))
        assert [(d.kind, d.sha256) for d in docs] == [("ruling", sha)]
        original = await session.get(Case, decided.case_id)
        assert original is not None and original.status == CaseStatus.APPEALED
        ruling = await session.get(Ruling, ruling_id)
        assert ruling is not None and ruling.state == RulingState.APPEALED
        moves = [
            t.to_status
            for t in await session.scalars(
                select(CaseTransition)
                .where(CaseTransition.case_id == decided.case_id)
                .order_by(CaseTransition.id)
            )
        ]
        assert moves[-2:] == ["ruling_issued", "appealed"]
        assert (await verify_chain(session)).ok

    # The employer objects within their own window: the same appeal case; once only.
    employer, employer_csrf = await login_as(quart_app, people["employer"], otp)
    second = await employer.post(
        f"/api/v1/rulings/{ruling_id}/objections",
        json={"text": "اعتراض دوم"},
        headers={"X-CSRF-Token": employer_csrf},
    )
    assert second.status_code == 201
    assert (await second.get_json())["appeal_case"]["id"] == appeal_id
    third = await employer.post(
        f"/api/v1/rulings/{ruling_id}/objections",
        json={"text": "اعتراض سوم"},
        headers={"X-CSRF-Token": employer_csrf},
    )
    assert third.status_code == 409
