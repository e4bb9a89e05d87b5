"""Filing three ways, numbers, drafts, the state machine and public tracking."""

from __future__ import annotations

import asyncio
import re
import subprocess
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from hearing_server import clock
from hearing_server.accounts.models import User
from hearing_server.audit.models import AuditEvent
from hearing_server.cases.filing import do_file, require_case
from hearing_server.cases.models import (
    Case,
    CaseAccess,
    CaseNumberCounter,
    CaseParty,
    CaseStatus,
    CaseTransition,
    PartyRole,
)
from hearing_server.cases.numbers import jalali_year
from hearing_server.cases.petition import ClaimInput, PetitionInput
from hearing_server.cases.workflow import do_transition
from hearing_server.errors import Conflict
from hearing_server.i18n import gettext
from tests.cases.conftest import petition
from tests.conftest import OtpSource, Person, api_login, tool
from tests.factories import user_named


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def test_clerk_and_worker_filings_reach_the_inbox_and_the_worker_tracks_it(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    worker = quart_app.test_client()
    csrf = await api_login(worker, people["worker"], otp)
    own = petition(employer_national_id="10101010101", employer_registration_number=None)
    for key in ("claimant_name", "claimant_national_id"):
        own.pop(key)
    filed = await worker.post("/api/v1/cases", json=own, headers={"X-CSRF-Token": csrf})
    body = await filed.get_json()
    assert filed.status_code == 201, body
    assert body["status"] == "filed" and body["filed_via"] == "self"
    assert re.fullmatch(r"14\d\d-\d{6}", body["number"])
    assert re.fullmatch(r"[ACDEFHJKMNPQRTUVWXY34679]{10}", body["tracking_code"])
    worker_case = body

    # The clerk files through the guided page for a worker who has no account yet.
    clerk = quart_app.test_client()
    await api_login(clerk, people["clerk"], otp)
    page = await clerk.get("/cases/new-for-worker")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="claims.year_end_bonus"' in html
    assert "عیدی و پاداش" in html  # the claim list in Persian
    form = {
        "csrf_token": _csrf(html),
        "claimant_name": "حسن يوسفي",  # Arabic ي as typed on an Arabic keyboard
        "claimant_national_id": "۰۰۱۳-۰۰۱۱۳۲",
        "claimant_mobile": "09123456789",
        "employer_name": "کارخانه آجر پارس",
        "workshop_address": "ورامین",
        "employer_registration_number": "۹۹۸۸۱",
        "employment_start": "۱۴۰۰/۰۱/۱۵",
        "last_monthly_wage": "۱۲۰٬۰۰۰٬۰۰۰",
        "claims.overtime": "on",
        "claims.overtime.amount": "۸۰۰۰۰۰۰۰",
        "action": "file",
    }
    done = await clerk.post("/cases/new-for-worker", form=form)
    assert done.status_code == 302, await done.get_data(as_text=True)
    receipt_url = done.headers["Location"]
    assert receipt_url.endswith("/receipt")
    receipt = await clerk.get(receipt_url)
    receipt_html = await receipt.get_data(as_text=True)
    assert receipt.status_code == 200 and "کد رهگیری" in receipt_html

    async with db.transaction(write=False) as session:
        clerk_case = await session.scalar(
            select(Case).where(Case.created_by_id == people["clerk"].id).order_by(Case.id.desc())
        )
        assert clerk_case is not None and clerk_case.status == CaseStatus.FILED
        claimant = await session.scalar(
            select(CaseParty).where(
                CaseParty.case_id == clerk_case.id, CaseParty.role == PartyRole.CLAIMANT
            )
        )
        assert claimant is not None
        assert claimant.full_name == "حسن یوسفی" and claimant.national_id == "0013001132"
        account = await session.get(User, claimant.user_id)
        assert account is not None and account.role.value == "party"
        assert account.national_id == "0013001132" and account.mobile == "09123456789"
        grant = await session.scalar(
            select(CaseAccess).where(
                CaseAccess.case_id == clerk_case.id, CaseAccess.user_id == people["clerk"].id
            )
        )
        assert grant is not None and grant.active

    secretary = quart_app.test_client()
    await api_login(secretary, people["secretary"], otp)
    inbox = await (await secretary.get("/api/v1/cases/inbox")).get_json()
    numbers = [c["number"] for c in inbox["cases"]]
    assert worker_case["number"] in numbers and clerk_case.number in numbers
    page = await secretary.get("/cases/inbox")
    assert clerk_case.number.split("-")[1][-3:].translate(
        str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
    ) in (await page.get_data(as_text=True))

    # The worker (no sign-in) tracks the case with the code and the national ID.
    anonymous = quart_app.test_client()
    tracked = await anonymous.post(
        "/api/v1/track",
        json={
            "tracking_code": worker_case["tracking_code"].lower()[:5]
            + " - "
            + worker_case["tracking_code"][5:],
            "national_id": people_nid(people, "worker"),
        },
    )
    result = await tracked.get_json()
    assert tracked.status_code == 200, result
    assert set(result) == {"number", "status", "timeline", "next_hearing"}
    assert result["status"] == "filed" and result["timeline"][0]["status"] == "filed"


def people_nid(people: dict[str, Person], username: str) -> str:
    from hearing_server.demo import PEOPLE
    from hearing_server.text import make_national_id

    person = next(p for p in PEOPLE if p.username == username)
    assert person.nid_prefix
    return make_national_id(person.nid_prefix)


async def test_incomplete_petition_names_every_field_in_fa_and_en_and_writes_nothing(
    client: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    csrf = await api_login(client, people["clerk"], otp)
    async with db.transaction(write=False) as session:
        before = await session.scalar(select(func.count()).select_from(Case))
    bad = petition(
        claimant_national_id="0013001133",
        claimant_mobile="12345",
        employment_start="1400/13/40",
        employer_registration_number=None,
        last_monthly_wage="12.5",
        claims=[{"kind": "overtime"}, {"kind": "other", "amount": 5}],
    )
    bad.pop("employer_name")
    response = await client.post("/api/v1/cases", json=bad, headers={"X-CSRF-Token": csrf})
    body = await response.get_json()
    assert response.status_code == 422
    fields = body["error"]["fields"]
    assert set(fields) == {
        "claimant_national_id",
        "claimant_mobile",
        "employment_start",
        "last_monthly_wage",
        "employer_name",
        "employer_national_id",
        "claims.overtime.amount",
        "claims.other.title",
    }
    assert fields["claimant_national_id"].startswith("کد ملی معتبر نیست")
    en = await client.post(
        "/api/v1/cases", json=bad, headers={"X-CSRF-Token": csrf, "Accept-Language": "en"}
    )
    # The signed-in clerk's own language (fa) wins over the header; switch it explicitly.
    assert en.status_code == 422
    await client.post("/language", form={"locale": "en", "csrf_token": csrf})
    en = await client.post("/api/v1/cases", json=bad, headers={"X-CSRF-Token": csrf})
    en_fields = (await en.get_json())["error"]["fields"]
    assert en_fields["claims.overtime.amount"] == "Enter the amount claimed, in rials."
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == before
    wrong_kind = await client.post(
        "/api/v1/cases",
        json=petition(claims=[{"kind": "bribe", "amount": 1}]),
        headers={"X-CSRF-Token": csrf},
    )
    assert wrong_kind.status_code == 422


async def test_a_draft_is_kept_then_filed_with_a_number(
    client: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    csrf = await api_login(client, people["clerk"], otp)
    headers = {"X-CSRF-Token": csrf}
    draft = await client.post(
        "/api/v1/cases",
        json={"claimant_name": "مینا رستمی", "claims": [{"kind": "annual_leave"}]},
        headers=headers,
    )
    body = await draft.get_json()
    assert draft.status_code == 201, body
    assert body["status"] == "draft" and body["number"] is None
    early = await client.post(f"/api/v1/cases/{body['id']}/submit", headers=headers)
    assert early.status_code == 422
    assert "claimant_national_id" in (await early.get_json())["error"]["fields"]
    mine = await (await client.get("/api/v1/cases?drafts=1")).get_json()
    assert body["id"] in [c["id"] for c in mine["cases"]]
    full = petition(claims=[{"kind": "annual_leave", "amount": "۲۵۰۰۰۰۰۰"}], submit=False)
    saved = await client.put(f"/api/v1/cases/{body['id']}", json=full, headers=headers)
    assert (await saved.get_json())["status"] == "draft"
    filed = await client.post(f"/api/v1/cases/{body['id']}/submit", headers=headers)
    filed_body = await filed.get_json()
    assert filed.status_code == 200, filed_body
    assert filed_body["status"] == "filed" and filed_body["number"]
    assert all(isinstance(c.pop("id"), int) for c in filed_body["claims"])  # #12 item 11
    assert filed_body["claims"] == [
        {
            "kind": "annual_leave",
            "amount": 25_000_000,
            "period_from": None,
            "period_to": None,
            "title": None,
        }
    ]
    again = await client.post(f"/api/v1/cases/{body['id']}/submit", headers=headers)
    assert again.status_code == 409


async def test_concurrent_filings_get_consecutive_numbers(
    db: Any, people: dict[str, Person]
) -> None:
    async def file_one(i: int) -> str:
        async with db.transaction() as session:
            clerk = await user_named(session, "clerk")
            data = PetitionInput(**_input(petition(), i))
            case = await do_file(session, actor=clerk, data=data)
            assert case.number
            return case.number

    year = jalali_year(clock.utcnow())
    async with db.transaction(write=False) as session:
        start = await session.scalar(
            select(func.coalesce(func.max(CaseNumberCounter.last_value), 0)).where(
                CaseNumberCounter.jalali_year == year
            )
        )
    numbers = await asyncio.gather(*(file_one(i) for i in range(8)))
    assert {n.split("-")[0] for n in numbers} == {str(year)}
    values = sorted(int(n.split("-")[1]) for n in numbers)
    assert values == list(range(start + 1, start + 9))  # no gap, no repeat


def _input(body: dict[str, Any], i: int) -> dict[str, Any]:
    data = {k: v for k, v in body.items() if k != "submit"}
    data["claims"] = [ClaimInput(**c) for c in data["claims"]]
    data["workshop_name"] = f"کارگاه {i}"
    return data


async def test_transitions_are_guarded_readable_and_leave_the_state_unchanged(
    quart_app: Any, client: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    clerk_csrf = await api_login(client, people["clerk"], otp)
    filed = await (
        await client.post("/api/v1/cases", json=petition(), headers={"X-CSRF-Token": clerk_csrf})
    ).get_json()
    number = filed["number"]
    secretary = quart_app.test_client()
    csrf = await api_login(secretary, people["secretary"], otp)
    headers = {"X-CSRF-Token": csrf}
    no_reason = await secretary.post(
        f"/api/v1/cases/{filed['id']}/return", json={"reason": "  "}, headers=headers
    )
    assert no_reason.status_code == 422
    assert (await no_reason.get_json())["error"]["field"] == "reason"
    returned = await secretary.post(
        f"/api/v1/cases/{filed['id']}/return",
        json={"reason": "قرارداد کار پیوست نشده است."},
        headers=headers,
    )
    assert returned.status_code == 200
    refused = await secretary.post(f"/api/v1/cases/{filed['id']}/accept", headers=headers)
    error = (await refused.get_json())["error"]
    assert refused.status_code == 409
    fa_number = number.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert error["message"] == (
        f"پرونده {fa_number} را نمی‌توان پذیرفت، زیرا {gettext('returned', 'fa')} است."
    )
    assert "returned" not in error["message"]
    await secretary.post("/language", form={"locale": "en", "csrf_token": csrf})
    refused_en = await secretary.post(f"/api/v1/cases/{filed['id']}/accept", headers=headers)
    assert (await refused_en.get_json())["error"]["message"] == (
        f"Cannot accept case {number}, because it is returned."
    )
    # The clerk sees the reason, corrects the petition and resubmits: same number.
    seen = await (await client.get(f"/api/v1/cases/{filed['id']}")).get_json()
    assert seen["status"] == "returned" and seen["return_reason"] == "قرارداد کار پیوست نشده است."
    again = await client.put(
        f"/api/v1/cases/{filed['id']}",
        json=petition(description="قرارداد پیوست شد."),
        headers={"X-CSRF-Token": clerk_csrf},
    )
    again_body = await again.get_json()
    assert again.status_code == 200, again_body
    assert again_body["status"] == "filed" and again_body["number"] == number
    accepted = await secretary.post(f"/api/v1/cases/{filed['id']}/accept", headers=headers)
    assert accepted.status_code == 200
    # The worker's own account may not accept, and a member may not skip to "decided".
    async with db.transaction() as session:
        case = await require_case(session, filed["id"])
        member = await user_named(session, "member.gov1")
        try:
            await do_transition(session, case, CaseStatus.DECIDED, actor=member)
        except Conflict as exc:
            assert exc.params["status"] == "accepted"
        else:
            raise AssertionError("accepted → decided must be refused")
    async with db.transaction(write=False) as session:
        status = await session.scalar(select(Case.status).where(Case.id == filed["id"]))
        moves = list(
            await session.scalars(
                select(CaseTransition.to_status)
                .where(CaseTransition.case_id == filed["id"])
                .order_by(CaseTransition.id)
            )
        )
        actions = list(
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_type == "case", AuditEvent.subject_id == str(filed["id"]))
                .order_by(AuditEvent.seq)
            )
        )
    assert status == CaseStatus.ACCEPTED
    assert moves == ["filed", "returned", "filed", "accepted"]
    assert actions == ["case.filed", "case.returned", "case.filed", "case.accepted"]
    history = await (await secretary.get(f"/api/v1/cases/{filed['id']}/history")).get_json()
    assert [e["action"] for e in history["events"]] == actions
    assert (await client.get(f"/api/v1/cases/{filed['id']}/history")).status_code == 403


async def test_tracking_shows_nothing_for_wrong_pairs_and_throttles_them(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    async with db.transaction() as session:
        clerk = await user_named(session, "clerk")
        case = await do_file(session, actor=clerk, data=PetitionInput(**_input(petition(), 1)))
    code = case.tracking_code
    assert code
    client = quart_app.test_client()
    for _ in range(5):
        miss = await client.post(
            "/api/v1/track", json={"tracking_code": code, "national_id": "0012345679"}
        )
        assert miss.status_code == 404
        assert (await miss.get_json())["error"]["code"] == "track_miss"
    blocked = await client.post(
        "/api/v1/track", json={"tracking_code": code, "national_id": "0013001132"}
    )
    assert blocked.status_code == 429
    clock.advance(timedelta(minutes=16))
    page = await client.get("/track")
    html = await page.get_data(as_text=True)
    shown = await client.post(
        "/track",
        form={"csrf_token": _csrf(html), "code": code, "national_id": "۰۰۱۳۰۰۱۱۳۲"},
    )
    shown_html = await shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert gettext("filed", "fa") in shown_html  # the status, in Persian
    assert "حسن یوسفی" not in shown_html and "آجر" not in shown_html  # no party data


async def test_receipt_pdf_names_the_case_and_tracking_code(
    client: Any, people: dict[str, Person], otp: OtpSource, tmp_path: Any
) -> None:
    csrf = await api_login(client, people["clerk"], otp)
    filed = await (
        await client.post("/api/v1/cases", json=petition(), headers={"X-CSRF-Token": csrf})
    ).get_json()
    await client.post("/language", form={"locale": "en", "csrf_token": csrf})
    response = await client.get(f"/cases/{filed['id']}/receipt.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = tmp_path / "receipt.pdf"
    pdf.write_bytes(await response.get_data())
    text = subprocess.run(
        [tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    # The worker's receipt is Persian whatever the clerk's language: Persian digits, but
    # the tracking code (and its link) as typed.
    assert filed["number"].translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")) in text
    code = filed["tracking_code"]
    assert f"{code[:5]}-{code[5:]}" in text
    assert f"/track?code={code[:5]}-{code[5:]}" in text
