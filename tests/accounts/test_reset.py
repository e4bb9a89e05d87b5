"""Password reset by a code sent by SMS or e-mail: the same answer whether or not the
account exists, one message only when it does, every session of the account ended."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from hearing_server.accounts.models import Role, ThrottleHit
from hearing_server.accounts.services import do_create_user
from hearing_server.audit.models import AuditEvent
from hearing_server.notifications.models import OutboxMessage
from hearing_server.text import make_national_id
from tests.conftest import OtpSource, Person, api_login

NEW_PASSWORD = "a-Fresh-passw0rd-2"
WORKER_MOBILE = "09121000003"
WORKER_NID = make_national_id("001234569")
NOBODY_NID = make_national_id("009876543")


async def _codes(db: Any, channel: str = "sms") -> list[OutboxMessage]:
    async with db.transaction(write=False) as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.channel == channel, OutboxMessage.dedupe_key.like("phone-code:%"))
            .order_by(OutboxMessage.id)
        )
        return list(rows)


def _code_of(message: OutboxMessage) -> str:
    found = re.search(r"#(\d{6})$", message.body) or re.search(r"code: (\d{6})", message.body)
    assert found, message.body
    return found.group(1)


def _csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _without_csrf(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', html)


async def _start(browser: Any, identifier: str, channel: str = "sms") -> Any:
    csrf = _csrf_from(await (await browser.get("/reset")).get_data(as_text=True))
    return await browser.post(
        "/reset", form={"identifier": identifier, "channel": channel, "csrf_token": csrf}
    )


async def _complete(browser: Any, code: str, password: str = NEW_PASSWORD, again: str = "") -> Any:
    page = await browser.get("/reset/code")
    assert page.status_code == 200
    csrf = _csrf_from(await page.get_data(as_text=True))
    return await browser.post(
        "/reset/code",
        form={
            "code": code,
            "password": password,
            "password_again": again or password,
            "csrf_token": csrf,
        },
    )


async def _password_ok(quart_app: Any, username: str, password: str) -> bool:
    """The password step of a sign-in accepts ``password`` (the code step comes next)."""
    browser = quart_app.test_client()
    csrf = _csrf_from(await (await browser.get("/login")).get_data(as_text=True))
    response = await browser.post(
        "/login", form={"username": username, "password": password, "csrf_token": csrf}
    )
    return bool(response.status_code == 302)


async def test_an_existing_and_a_missing_account_get_the_same_answer_and_only_one_a_code(
    quart_app: Any, db: Any
) -> None:
    answers = []
    for identifier in (WORKER_NID, NOBODY_NID):
        browser = quart_app.test_client()
        started = await _start(browser, identifier)
        page = await browser.get("/reset/code")
        answers.append(
            (
                started.status_code,
                started.headers.get("Location"),
                await started.get_data(as_text=True),
                page.status_code,
                _without_csrf(await page.get_data(as_text=True)),
            )
        )
    assert answers[0] == answers[1]
    assert answers[0][0] == 302 and answers[0][3] == 200
    assert "اگر حسابی با این مشخصات وجود داشته باشد" in answers[0][4]
    [message] = await _codes(db)
    assert message.address == WORKER_MOBILE and "گذرواژهٔ تازه" in message.body

    api = quart_app.test_client()
    bodies = []
    for identifier in ("worker", "no.such.user"):
        response = await api.post(
            "/api/v1/auth/reset/start", json={"identifier": identifier, "channel": "sms"}
        )
        bodies.append((response.status_code, await response.get_json()))
    assert bodies[0] == bodies[1] and bodies[0][0] == 202
    assert len(await _codes(db)) == 1  # the worker's number had a code a moment ago


async def test_reset_by_sms_sets_the_password_and_ends_every_session(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    worker = people["worker"]
    signed_in = quart_app.test_client()
    await api_login(signed_in, worker, otp)
    assert (await signed_in.get("/api/v1/me")).status_code == 200
    for _ in range(2):  # failed sign-ins that count against the account
        await quart_app.test_client().post(
            "/api/v1/auth/login", json={"username": "worker", "password": "wrong-one", "otp": "1"}
        )

    browser = quart_app.test_client()
    await _start(browser, "۰" + WORKER_NID[1:])  # Persian digits are fine
    code = _code_of((await _codes(db))[-1])
    wrong = await _complete(browser, f"{(int(code) + 1) % 1_000_000:06d}")
    assert wrong.status_code == 422
    assert "کد درست نیست یا منقضی شده است" in await wrong.get_data(as_text=True)
    differ = await _complete(browser, code, again=NEW_PASSWORD + "x")
    assert differ.status_code == 422
    assert "دو گذرواژه یکسان نیستند" in await differ.get_data(as_text=True)

    done = await _complete(browser, code)
    assert done.status_code == 302 and done.headers["Location"].endswith("/reset/done")
    assert (await signed_in.get("/api/v1/me")).status_code == 401  # the old session ended
    async with db.transaction(write=False) as session:
        locks = await session.scalar(
            select(func.count())
            .select_from(ThrottleHit)
            .where(ThrottleHit.key.like("login:s:worker:%"))
        )
    assert locks == 0  # the account-wide failures were forgotten
    assert not await _password_ok(quart_app, "worker", worker.password)
    assert await _password_ok(quart_app, "worker", NEW_PASSWORD)
    assert (await browser.get("/reset/code")).status_code == 302  # the ticket is gone
    replay = await quart_app.test_client().post(
        "/api/v1/auth/reset/complete",
        json={"identifier": "worker", "channel": "sms", "code": code, "password": "x-Other-pw-77"},
    )
    assert replay.status_code == 422  # the code worked once
    assert await _password_ok(quart_app, "worker", NEW_PASSWORD)
    async with db.transaction(write=False) as session:
        audit = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "password.reset")
        )
    assert audit is not None and audit.actor_id == worker.id
    assert audit.payload["sessions_ended"] >= 1


async def test_reset_by_email_through_the_api(quart_app: Any, db: Any) -> None:
    async with db.transaction() as session:
        await do_create_user(
            session,
            username="mail.party",
            full_name="خواهان رایانامه",
            password="an-Old-password-9",
            role=Role.PARTY,
            email="Mail.Party@example.com",
        )
    api = quart_app.test_client()
    started = await api.post(
        "/api/v1/auth/reset/start", json={"identifier": "mail.party", "channel": "email"}
    )
    assert started.status_code == 202
    [message] = await _codes(db, "email")
    assert message.address == "mail.party@example.com"
    assert await _codes(db, "sms") == []
    code = _code_of(message)
    payload = {"identifier": "mail.party", "channel": "email", "password": NEW_PASSWORD}
    wrong = await api.post(
        "/api/v1/auth/reset/complete", json={**payload, "code": f"{(int(code) + 3) % 10**6:06d}"}
    )
    assert wrong.status_code == 422
    assert (await wrong.get_json())["error"]["code"] == "reset_code_invalid"
    weak = await api.post(
        "/api/v1/auth/reset/complete", json={**payload, "code": code, "password": "short"}
    )
    assert weak.status_code == 422 and "password" in (await weak.get_json())["error"]["fields"]
    named = await api.post(
        "/api/v1/auth/reset/complete",
        json={**payload, "code": code, "password": "my-mail.party-pass"},
    )
    assert named.status_code == 422  # the account's name in it: refused, the code kept
    ok = await api.post("/api/v1/auth/reset/complete", json={**payload, "code": code})
    assert ok.status_code == 200, await ok.get_json()
    assert await _password_ok(quart_app, "mail.party", NEW_PASSWORD)


async def test_completing_for_a_missing_account_is_refused_like_a_wrong_code(
    quart_app: Any, db: Any
) -> None:
    api = quart_app.test_client()
    bodies = []
    for identifier in ("worker", "no.such.user"):
        await api.post(
            "/api/v1/auth/reset/start", json={"identifier": identifier, "channel": "sms"}
        )
        response = await api.post(
            "/api/v1/auth/reset/complete",
            json={
                "identifier": identifier,
                "channel": "sms",
                "code": "000000" if identifier != "worker" else "999999",
                "password": NEW_PASSWORD,
            },
        )
        bodies.append((response.status_code, await response.get_json()))
    if _code_of((await _codes(db))[-1]) != "999999":
        assert bodies[0] == bodies[1]
    assert bodies[1][0] == 422 and bodies[1][1]["error"]["code"] == "reset_code_invalid"


async def test_a_forged_ticket_or_no_ticket_goes_back_to_the_start(quart_app: Any) -> None:
    browser = quart_app.test_client()
    assert (await browser.get("/reset/code")).headers["Location"].endswith("/reset")
    await _start(browser, "worker")
    cookie = next(c for c in browser.cookie_jar if c.name == "heyat_reset").value
    body, _dot, signature = cookie.rpartition(".")
    forged = quart_app.test_client()
    response = await forged.get(
        "/reset/code", headers={"Cookie": f"heyat_reset={body[:-2]}AA.{signature}"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/reset")


async def test_bad_input_is_a_clear_422_and_the_login_page_links_to_reset(client: Any) -> None:
    assert 'href="/reset"' in await (await client.get("/login")).get_data(as_text=True)
    empty = await _start(client, "  ")
    assert empty.status_code == 422
    assert "کد ملی یا نام کاربری خود را وارد کنید" in await empty.get_data(as_text=True)
    channel = await _start(client, "worker", channel="pigeon")
    assert channel.status_code == 422
    api = await client.post(
        "/api/v1/auth/reset/start", json={"identifier": "worker", "channel": "pigeon"}
    )
    assert api.status_code == 422
