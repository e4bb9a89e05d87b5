"""Each party's own objection clock, end to end through the API (issue #12 items 3 and 4):
notification per party (a download, or the secretary recording one with date, method and
evidence), the window from that party's own notification with Fridays and holidays, no
finality while a party is not notified, final_at the instant the last window closed, and
both parties' objections joining one appeal case."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from io import BytesIO
from typing import Any

from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from hearing_server import clock
from hearing_server.cases.models import Case, CaseParty, CaseStatus, Document, PartyRole
from hearing_server.issuance import finality
from hearing_server.issuance.models import Notification, Objection, Ruling, RulingState
from rulings.persian import TEHRAN
from rulings.pki import PkiPaths
from tests.conftest import OtpSource, Person
from tests.issuance.conftest import draft_and_approve, login_as, make_decided_case


def tehran(y: int, m: int, d: int, hh: int = 10) -> datetime:
    return datetime.combine(date(y, m, d), time(hh), tzinfo=TEHRAN).astimezone(UTC)


def evidence() -> FileStorage:
    from tests.cases.conftest import pdf_bytes

    return FileStorage(BytesIO(pdf_bytes()), filename="receipt.pdf", content_type="application/pdf")


async def _issue(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> tuple[Any, str, int, int]:
    decided = await make_decided_case(db)
    secretary, csrf, ruling_id = await draft_and_approve(
        quart_app, people, otp, decided, approvers=["member.gov1", "member.wrk1", "member.emp1"]
    )
    issued = await secretary.post(
        f"/api/v1/rulings/{ruling_id}/issue", headers={"X-CSRF-Token": csrf}
    )
    assert issued.status_code == 200, await issued.get_json()
    return secretary, csrf, ruling_id, decided.case_id


async def _parties(db: Any, case_id: int) -> dict[PartyRole, CaseParty]:
    async with db.transaction(write=False) as session:
        rows = await session.scalars(select(CaseParty).where(CaseParty.case_id == case_id))
        return {p.role: p for p in rows}


async def test_each_party_has_its_own_clock_and_finality_waits_for_the_last(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource, pki: PkiPaths
) -> None:
    # Thursday 1405/09/19, 10:00 Tehran.
    clock.set_frozen(tehran(2026, 12, 10))
    secretary, csrf, ruling_id, case_id = await _issue(quart_app, db, people, otp)
    parties = await _parties(db, case_id)
    employer_party = parties[PartyRole.RESPONDENT]
    async with db.transaction() as session:  # the employer has no account
        row = await session.get(CaseParty, employer_party.id)
        assert row is not None
        row.user_id = None

    worker, _w = await login_as(quart_app, people["worker"], otp)
    assert (await worker.get(f"/api/v1/rulings/{ruling_id}/pdf")).status_code == 200
    mine = await (await worker.get(f"/api/v1/rulings/{ruling_id}")).get_json()
    # The 15th day after Thursday 1405/09/19 is Friday 10/04 → Saturday 1405/10/05.
    assert mine["my_last_day"] == "1405/10/05"
    worker_closes = tehran(2026, 12, 27, 0)
    assert datetime.fromisoformat(mine["my_objection_deadline"]) == worker_closes

    # The secretary sees who is not notified yet.
    secretary, csrf = await login_as(quart_app, people["secretary"], otp)
    seen = await (await secretary.get(f"/api/v1/rulings/{ruling_id}")).get_json()
    assert seen["not_notified"] == [employer_party.id]
    page = await (await secretary.get(f"/rulings/{ruling_id}")).get_data(as_text=True)
    assert f'id="party-{employer_party.id}"' in page and 'data-notified="false"' in page

    # The worker's window has long closed; the employer has no running clock: not final.
    clock.set_frozen(tehran(2027, 1, 7))
    assert await finality.sweep_once(db) == 0
    async with db.transaction(write=False) as session:
        ruling = await session.get(Ruling, ruling_id)
        assert ruling is not None and ruling.state == RulingState.ISSUED
        assert ruling.final_at is None

    # Bad input is refused with a reason and leaves nothing behind.
    secretary, csrf = await login_as(quart_app, people["secretary"], otp)
    url = f"/api/v1/rulings/{ruling_id}/notifications"
    headers = {"X-CSRF-Token": csrf}
    future = await secretary.post(
        url,
        form={"party_id": str(employer_party.id), "date": "1405/10/20", "method": "post"},
        files={"file": evidence()},
        headers=headers,
    )
    assert future.status_code == 422, await future.get_json()
    no_file = await secretary.post(
        url,
        form={"party_id": str(employer_party.id), "date": "1405/10/16", "method": "post"},
        headers=headers,
    )
    assert no_file.status_code == 422
    twice = await secretary.post(
        url,
        form={
            "party_id": str(parties[PartyRole.CLAIMANT].id),
            "date": "1405/10/16",
            "method": "post",
        },
        files={"file": evidence()},
        headers=headers,
    )
    assert twice.status_code == 409  # the worker is notified already
    worker, worker_csrf = await login_as(quart_app, people["worker"], otp)
    not_staff = await worker.post(
        url,
        form={"party_id": str(employer_party.id), "date": "1405/10/16", "method": "post"},
        files={"file": evidence()},
        headers={"X-CSRF-Token": worker_csrf},
    )
    assert not_staff.status_code in (403, 404)

    # The secretary records the employer's notification by post on 1405/10/16 (Wednesday).
    secretary, csrf = await login_as(quart_app, people["secretary"], otp)
    recorded = await secretary.post(
        url,
        form={"party_id": str(employer_party.id), "date": "۱۴۰۵/۱۰/۱۶", "method": "post"},
        files={"file": evidence()},
        headers={"X-CSRF-Token": csrf},
    )
    body = await recorded.get_json()
    assert recorded.status_code == 201, body
    assert body["last_day"] == "1405/11/01"  # Dey has 30 days: the 15th day is 11/01
    employer_closes = tehran(2027, 1, 22, 0)
    assert datetime.fromisoformat(body["closes_at"]) == employer_closes
    async with db.transaction(write=False) as session:
        note = await session.scalar(
            select(Notification).where(
                Notification.ruling_id == ruling_id, Notification.party_id == employer_party.id
            )
        )
        assert note is not None and note.method == "post" and note.evidence_sha256
        assert note.user_id is None

    # Still inside the employer's window: nothing happens.
    clock.set_frozen(employer_closes - timedelta(seconds=1))
    assert await finality.sweep_once(db) == 0
    # The sweep runs three days late; final_at is still the instant the window closed.
    clock.set_frozen(employer_closes + timedelta(days=3, hours=5))
    assert await finality.sweep_once(db) == 1
    async with db.transaction(write=False) as session:
        ruling = await session.get(Ruling, ruling_id)
        assert ruling is not None and ruling.state == RulingState.FINAL
        assert ruling.final_at == employer_closes
        case = await session.get(Case, case_id)
        assert case is not None and case.status == CaseStatus.FINAL


async def test_both_parties_object_within_their_own_windows_into_one_appeal_case(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource, pki: PkiPaths
) -> None:
    # Monday 1405/09/16: the worker is notified; their last day is Tuesday 1405/10/01.
    clock.set_frozen(tehran(2026, 12, 7))
    _s, _c, ruling_id, case_id = await _issue(quart_app, db, people, otp)
    worker, worker_csrf = await login_as(quart_app, people["worker"], otp)
    assert (await worker.get(f"/api/v1/rulings/{ruling_id}/pdf")).status_code == 200
    first = await worker.post(
        f"/api/v1/rulings/{ruling_id}/objections",
        json={"text": "مبلغ سنوات کمتر از حق اینجانب است."},
        headers={"X-CSRF-Token": worker_csrf},
    )
    first_body = await first.get_json()
    assert first.status_code == 201, first_body
    appeal_id = first_body["appeal_case"]["id"]

    # Thursday 1405/10/03, after the worker's window: the employer's first download starts
    # the employer's own window (15th day Friday 10/18 → Saturday 1405/10/19).
    clock.set_frozen(tehran(2026, 12, 24))
    employer, employer_csrf = await login_as(quart_app, people["employer"], otp)
    assert (await employer.get(f"/api/v1/rulings/{ruling_id}/pdf")).status_code == 200
    mine = await (await employer.get(f"/api/v1/rulings/{ruling_id}")).get_json()
    assert mine["my_last_day"] == "1405/10/19"
    page = await (await employer.get(f"/rulings/{ruling_id}")).get_data(as_text=True)
    assert "۱۹ دی ۱۴۰۵" in page.split('id="my-last-day"')[1].split("</span>")[0]
    assert 'id="objection-form"' in page  # the employer's own window is open
    clock.set_frozen(tehran(2027, 1, 9, 23))  # the last hour of the employer's last day
    employer, employer_csrf = await login_as(quart_app, people["employer"], otp)
    second = await employer.post(
        f"/api/v1/rulings/{ruling_id}/objections",
        json={"text": "مزد معوق پرداخت شده است."},
        headers={"X-CSRF-Token": employer_csrf},
    )
    second_body = await second.get_json()
    assert second.status_code == 201, second_body
    assert second_body["appeal_case"]["id"] == appeal_id  # the same appeal case

    again = await employer.post(
        f"/api/v1/rulings/{ruling_id}/objections",
        json={"text": "اعتراض دوباره"},
        headers={"X-CSRF-Token": employer_csrf},
    )
    assert again.status_code == 409  # one objection per party

    async with db.transaction(write=False) as session:
        objections = list(
            await session.scalars(
                select(Objection).where(Objection.ruling_id == ruling_id).order_by(Objection.id)
            )
        )
        assert [o.appeal_case_id for o in objections] == [appeal_id, appeal_id]
        appeals = list(await session.scalars(select(Case).where(Case.appeal_of_id == case_id)))
        assert [a.id for a in appeals] == [appeal_id]
        ruling = await session.get(Ruling, ruling_id)
        assert ruling is not None and ruling.state == RulingState.APPEALED
        docs = list(await session.scalars(select(Document).where(Document.case_id == appeal_id)))
        assert [d.kind for d in docs] == ["ruling"]  # the ruling once, not per objection

    # Both objections are listed on the appeal case, for its board and its parties.
    listed = await (await employer.get(f"/api/v1/cases/{appeal_id}/objections")).get_json()
    assert [o["text"] for o in listed["objections"]] == [
        "مبلغ سنوات کمتر از حق اینجانب است.",
        "مزد معوق پرداخت شده است.",
    ]
    assert [o["role"] for o in listed["objections"]] == ["claimant", "respondent"]
    secretary, _csrf = await login_as(quart_app, people["secretary"], otp)
    page = await (await secretary.get(f"/cases/{appeal_id}/objections")).get_data(as_text=True)
    assert "مبلغ سنوات کمتر از حق اینجانب است." in page and "مزد معوق پرداخت شده است." in page

    # A party whose window closed is refused (the worker objected already; the window is
    # per party: the employer's closed at the end of 1405/10/19).
    clock.set_frozen(tehran(2027, 1, 10, 0))
    assert await finality.sweep_once(db) == 0  # appealed rulings never become final here


async def test_the_secretary_records_a_notification_on_the_ruling_page(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource, pki: PkiPaths
) -> None:
    clock.set_frozen(tehran(2026, 12, 7))  # Monday 1405/09/16
    _s, _c, ruling_id, case_id = await _issue(quart_app, db, people, otp)
    employer_party = (await _parties(db, case_id))[PartyRole.RESPONDENT]
    clock.set_frozen(tehran(2026, 12, 9))
    secretary, _csrf = await login_as(quart_app, people["secretary"], otp)
    page = await (await secretary.get(f"/rulings/{ruling_id}")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token and 'id="notification-form"' in page
    form = {"csrf_token": token.group(1), "party_id": str(employer_party.id), "date": "1405/09/17"}
    refused = await secretary.post(
        f"/rulings/{ruling_id}/notifications",
        form={**form, "method": "carrier pigeon"},
        files={"file": evidence()},
    )
    assert refused.status_code == 422
    assert "روش ابلاغ" in await refused.get_data(as_text=True)
    done = await secretary.post(
        f"/rulings/{ruling_id}/notifications",
        form={**form, "method": "in_person"},
        files={"file": evidence()},
    )
    assert done.status_code == 302
    page = await (await secretary.get(f"/rulings/{ruling_id}")).get_data(as_text=True)
    row = page[page.index(f'id="party-{employer_party.id}"') :].split("</tr>")[0]
    assert 'data-notified="true"' in row
    assert "۰۳ دی ۱۴۰۵" in row  # 1405/09/17 + 15 = 1405/10/02, the birth of Imam Ali → 10/03
