"""A party without an authenticator signs in with a code sent by SMS; staff, and parties
who enrolled an authenticator, keep the authenticator. Through the pages, the API, and
once through a live server whose SMS goes to a Kavenegar-speaking fake on a real port."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from hearing_server import clock
from hearing_server.accounts.models import Role
from hearing_server.accounts.phone_codes import RESEND_AFTER
from hearing_server.accounts.services import do_create_user
from hearing_server.audit.models import AuditEvent
from hearing_server.config import Settings
from hearing_server.notifications.models import OutboxMessage
from tests.conftest import EVENTUALLY_SECONDS, OtpSource, Person, eventually, kavenegar_live_server
from tests.notifications import fake_kavenegar
from tests.notifications.fake_kavenegar import SENDER

PASSWORD = "a-long-Password-1"
MOBILE = "09121239876"


async def _party(db: Any, username: str = "party.sms", mobile: str | None = MOBILE) -> int:
    async with db.transaction() as session:
        user = await do_create_user(
            session,
            username=username,
            full_name="کارگر پیامکی",
            password=PASSWORD,
            role=Role.PARTY,
            mobile=mobile,
        )
        return user.id


async def _sms(db: Any, mobile: str = MOBILE) -> list[OutboxMessage]:
    async with db.transaction(write=False) as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.channel == "sms",
                OutboxMessage.address == mobile,
                OutboxMessage.subject.like("code:%"),
            )
            .order_by(OutboxMessage.id)
        )
        return list(rows)


def _code_of(body: str) -> str:
    found = re.search(r"#(\d{6})$", body)
    assert found, body
    return found.group(1)


def _other(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def _password_step(browser: Any, username: str, password: str = PASSWORD) -> Any:
    csrf = _csrf_from(await (await browser.get("/login")).get_data(as_text=True))
    return await browser.post(
        "/login", form={"username": username, "password": password, "csrf_token": csrf}
    )


async def _code_page(browser: Any) -> tuple[int, str]:
    page = await browser.get("/login/otp")
    return page.status_code, await page.get_data(as_text=True)


async def _send_code(browser: Any, code: str) -> Any:
    _status, html = await _code_page(browser)
    return await browser.post("/login/otp", form={"code": code, "csrf_token": _csrf_from(html)})


async def test_a_partys_sign_in_sends_exactly_one_sms_and_its_code_completes_it(
    quart_app: Any, db: Any
) -> None:
    await _party(db)
    browser = quart_app.test_client()
    step1 = await _password_step(browser, "party.sms")
    assert step1.status_code == 302 and "/login/otp" in step1.headers["Location"]
    [message] = await _sms(db)
    assert "ورود" in message.body
    status, html = await _code_page(browser)
    assert status == 200
    assert "۰۹۱۲…۷۶" in html  # where it went, masked (Persian digits on a Persian page)
    assert MOBILE not in html and "۰۹۱۲۱۲۳۹۸۷۶" not in html
    assert 'name="code"' in html and 'autocomplete="one-time-code"' in html
    assert "ثانیه" in html  # the wait before another may be asked for, in seconds
    assert (await browser.get("/api/v1/me")).status_code == 401  # not signed in yet

    done = await _send_code(browser, _code_of(message.body))
    assert done.status_code == 302
    me = await browser.get("/api/v1/me")
    assert me.status_code == 200 and (await me.get_json())["username"] == "party.sms"
    assert len(await _sms(db)) == 1  # the code page and the sign-in sent nothing more
    async with db.transaction(write=False) as session:
        login = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "login").order_by(AuditEvent.seq.desc())
        )
    assert login is not None and login.payload == {"factor": "sms"}


async def test_a_wrong_code_is_refused_and_a_used_code_cannot_be_replayed(
    quart_app: Any, db: Any
) -> None:
    await _party(db)
    browser = quart_app.test_client()
    await _password_step(browser, "party.sms")
    code = _code_of((await _sms(db))[-1].body)
    wrong = await _send_code(browser, _other(code))
    assert wrong.status_code == 422
    assert "کد درست نیست" in await wrong.get_data(as_text=True)
    assert (await browser.get("/api/v1/me")).status_code == 401
    assert (await _send_code(browser, code)).status_code == 302

    # Another browser, within the minute: no new SMS (the number had one), and the used
    # code does not sign it in.
    thief = quart_app.test_client()
    await _password_step(thief, "party.sms")
    assert len(await _sms(db)) == 1
    replay = await _send_code(thief, code)
    assert replay.status_code == 422
    assert (await thief.get("/api/v1/me")).status_code == 401


async def test_send_again_waits_a_minute_then_sends_one_more_and_only_the_new_code_works(
    quart_app: Any, db: Any
) -> None:
    await _party(db)
    browser = quart_app.test_client()
    await _password_step(browser, "party.sms")
    first = _code_of((await _sms(db))[-1].body)
    _status, html = await _code_page(browser)
    soon = await browser.post("/login/otp/resend", form={"csrf_token": _csrf_from(html)})
    assert soon.status_code == 429 and int(soon.headers["Retry-After"]) >= 1
    page = await soon.get_data(as_text=True)
    assert "ثانیه" in page and 'name="code"' in page  # a message on the code page
    assert len(await _sms(db)) == 1
    clock.advance(RESEND_AFTER)
    again = await browser.post("/login/otp/resend", form={"csrf_token": _csrf_from(html)})
    assert again.status_code == 302
    messages = await _sms(db)
    assert len(messages) == 2
    second = _code_of(messages[-1].body)
    if first != second:
        assert (await _send_code(browser, first)).status_code == 422
    assert (await _send_code(browser, second)).status_code == 302
    assert (await browser.get("/api/v1/me")).status_code == 200


async def test_staff_still_sign_in_with_their_authenticator_and_get_no_sms(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    for username in ("member.gov1", "secretary", "clerk"):
        browser = quart_app.test_client()
        await _password_step(browser, username, people[username].password)
        status, html = await _code_page(browser)
        assert status == 200 and 'name="otp"' in html and 'name="code"' not in html
    async with db.transaction(write=False) as session:
        sent = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.subject.like("code:%"))
        )
    assert sent == 0


async def test_staff_without_an_authenticator_must_enrol_not_use_sms(
    quart_app: Any, db: Any
) -> None:
    async with db.transaction() as session:
        await do_create_user(
            session,
            username="new.clerk",
            full_name="کارمند تازه",
            password=PASSWORD,
            role=Role.CLERK,
            mobile="09121230000",
        )
    browser = quart_app.test_client()
    step1 = await _password_step(browser, "new.clerk")
    assert step1.headers["Location"].endswith("/account/authenticator")
    assert await _sms(db, "09121230000") == []


async def test_a_party_without_a_mobile_enrols_an_authenticator(quart_app: Any, db: Any) -> None:
    await _party(db, "party.nomobile", mobile=None)
    step1 = await _password_step(quart_app.test_client(), "party.nomobile")
    assert step1.headers["Location"].endswith("/account/authenticator")


async def test_a_party_with_an_authenticator_gets_totp_not_sms(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    worker = people["worker"]  # the demo's worker has an authenticator
    browser = quart_app.test_client()
    await _password_step(browser, "worker", worker.password)
    status, html = await _code_page(browser)
    assert status == 200 and 'name="otp"' in html and 'name="code"' not in html
    assert await _sms(db, "09121000003") == []
    done = await browser.post(
        "/login/otp", form={"otp": otp.code(worker.totp_secret), "csrf_token": _csrf_from(html)}
    )
    assert done.status_code == 302
    assert (await browser.get("/api/v1/me")).status_code == 200


async def test_a_party_enrols_an_authenticator_from_the_account_page_then_uses_it(
    quart_app: Any, db: Any, otp: OtpSource
) -> None:
    await _party(db)
    browser = quart_app.test_client()
    await _password_step(browser, "party.sms")
    assert (await _send_code(browser, _code_of((await _sms(db))[-1].body))).status_code == 302
    account = await (await browser.get("/account")).get_data(as_text=True)
    assert 'href="/account/authenticator"' in account
    page = await browser.get("/account/authenticator")
    assert page.status_code == 200
    html = await page.get_data(as_text=True)
    secret = re.search(r'class="secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")  # type: ignore[union-attr]
    done = await browser.post(
        "/account/authenticator", form={"otp": otp.code(secret), "csrf_token": _csrf_from(html)}
    )
    assert done.status_code == 200 and "<code>" in await done.get_data(as_text=True)
    assert (await browser.get("/api/v1/me")).status_code == 200  # still signed in
    account = await (await browser.get("/account")).get_data(as_text=True)
    assert 'href="/account/authenticator"' not in account

    clock.advance(timedelta(minutes=2))  # past the enrolment code's time-step
    later = quart_app.test_client()
    await _password_step(later, "party.sms")
    _status, html = await _code_page(later)
    assert 'name="otp"' in html and 'name="code"' not in html
    assert len(await _sms(db)) == 1  # no SMS for this sign-in
    ok = await later.post(
        "/login/otp", form={"otp": otp.code(secret), "csrf_token": _csrf_from(html)}
    )
    assert ok.status_code == 302


async def test_a_pending_sms_sign_in_ends_once_the_party_enrolled_an_authenticator(
    quart_app: Any, db: Any, otp: OtpSource
) -> None:
    await _party(db)
    waiting = quart_app.test_client()
    await _password_step(waiting, "party.sms")
    code = _code_of((await _sms(db))[-1].body)
    browser = quart_app.test_client()
    clock.advance(RESEND_AFTER)
    await _password_step(browser, "party.sms")
    assert (await _send_code(browser, _code_of((await _sms(db))[-1].body))).status_code == 302
    html = await (await browser.get("/account/authenticator")).get_data(as_text=True)
    secret = re.search(r'class="secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")  # type: ignore[union-attr]
    await browser.post(
        "/account/authenticator", form={"otp": otp.code(secret), "csrf_token": _csrf_from(html)}
    )
    refused = await _send_code(waiting, code)  # its code was retired by the later one anyway
    assert refused.status_code in (409, 422)
    assert (await waiting.get("/api/v1/me")).status_code == 401


# ------------------------------------------------------------------ API


async def test_api_two_steps_sms_code_then_login_with_it(client: Any, db: Any) -> None:
    await _party(db)
    creds = {"username": "party.sms", "password": PASSWORD}
    sent = await client.post("/api/v1/auth/login/sms-code", json=creds)
    body = await sent.get_json()
    assert sent.status_code == 202, body
    assert body == {"sent_to": "0912…76", "expires_in": 300, "resend_after": 60}
    [message] = await _sms(db)
    code = _code_of(message.body)
    too_soon = await client.post("/api/v1/auth/login/sms-code", json=creds)
    assert too_soon.status_code == 429 and int(too_soon.headers["Retry-After"]) >= 1
    assert len(await _sms(db)) == 1

    wrong = await client.post("/api/v1/auth/login", json={**creds, "otp": _other(code)})
    assert wrong.status_code == 401
    assert (await wrong.get_json())["error"]["code"] == "sms_code_invalid"
    ok = await client.post("/api/v1/auth/login", json={**creds, "otp": code})
    assert ok.status_code == 200 and (await ok.get_json())["user"]["username"] == "party.sms"
    again = await client.post("/api/v1/auth/login", json={**creds, "otp": code})
    assert again.status_code == 401
    assert (await again.get_json())["error"]["code"] == "sms_code_expired"
    assert len(await _sms(db)) == 1  # /auth/login itself never sends


async def test_api_sms_code_needs_the_password_and_is_only_for_sms_sign_in(
    client: Any, db: Any, people: dict[str, Person]
) -> None:
    await _party(db)
    bad = await client.post(
        "/api/v1/auth/login/sms-code", json={"username": "party.sms", "password": "not-it-at-all"}
    )
    assert bad.status_code == 401 and (await bad.get_json())["error"]["code"] == "bad_credentials"
    staff = await client.post(
        "/api/v1/auth/login/sms-code",
        json={"username": "member.gov1", "password": people["member.gov1"].password},
    )
    assert staff.status_code == 409
    assert (await staff.get_json())["error"]["code"] == "totp_sign_in"
    async with db.transaction(write=False) as session:
        sent = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.subject.like("code:%"))
        )
    assert sent == 0


# ------------------------------------------------------------------ live, real SMS provider API


async def test_live_sign_in_code_reaches_kavenegar_once_and_completes_the_sign_in(
    settings: Settings, db: Any
) -> None:

    await _party(db)
    async with db.transaction() as session:  # the demo's own messages: set aside as sent
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "queued")
            .values(status="sent", sent_at=clock.utcnow())
        )
    async with kavenegar_live_server(settings) as (live, fake):
        url = live.url
        async with httpx.AsyncClient(timeout=EVENTUALLY_SECONDS, base_url=url) as browser:
            page = await browser.get("/login")
            csrf = _csrf_from(page.text)
            step1 = await browser.post(
                "/login", data={"username": "party.sms", "password": PASSWORD, "csrf_token": csrf}
            )
            assert step1.status_code == 302
            await eventually(lambda: _accepted(fake))
            [sent] = fake.accepted()
            assert sent.form["receptor"] == MOBILE and sent.form["sender"] == SENDER
            code = _code_of(sent.form["message"])
            assert sent.form["message"].endswith(f"@127.0.0.1 #{code}")

            otp_page = await browser.get("/login/otp")
            done = await browser.post(
                "/login/otp", data={"code": code, "csrf_token": _csrf_from(otp_page.text)}
            )
            assert done.status_code == 302
            me = await browser.get("/api/v1/me")
            assert me.status_code == 200 and me.json()["username"] == "party.sms"

            # Marked sent by the provider's answer: the loop never sends it again.
            async def marked() -> bool:
                [message] = await _sms(db)
                return message.status == "sent" and message.provider == "kavenegar"

            await eventually(marked)
            assert len(fake.received) == 1


async def _accepted(fake: fake_kavenegar.FakeKavenegar) -> bool:
    return bool(fake.accepted())


async def test_a_party_signs_in_with_their_national_id_in_any_digits(
    quart_app: Any, db: Any
) -> None:
    """A worker registered at the counter never saw the username made for them (p + ID)."""
    from hearing_server.text import make_national_id

    national_id = make_national_id("006677889")
    async with db.transaction() as session:
        await do_create_user(
            session,
            username=f"p{national_id}",
            full_name="کارگر پیشخوان",
            password=PASSWORD,
            role=Role.PARTY,
            national_id=national_id,
            mobile=MOBILE,
        )
    typed = national_id.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    browser = quart_app.test_client()
    step1 = await _password_step(browser, f"{typed[:3]}-{typed[3:9]}-{typed[9]}")
    assert step1.status_code == 302 and "/login/otp" in step1.headers["Location"]
    [message] = await _sms(db)
    assert (await _send_code(browser, _code_of(message.body))).status_code == 302
    me = await browser.get("/api/v1/me")
    assert (await me.get_json())["username"] == f"p{national_id}"
    # A wrong password reached by the ID counts against the same account as by username.
    stranger = quart_app.test_client()
    refused = await _password_step(stranger, national_id, password="not-the-password-1")
    assert refused.status_code == 401
