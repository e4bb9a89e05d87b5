"""Activation of workers registered at the counter (issue #14 items 3 and 8): the code on
the Persian receipt (page and PDF, with the tracking and activation links and their QR
codes) and in one SMS; the worker proves the mobile and sets a password; codes work once;
the clerk's re-send replaces the code; a never-activated account can still be tracked."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update

from hearing_server import clock
from hearing_server.accounts.models import ActivationCode, User
from hearing_server.accounts.security import hash_password
from hearing_server.cases import activation
from hearing_server.cases.models import Case
from hearing_server.config import Settings
from hearing_server.i18n import gettext
from hearing_server.notifications.models import OutboxMessage
from hearing_server.text import make_national_id
from tests.conftest import (
    EVENTUALLY_SECONDS,
    OtpSource,
    Person,
    api_login,
    eventually,
    kavenegar_live_server,
    tool,
)

WORKER_NID = make_national_id("001300777")
WORKER_MOBILE = "09127770001"
PASSWORD = "my-new-Password-7"
CODE_IN_SMS = re.compile(r"/activate\?code=([A-Z0-9-]{14})\n")
SMS_CODE = re.compile(r"#(\d{6})$")


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def _petition_form(csrf: str, nid: str = WORKER_NID, mobile: str = WORKER_MOBILE) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "claimant_name": "رضا کارگر",
        "claimant_national_id": nid,
        "claimant_mobile": mobile,
        "employer_name": "کارگاه نمونه",
        "workshop_address": "تهران",
        "employer_registration_number": "12345",
        "employment_start": "1400/01/15",
        "last_monthly_wage": "100000000",
        "claims.overtime": "on",
        "claims.overtime.amount": "80000000",
        "action": "file",
    }


async def _clerk_files(
    quart_app: Any, clerk: Person, otp: OtpSource, *, locale: str = "en"
) -> tuple[Any, int]:
    """The clerk (interface language ``locale``) registers a worker at the counter through
    the page; returns the clerk's client and the case id."""
    client = quart_app.test_client()
    csrf = await api_login(client, clerk, otp)
    await client.post("/language", form={"locale": locale, "csrf_token": csrf})
    page = await client.get("/cases/new-for-worker")
    done = await client.post(
        "/cases/new-for-worker", form=_petition_form(_csrf(await page.get_data(as_text=True)))
    )
    assert done.status_code == 302, await done.get_data(as_text=True)
    case_id = int(done.headers["Location"].split("/")[-2])
    return client, case_id


async def _sms(db: Any, subject: str, mobile: str = WORKER_MOBILE) -> list[OutboxMessage]:
    async with db.transaction(write=False) as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.address == mobile, OutboxMessage.subject == subject)
            .order_by(OutboxMessage.id)
        )
        return list(rows)


def _code_of(message: OutboxMessage) -> str:
    found = CODE_IN_SMS.search(message.body)
    assert found, message.body
    return found.group(1)


async def _account(db: Any, nid: str = WORKER_NID) -> User:
    async with db.transaction(write=False) as session:
        user = await session.scalar(select(User).where(User.national_id == nid))
        assert user is not None
        return user


async def _start(client: Any, code: str, nid: str = WORKER_NID) -> Any:
    page = await client.get(f"/activate?code={code}")
    return await client.post(
        "/activate",
        form={
            "csrf_token": _csrf(await page.get_data(as_text=True)),
            "step": "start",
            "code": code,
            "national_id": nid,
        },
    )


async def _complete(client: Any, code: str, sms_code: str, html: str) -> Any:
    return await client.post(
        "/activate",
        form={
            "csrf_token": _csrf(html),
            "step": "complete",
            "code": code,
            "national_id": WORKER_NID,
            "sms_code": sms_code,
            "password": PASSWORD,
            "password2": PASSWORD,
        },
    )


