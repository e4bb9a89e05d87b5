"""Sign-up of workers and employers over HTTP: a national ID (or a company's) with its
check digit, the registry's word that the mobile number is theirs, one SMS per request,
the code accepted once, a password; then signed in, able to file a complaint. Refusals
leave no account, no code and no message behind. Last, a real server configured with
Kavenegar delivers the code to a fake Kavenegar on a real port, once."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from hearing_server import clock
from hearing_server.accounts import signup
from hearing_server.accounts.models import PartyKind, PhoneCode, Role, User
from hearing_server.accounts.registry import (
    DEV_FOREIGN_MOBILE,
    DEV_SILENT_MOBILE,
    DEV_UNKNOWN_COMPANY,
    RegistryConfigError,
    build_identity_registry,
)
from hearing_server.audit.models import AuditEvent
from hearing_server.cases.models import Case, CaseParty, FiledVia, PartyRole
from hearing_server.config import Settings
from hearing_server.notifications.models import OutboxMessage
from hearing_server.text import make_national_id
from tests.conftest import EVENTUALLY_SECONDS
from tests.notifications import fake_kavenegar
from tests.notifications.fake_kavenegar import API_KEY, SENDER
from tests.serve import ServeProcess

NATIONAL_ID = make_national_id("004455667")
MOBILE = "09351234567"
BAD_NATIONAL_ID = NATIONAL_ID[:9] + str((int(NATIONAL_ID[9]) + 1) % 10)
COMPANY_ID = "10380284790"
PASSWORD = "kargar-e-sabr-1405"
FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def fa(text: str) -> str:
    return text.translate(FA_DIGITS)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


async def _page_csrf(client: Any, path: str = "/signup") -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.status_code
    return _csrf(await page.get_data(as_text=True))


def _worker_form(csrf: str, **overrides: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "kind": "worker",
        "full_name": "زهرا كريمي",  # Arabic ي and ك, as an Arabic keyboard types them
        "national_id": fa(NATIONAL_ID[:3] + "-" + NATIONAL_ID[3:]),
        "mobile": fa("0935 123 4567"),
    }
    form.update(overrides)
    return form


async def _sms(db: Any, mobile: str = MOBILE) -> list[OutboxMessage]:
    async with db.transaction(write=False) as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.address == mobile, OutboxMessage.channel == "sms")
            .order_by(OutboxMessage.id)
        )
        return list(rows)


def _code_of(body: str) -> str:
    found = re.search(r"#(\d{6})$", body)
    assert found, body
    return found.group(1)


async def _counts(db: Any) -> tuple[int, int, int]:
    """Users, phone codes and SMS messages: what a refusal must not add to."""
    async with db.transaction(write=False) as session:
        users = await session.scalar(select(func.count()).select_from(User))
        codes = await session.scalar(select(func.count()).select_from(PhoneCode))
        sms = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.channel == "sms")
        )
    return int(users or 0), int(codes or 0), int(sms or 0)


async def _user(db: Any, username: str) -> User | None:
    async with db.transaction(write=False) as session:
        found: User | None = await session.scalar(select(User).where(User.username == username))
        return found


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# ------------------------------------------------------------------ the pages


async def test_a_worker_signs_up_from_the_login_page_and_files_a_complaint(
    client: Any, db: Any
) -> None:
    login = await (await client.get("/login")).get_data(as_text=True)
    assert 'href="/signup"' in login
    before = await _counts(db)
    started = await client.post("/signup", form=_worker_form(await _page_csrf(client)))
    assert started.status_code == 302, await started.get_data(as_text=True)
    assert started.headers["Location"].startswith("/signup/verify")
    [message] = await _sms(db)  # one request, one message
    code = _code_of(message.body)
    assert "ثبت‌نام" in message.body

    page = await client.get("/signup/verify")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200 and fa("0935…67") in html
    csrf = _csrf(html)
    form = {"csrf_token": csrf, "password": PASSWORD, "password_again": PASSWORD}

    wrong = await client.post("/signup/verify", form={**form, "code": _wrong(code)})
    assert wrong.status_code == 422
    assert "کد درست نیست" in await wrong.get_data(as_text=True)
    mismatch = await client.post(
        "/signup/verify", form={**form, "code": code, "password_again": PASSWORD + "x"}
    )
    assert mismatch.status_code == 422
    assert "یکسان نیستند" in await mismatch.get_data(as_text=True)
    assert (await _counts(db))[0] == before[0]  # no account yet

    done = await client.post(
        "/signup/verify", form={**form, "code": fa(code), "email": "zahra@example.org"}
    )
    assert done.status_code == 302, await done.get_data(as_text=True)
    assert done.headers["Location"] == "/cases/new"
    user = await _user(db, NATIONAL_ID)
    assert user is not None and user.role == Role.PARTY
    assert user.national_id == NATIONAL_ID and user.mobile == MOBILE
    assert user.full_name == "زهرا کریمی" and user.party_kind == PartyKind.WORKER
    assert user.email == "zahra@example.org" and user.password_hash.startswith("$argon2")
    assert (await _counts(db))[0] == before[0] + 1
    async with db.transaction(write=False) as session:
        actions = set(
            await session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.subject_type == "user", AuditEvent.subject_id == str(user.id)
                )
            )
        )
    assert {"user.created", "signup.completed"} <= actions

    # Signed in, fully: the mobile number was just proved.
    me = await client.get("/api/v1/me")
    assert me.status_code == 200
    csrf = (await me.get_json())["csrf_token"]
    filing = await client.get("/cases/new")
    assert filing.status_code == 200
    filed = await client.post(
        "/cases/new",
        form={
            "csrf_token": csrf,
            "employer_name": "کارگاه نساجی البرز",
            "workshop_address": "کرج",
            "employer_registration_number": "۴۴۵۵۱",
            "employment_start": "۱۴۰۱/۰۲/۰۱",
            "last_monthly_wage": "۱۵۰٬۰۰۰٬۰۰۰",
            "claims.overtime": "on",
            "claims.overtime.amount": "۹۰۰۰۰۰۰۰",
            "action": "file",
        },
    )
    assert filed.status_code == 302, await filed.get_data(as_text=True)
    async with db.transaction(write=False) as session:
        case = await session.scalar(select(Case).where(Case.created_by_id == user.id))
        assert case is not None and case.filed_via == FiledVia.SELF and case.number
        claimant = await session.scalar(
            select(CaseParty).where(
                CaseParty.case_id == case.id, CaseParty.role == PartyRole.CLAIMANT
            )
        )
    assert claimant is not None and claimant.user_id == user.id
    assert claimant.national_id == NATIONAL_ID


async def test_the_pending_sign_up_is_the_servers_not_the_forms(client: Any, db: Any) -> None:
    """Step 2 reads who signs up from the signed cookie: a national ID slipped into the
    form is ignored, and a forged cookie is no sign-up at all."""
    await client.post("/signup", form=_worker_form(await _page_csrf(client)))
    code = _code_of((await _sms(db))[-1].body)
    other = make_national_id("009988776")
    csrf = _csrf(await (await client.get("/signup/verify")).get_data(as_text=True))
    done = await client.post(
        "/signup/verify",
        form={
            "csrf_token": csrf,
            "code": code,
            "password": PASSWORD,
            "password_again": PASSWORD,
            "national_id": other,
            "mobile": "09120000001",
        },
    )
    assert done.status_code == 302
    assert await _user(db, other) is None
    user = await _user(db, NATIONAL_ID)
    assert user is not None and user.mobile == MOBILE

    stranger = client.__class__(client.app)
    stranger.set_cookie("localhost", "heyat_signup", "eyJraW5kIjoid29ya2VyIn0.forged")
    assert (await stranger.get("/signup/verify")).headers["Location"].endswith("/signup")


async def test_refusals_on_the_page_are_shown_by_the_field_in_persian_and_english(
    client: Any, db: Any
) -> None:
    before = await _counts(db)
    csrf = await _page_csrf(client)
    forged = await client.post("/signup", form=_worker_form("not-the-token"))
    assert forged.status_code == 403  # a form from another site sends no SMS
    refused = await client.post("/signup", form=_worker_form(csrf, national_id=fa(BAD_NATIONAL_ID)))
    html = await refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="e-national_id"' in html and "رقم کنترل" in html
    await client.post("/language", form={"locale": "en", "csrf_token": csrf})
    refused = await client.post("/signup", form=_worker_form(csrf, mobile=DEV_FOREIGN_MOBILE))
    html = await refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="e-mobile"' in html
    assert "This mobile number is not registered to this national ID" in html
    assert await _counts(db) == before


# ------------------------------------------------------------------ the API


async def _api_start(client: Any, **body: Any) -> Any:
    return await client.post("/api/v1/signup", json=body)


def _worker(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "worker",
        "full_name": "زهرا کریمی",
        "national_id": fa(NATIONAL_ID),
        "mobile": MOBILE,
    }
    body.update(overrides)
    return body


def _company(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "company",
        "full_name": "شرکت ریسندگی البرز",
        "legal_id": fa(COMPANY_ID),
        "representative_name": "حسن مرادی",
        "mobile": MOBILE,
    }
    body.update(overrides)
    return body


async def test_a_company_signs_up_through_the_api_and_its_code_works_once(
    client: Any, db: Any
) -> None:
    before = await _counts(db)
    started = await _api_start(client, **_company())
    body = await started.get_json()
    assert started.status_code == 202, body
    assert body["mobile"] == "0935…67" and body["code_expires_in"] == 300
    [message] = await _sms(db)
    code = _code_of(message.body)
    token = body["signup_token"]

    wrong = await client.post(
        "/api/v1/signup/verify",
        json={"signup_token": token, "code": _wrong(code), "password": PASSWORD},
    )
    assert wrong.status_code == 422
    assert (await wrong.get_json())["error"]["code"] == "sms_code_invalid"

    done = await client.post(
        "/api/v1/signup/verify",
        json={"signup_token": token, "code": code, "password": PASSWORD},
    )
    answer = await done.get_json()
    assert done.status_code == 201, answer
    assert "heyat_session=" in done.headers.get("Set-Cookie", "")
    assert answer["user"]["username"] == COMPANY_ID and answer["user"]["role"] == "party"
    assert answer["user"]["legal_id"] == COMPANY_ID and answer["user"]["national_id"] is None
    me = await client.get("/api/v1/me")
    assert me.status_code == 200 and (await me.get_json())["username"] == COMPANY_ID
    user = await _user(db, COMPANY_ID)
    assert user is not None and user.party_kind == PartyKind.COMPANY
    assert user.full_name == "شرکت ریسندگی البرز" and user.representative_name == "حسن مرادی"

    # The same code and token again (another client): refused, nothing more made.
    replay = await client.__class__(client.app).post(
        "/api/v1/signup/verify",
        json={"signup_token": token, "code": code, "password": PASSWORD},
    )
    assert replay.status_code == 422
    assert (await replay.get_json())["error"]["code"] == "sms_code_expired"
    assert (await _counts(db))[0] == before[0] + 1
    assert len(await _sms(db)) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_worker(national_id=BAD_NATIONAL_ID), "national_id"),
        (_worker(national_id="۱۲۳۴"), "national_id"),
        (_company(legal_id="10380284792"), "legal_id"),
        (_company(legal_id=make_national_id("004455667")), "legal_id"),
        (_worker(mobile="0935123"), "mobile"),
        (_company(representative_name=" "), "representative_name"),
    ],
)
async def test_a_bad_id_or_number_is_422_with_its_field_and_writes_nothing(
    client: Any, db: Any, body: dict[str, Any], field: str
) -> None:
    before = await _counts(db)
    refused = await client.post("/api/v1/signup", json=body, headers={"Accept-Language": "en"})
    error = (await refused.get_json())["error"]
    assert refused.status_code == 422, error
    assert set(error["fields"]) == {field}
    assert "not valid" in error["fields"][field] or "Enter" in error["fields"][field]
    persian = await client.post("/api/v1/signup", json=body, headers={"Accept-Language": "fa"})
    fa_error = (await persian.get_json())["error"]["fields"][field]
    assert re.search("[\u0600-\u06ff]", fa_error), fa_error
    assert await _counts(db) == before


@pytest.mark.parametrize(
    ("body", "status", "code", "english"),
    [
        (
            _worker(mobile=DEV_FOREIGN_MOBILE),
            422,
            "mobile_not_owner",
            "This mobile number is not registered to this national ID.",
        ),
        (
            _company(mobile=DEV_FOREIGN_MOBILE),
            422,
            "mobile_not_owner",
            "This mobile number is not registered to this company.",
        ),
        (
            _company(legal_id=DEV_UNKNOWN_COMPANY),
            422,
            "company_not_registered",
            "No company with this national ID is registered.",
        ),
        (
            _worker(mobile=DEV_SILENT_MOBILE),
            503,
            "registry_unavailable",
            "The identity check is not available right now.",
        ),
    ],
)
async def test_the_registry_refusing_is_a_clear_refusal_and_sends_nothing(
    client: Any, db: Any, body: dict[str, Any], status: int, code: str, english: str
) -> None:
    before = await _counts(db)
    refused = await client.post("/api/v1/signup", json=body, headers={"Accept-Language": "en"})
    error = (await refused.get_json())["error"]
    assert refused.status_code == status and error["code"] == code
    assert error["message"].startswith(english)
    persian = await client.post("/api/v1/signup", json=body, headers={"Accept-Language": "fa"})
    assert re.search("[\u0600-\u06ff]", (await persian.get_json())["error"]["message"])
    assert await _counts(db) == before


async def test_an_existing_national_id_is_409_and_says_no_more(client: Any, db: Any) -> None:
    worker = await _user(db, "worker")
    assert worker is not None and worker.national_id
    before = await _counts(db)
    refused = await _api_start(
        client, **_worker(national_id=fa(worker.national_id), mobile="09121000099")
    )
    error = (await refused.get_json())["error"]
    assert refused.status_code == 409 and error["code"] == "account_exists"
    assert error["field"] == "national_id"
    assert worker.full_name not in error["message"] and "0912" not in error["message"]
    assert await _counts(db) == before

    # An account made for the ID between the two steps (at the counter): 409 at step 2,
    # and the code stays unused: the refusal wrote nothing.
    started = await _api_start(client, **_worker())
    token = (await started.get_json())["signup_token"]
    code = _code_of((await _sms(db))[-1].body)
    async with db.transaction() as session:
        session.add(
            User(
                username=f"p{NATIONAL_ID}",
                full_name="زهرا کریمی",
                national_id=NATIONAL_ID,
                role=Role.PARTY,
                password_hash="!",
            )
        )
    after_counter = await _counts(db)
    late = await client.post(
        "/api/v1/signup/verify", json={"signup_token": token, "code": code, "password": PASSWORD}
    )
    assert late.status_code == 409
    assert (await late.get_json())["error"]["code"] == "account_exists"
    assert await _counts(db) == after_counter
    async with db.transaction(write=False) as session:
        used = await session.scalar(select(PhoneCode.used_at).order_by(PhoneCode.id.desc()))
    assert used is None


async def test_step_one_is_limited_per_client_even_when_refused(
    client: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signup, "STARTS_PER_CLIENT", 3)
    for _ in range(3):
        refused = await _api_start(client, **_worker(mobile=DEV_FOREIGN_MOBILE))
        assert refused.status_code == 422
    limited = await _api_start(client, **_worker())
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert await _sms(db) == []


async def test_a_second_code_within_a_minute_is_refused_and_a_new_one_retires_the_first(
    client: Any, db: Any
) -> None:
    started = await _api_start(client, **_worker())
    token = (await started.get_json())["signup_token"]
    soon = await client.post("/api/v1/signup/resend", json={"signup_token": token})
    assert soon.status_code == 429 and len(await _sms(db)) == 1
    first = _code_of((await _sms(db))[0].body)
    clock.advance(signup.phone_codes.RESEND_AFTER)
    again = await client.post("/api/v1/signup/resend", json={"signup_token": token})
    assert again.status_code == 202 and len(await _sms(db)) == 2
    second = _code_of((await _sms(db))[1].body)
    if first != second:
        old = await client.post(
            "/api/v1/signup/verify",
            json={"signup_token": token, "code": first, "password": PASSWORD},
        )
        assert old.status_code == 422
    done = await client.post(
        "/api/v1/signup/verify", json={"signup_token": token, "code": second, "password": PASSWORD}
    )
    assert done.status_code == 201


async def test_an_expired_or_forged_token_is_refused(client: Any, db: Any) -> None:
    started = await _api_start(client, **_worker())
    token = (await started.get_json())["signup_token"]
    code = _code_of((await _sms(db))[-1].body)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    refused = await client.post(
        "/api/v1/signup/verify", json={"signup_token": forged, "code": code, "password": PASSWORD}
    )
    assert refused.status_code == 422
    assert (await refused.get_json())["error"]["code"] == "signup_expired"
    assert await _user(db, NATIONAL_ID) is None


def test_an_unknown_identity_registry_stops_the_start(settings: Settings) -> None:
    import dataclasses

    from hearing_server.app import create_app

    with pytest.raises(RegistryConfigError, match="HEYAT_IDENTITY_REGISTRY='shahkar'"):
        build_identity_registry(dataclasses.replace(settings, identity_registry="shahkar"))
    with pytest.raises(RegistryConfigError, match="not a known identity registry"):
        create_app(dataclasses.replace(settings, identity_registry="shahkar"))


# ------------------------------------------------------------------ a real server


async def test_a_server_on_kavenegar_delivers_the_code_once_and_it_completes_sign_up(
    settings: Settings, db: Any, tmp_path: Any
) -> None:
    async with db.transaction() as session:  # the demo's own queued messages: set aside
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "queued")
            .values(status="sent", sent_at=clock.utcnow())
        )
    with fake_kavenegar.running() as fake:
        server = ServeProcess(
            settings,
            tmp_path / "serve.log",
            HEYAT_SMS_PROVIDER="kavenegar",
            HEYAT_SMS_API_KEY=API_KEY,
            HEYAT_SMS_SENDER_LINE=SENDER,
            HEYAT_SMS_API_URL=fake.url,
        )
        try:
            await server.start()
            async with httpx.AsyncClient(timeout=EVENTUALLY_SECONDS, base_url=server.url) as http:
                started = await http.post("/api/v1/signup", json=_worker())
                assert started.status_code == 202, started.text
                token = started.json()["signup_token"]

                async def delivered() -> list[OutboxMessage]:
                    rows = await _sms(db)
                    return rows if rows and rows[0].status == "sent" else []

                from tests.conftest import eventually

                [message] = await eventually(delivered)
                sent = [s for s in fake.received if s.form.get("receptor") == MOBILE]
                assert len(sent) == 1 and sent[0].method == "sms/send"
                assert sent[0].form["sender"] == SENDER
                assert message.provider_message_id == str(sent[0].messageid)
                code = _code_of(sent[0].form["message"])  # read from what the provider got

                done = await http.post(
                    "/api/v1/signup/verify",
                    json={"signup_token": token, "code": code, "password": PASSWORD},
                )
                assert done.status_code == 201, done.text
                me = await http.get("/api/v1/me")
                assert me.status_code == 200 and me.json()["username"] == NATIONAL_ID
        finally:
            server.stop()
    assert len([s for s in fake.received if s.form.get("receptor") == MOBILE]) == 1