async def test_the_receipt_is_persian_with_both_links_their_qr_codes_and_the_code_once(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any, tmp_path: Path
) -> None:
    clerk, case_id = await _clerk_files(quart_app, people["clerk"], otp, locale="en")
    [message] = await _sms(db, "activation")  # exactly one SMS, with the link and the code
    code = _code_of(message)
    assert f"کد فعال‌سازی: {code}" in message.body
    async with db.transaction(write=False) as session:
        case = await session.get(Case, case_id)
        assert case is not None and case.tracking_code and case.number
        rows = list(await session.scalars(select(ActivationCode)))
    assert [r.case_id for r in rows] == [case_id]
    assert code not in rows[0].code_hash and code.replace("-", "") not in rows[0].code_hash
    track_url = (
        f"http://127.0.0.1:5000/track?code={case.tracking_code[:5]}-{case.tracking_code[5:]}"
    )
    activate_url = f"http://127.0.0.1:5000/activate?code={code}"

    page = await clerk.get(f"/cases/{case_id}/receipt")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200
    body = html.split("<main", 1)[-1]
    persian, _sep, english = body.partition('class="card receipt" lang="en"')
    # The worker's copy first, in Persian, whatever the clerk's language; an English copy follows.
    assert gettext("Receipt of complaint", "fa") in persian
    assert 'class="card receipt" lang="fa" dir="rtl"' in persian
    assert "Receipt of complaint" in english
    assert case.number.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")) in persian
    for text in (code, activate_url, track_url):
        assert text in persian
    assert persian.count('src="data:image/svg+xml') == 2  # the two QR codes

    pdf = await clerk.get(f"/cases/{case_id}/receipt.pdf")
    assert pdf.status_code == 200
    path = tmp_path / "receipt.pdf"
    path.write_bytes(await pdf.get_data())
    text = subprocess.run(
        [tool("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert track_url in text and code in text and activate_url in text
    assert gettext("Receipt of complaint", "fa") in text  # in Persian

    # Another browser (the secretary's) never sees a usable code on the receipt.
    secretary = quart_app.test_client()
    await api_login(secretary, people["secretary"], otp)
    later = await (await secretary.get(f"/cases/{case_id}/receipt")).get_data(as_text=True)
    assert track_url in later and code not in later and "/activate?code=" not in later
    # Nor the clerk's own once the code has been replaced.
    clock.advance(activation.RESEND_AFTER)
    csrf = _csrf(await (await clerk.get(f"/cases/{case_id}")).get_data(as_text=True))
    resent = await clerk.post(f"/cases/{case_id}/activation/resend", form={"csrf_token": csrf})
    assert resent.status_code == 302
    again = await (await clerk.get(f"/cases/{case_id}/receipt")).get_data(as_text=True)
    assert code not in again and "/activate?code=" not in again


async def test_the_worker_activates_once_and_is_signed_in(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    await _clerk_files(quart_app, people["clerk"], otp)
    code = _code_of((await _sms(db, "activation"))[0])
    assert (await _account(db)).activated_at is None

    worker = quart_app.test_client()
    opened = await worker.get(f"/activate?code={code}")
    assert opened.status_code == 200 and f'value="{code}"' in await opened.get_data(as_text=True)

    # A wrong national ID: refused in Persian, nothing sent.
    wrong = await _start(worker, code, nid=make_national_id("001300778"))
    wrong_html = await wrong.get_data(as_text=True)
    assert wrong.status_code == 422
    assert gettext(activation.NOT_VALID, "fa") in wrong_html
    assert await _sms(db, "code:activate") == []

    started = await _start(worker, code.lower().replace("-", " "))  # typed loosely
    html = await started.get_data(as_text=True)
    assert started.status_code == 200, html
    assert "0912…01" in html  # the masked mobile on file
    [sms] = await _sms(db, "code:activate")
    sms_code = SMS_CODE.search(sms.body)
    assert sms_code
    # "Send the code again" at once: refused for a minute, on the code page (the code works).
    again_soon = await worker.post(
        "/activate",
        form={
            "csrf_token": _csrf(html),
            "step": "start",
            "code": code,
            "national_id": WORKER_NID,
            "masked_mobile": "0912…01",
        },
    )
    assert again_soon.status_code == 429
    assert 'name="sms_code"' in await again_soon.get_data(as_text=True)
    assert len(await _sms(db, "code:activate")) == 1
    done = await _complete(worker, code, sms_code.group(1), html)
    assert done.status_code == 302, await done.get_data(as_text=True)
    assert done.headers["Location"].startswith("/cases/mine")
    me = await worker.get("/api/v1/me")
    assert me.status_code == 200 and (await me.get_json())["national_id"] == WORKER_NID
    account = await _account(db)
    assert account.activated_at is not None

    # The code is used: a second activation with it is refused like an unknown code.
    again = await _start(quart_app.test_client(), code)
    assert again.status_code == 422
    # The new password signs in (the first factor: the party's second step follows).
    login = await quart_app.test_client().post(
        "/api/v1/auth/login",
        json={"username": account.username, "password": PASSWORD, "otp": "123456"},
    )
    assert (await login.get_json())["error"]["code"] != "bad_credentials"


async def test_an_account_waiting_for_activation_cannot_sign_in_with_a_password(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    await _clerk_files(quart_app, people["clerk"], otp)
    account = await _account(db)
    # Even someone holding the account's password (nobody should) is refused.
    known = await hash_password(PASSWORD)
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == account.id).values(password_hash=known))
    page = quart_app.test_client()
    form = await page.get("/login")
    refused = await page.post(
        "/login",
        form={
            "csrf_token": _csrf(await form.get_data(as_text=True)),
            "username": account.username,
            "password": PASSWORD,
        },
    )
    assert refused.status_code == 401
    assert "heyat_session" not in refused.headers.get("Set-Cookie", "")


async def test_the_clerks_resend_replaces_the_code_with_one_sms(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    clerk, case_id = await _clerk_files(quart_app, people["clerk"], otp)
    old = _code_of((await _sms(db, "activation"))[0])
    detail = await (await clerk.get(f"/cases/{case_id}")).get_data(as_text=True)
    assert f"/cases/{case_id}/activation/resend" in detail
    csrf = _csrf(detail)
    soon = await clerk.post(f"/cases/{case_id}/activation/resend", form={"csrf_token": csrf})
    assert soon.status_code == 429 and "Retry-After" in soon.headers
    assert len(await _sms(db, "activation")) == 1
    clock.advance(activation.RESEND_AFTER)
    resent = await clerk.post(f"/cases/{case_id}/activation/resend", form={"csrf_token": csrf})
    assert resent.status_code == 302
    messages = await _sms(db, "activation")
    assert len(messages) == 2  # exactly one more
    new = _code_of(messages[1])
    assert new != old
    assert (await _start(quart_app.test_client(), old)).status_code == 422
    assert (await _start(quart_app.test_client(), new)).status_code == 200
    async with db.transaction(write=False) as session:
        actions = list(
            await session.scalars(
                select(ActivationCode.created_by_id).where(ActivationCode.case_id == case_id)
            )
        )
    assert actions == [people["clerk"].id, people["clerk"].id]

    # A member of the board may read the case but not re-send.
    member = quart_app.test_client()
    member_csrf = await api_login(member, people["member.gov1"], otp)
    denied = await member.post(
        f"/cases/{case_id}/activation/resend", headers={"X-CSRF-Token": member_csrf}
    )
    assert denied.status_code == 403
    assert len(await _sms(db, "activation")) == 2


async def test_a_never_activated_account_is_tracked_by_code(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    _clerk, case_id = await _clerk_files(quart_app, people["clerk"], otp)
    assert (await _account(db)).activated_at is None
    async with db.transaction(write=False) as session:
        case = await session.get(Case, case_id)
        assert case is not None and case.tracking_code
    anonymous = quart_app.test_client()
    page = await anonymous.get(f"/track?code={case.tracking_code}")
    assert f'value="{case.tracking_code}"' in await page.get_data(as_text=True)
    tracked = await anonymous.post(
        "/api/v1/track",
        json={"tracking_code": case.tracking_code, "national_id": WORKER_NID},
    )
    body = await tracked.get_json()
    assert tracked.status_code == 200, body
    assert body["status"] == "filed"


async def test_the_api_activates_and_throttles_wrong_national_ids(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    await _clerk_files(quart_app, people["clerk"], otp)
    code = _code_of((await _sms(db, "activation"))[0])
    api = quart_app.test_client()
    statuses = []
    for n in range(activation.GUARD.per_client + 1):
        wrong = await api.post(
            "/api/v1/auth/activate/start",
            json={"code": code, "national_id": make_national_id(f"0013009{n:02d}")},
        )
        statuses.append(wrong.status_code)
        body = await wrong.get_json()
        if wrong.status_code == 422:
            assert body["error"]["code"] == "activation_invalid"
    assert statuses == [422] * activation.GUARD.per_client + [429]
    assert await _sms(db, "code:activate") == []

    other = quart_app.test_client()  # another client is not held back by that one's failures
    elsewhere = {"client": ("10.9.9.9", 1234)}
    started = await other.post(
        "/api/v1/auth/activate/start",
        json={"code": code, "national_id": WORKER_NID},
        scope_base=elsewhere,
    )
    assert started.status_code == 200, await started.get_json()
    assert (await started.get_json())["mobile"] == "0912…01"
    [sms] = await _sms(db, "code:activate")
    found = SMS_CODE.search(sms.body)
    assert found
    weak = await other.post(
        "/api/v1/auth/activate/complete",
        json={
            "code": code,
            "national_id": WORKER_NID,
            "sms_code": found.group(1),
            "password": "short",
        },
        scope_base=elsewhere,
    )
    assert weak.status_code == 422
    done = await other.post(
        "/api/v1/auth/activate/complete",
        json={
            "code": code,
            "national_id": WORKER_NID,
            "sms_code": found.group(1),
            "password": PASSWORD,
        },
        scope_base=elsewhere,
    )
    body = await done.get_json()
    assert done.status_code == 200, body
    assert body["user"]["national_id"] == WORKER_NID and body["csrf_token"]
    assert (await other.get("/api/v1/me")).status_code == 200
    replay = await quart_app.test_client().post(
        "/api/v1/auth/activate/complete",
        json={
            "code": code,
            "national_id": WORKER_NID,
            "sms_code": found.group(1),
            "password": PASSWORD,
        },
        scope_base=elsewhere,
    )
    assert replay.status_code == 422
    assert (await replay.get_json())["error"]["code"] == "activation_invalid"


async def test_the_activation_sms_reaches_kavenegar_once_and_its_code_works(
    settings: Settings, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    """A live server sending through the Kavenegar API (the local fake)."""
    async with kavenegar_live_server(settings) as (live, fake):
        url = live.url

        def to_worker(word: str) -> list[str]:
            return [
                s.form["message"]
                for s in fake.accepted()
                if s.form.get("receptor") == WORKER_MOBILE and word in s.form["message"]
            ]

        async with httpx.AsyncClient(timeout=EVENTUALLY_SECONDS, base_url=url) as clerk:
            clerk_person = people["clerk"]
            login = await clerk.post(
                "/api/v1/auth/login",
                json={
                    "username": clerk_person.username,
                    "password": clerk_person.password,
                    "otp": otp.code(clerk_person.totp_secret),
                },
            )
            assert login.status_code == 200, login.text
            csrf = login.json()["csrf_token"]
            body = {
                "claimant_name": "رضا کارگر",
                "claimant_national_id": WORKER_NID,
                "claimant_mobile": WORKER_MOBILE,
                "employer_name": "کارگاه نمونه",
                "workshop_address": "تهران",
                "employer_registration_number": "12345",
                "employment_start": "1400/01/15",
                "last_monthly_wage": 100000000,
                "claims": [{"kind": "reinstatement"}],
                "submit": True,
            }
            filed = await clerk.post("/api/v1/cases", json=body, headers={"X-CSRF-Token": csrf})
            assert filed.status_code == 201, filed.text
            [text] = await eventually(lambda: _async(to_worker("/activate?code=")))
            found = re.search(r"/activate\?code=([A-Z0-9-]{14})\n", text)
            assert found and text.count(url) == 1
            code = found.group(1)
            async with httpx.AsyncClient(timeout=EVENTUALLY_SECONDS, base_url=url) as worker:
                start = await worker.post(
                    "/api/v1/auth/activate/start", json={"code": code, "national_id": WORKER_NID}
                )
                assert start.status_code == 200, start.text
                [sms] = await eventually(lambda: _async(to_worker("#")))
                sms_code = SMS_CODE.search(sms)
                assert sms_code
                done = await worker.post(
                    "/api/v1/auth/activate/complete",
                    json={
                        "code": code,
                        "national_id": WORKER_NID,
                        "sms_code": sms_code.group(1),
                        "password": PASSWORD,
                    },
                )
                assert done.status_code == 200, done.text
                assert (await worker.get("/api/v1/me")).json()["national_id"] == WORKER_NID
            # The code SMS went out after the activation SMS: had that one been sent twice,
            # the second copy would be at the fake by now.
            assert len(to_worker("/activate?code=")) == 1


async def _async(value: list[str]) -> list[str]:
    return value
