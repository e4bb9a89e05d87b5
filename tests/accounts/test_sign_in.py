"""Sign-in with password and TOTP, sessions, CSRF and throttling, through pages and the API."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from hearing_server import clock
from hearing_server.audit.models import AuditEvent
from hearing_server.audit.services import verify_chain
from hearing_server.config import Settings
from tests.conftest import OtpSource, Person, api_login


async def test_login_page_is_persian_by_default(client: Any) -> None:
    response = await client.get("/login")
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="fa" dir="rtl">' in html
    assert "ورود به سامانهٔ هیأت" in html
    assert 'name="csrf_token"' in html


async def test_member_signs_in_through_api_with_oathtool_code(
    client: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    chair = people["member.gov1"]
    await api_login(client, chair, otp)
    me = await client.get("/api/v1/me")
    body = await me.get_json()
    assert me.status_code == 200
    assert body["username"] == "member.gov1"
    assert body["role"] == "member"
    cookie = me.headers.get("Set-Cookie")
    assert cookie is None or "heyat_session" not in cookie  # /me does not re-issue the session


async def test_session_cookie_is_httponly_and_lax(
    client: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    worker = people["worker"]
    response = await client.post(
        "/api/v1/auth/login",
        json={
            "username": "worker",
            "password": worker.password,
            "otp": otp.code(worker.totp_secret),
        },
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # served over plain http in tests


async def test_wrong_password_is_401_with_error_shape_in_both_languages(
    client: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    payload = {"username": "worker", "password": "not-the-password", "otp": "123456"}
    fa = await client.post("/api/v1/auth/login", json=payload)
    assert fa.status_code == 401
    assert (await fa.get_json())["error"] == {
        "code": "bad_credentials",
        "message": "نام کاربری یا گذرواژه نادرست است.",
    }
    en = await client.post("/api/v1/auth/login", json=payload, headers={"Accept-Language": "en"})
    assert (await en.get_json())["error"]["message"] == "Wrong username or password."


async def test_malformed_login_body_is_422_not_500(client: Any) -> None:
    response = await client.post("/api/v1/auth/login", json={"username": "worker"})
    body = await response.get_json()
    assert response.status_code == 422
    assert body["error"]["code"] == "invalid"
    assert {d["field"] for d in body["error"]["details"]} == {"password", "otp"}
    garbage = await client.post(
        "/api/v1/auth/login", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert 400 <= garbage.status_code < 500


async def test_replayed_code_accepted_once_even_by_ten_concurrent_requests(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    member = people["member.wrk1"]
    code = otp.code(member.totp_secret)
    payload = {"username": member.username, "password": member.password, "otp": code}

    async def attempt() -> int:
        response = await quart_app.test_client().post("/api/v1/auth/login", json=payload)
        return int(response.status_code)

    statuses = await asyncio.gather(*(attempt() for _ in range(10)))
    assert statuses.count(200) == 1, statuses
    assert all(s == 401 for s in statuses if s != 200)
    again = await quart_app.test_client().post("/api/v1/auth/login", json=payload)
    assert again.status_code == 401
    assert (await again.get_json())["error"]["code"] == "otp_reused"
    async with db.transaction(write=False) as session:
        replays = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "otp.replayed")
        )
    assert replays == 10


async def test_five_wrong_codes_lock_until_the_lock_ends(
    client: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    member = people["member.emp1"]
    right = otp.code(member.totp_secret)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        response = await client.post(
            "/api/v1/auth/login",
            json={"username": member.username, "password": member.password, "otp": wrong},
        )
        assert response.status_code == 401
    locked = await client.post(
        "/api/v1/auth/login",
        json={"username": member.username, "password": member.password, "otp": right},
    )
    assert locked.status_code == 423
    assert (await locked.get_json())["error"]["code"] == "otp_locked"
    clock.advance(timedelta(minutes=5, seconds=1))
    await api_login(client, member, otp)


async def test_persian_digits_are_accepted_in_the_code(
    client: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    member = people["member.gov2"]
    code = otp.code(member.totp_secret).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    response = await client.post(
        "/api/v1/auth/login",
        json={"username": member.username, "password": member.password, "otp": code},
    )
    assert response.status_code == 200


async def test_logged_out_cookie_no_longer_works(
    client: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    csrf = await api_login(client, people["secretary"], otp)
    assert (await client.get("/api/v1/me")).status_code == 200
    stolen = client.cookie_jar  # what an attacker who copied the cookie would hold
    cookie = next(c for c in stolen if c.name == "heyat_session").value
    out = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200
    replay = await client.get("/api/v1/me", headers={"Cookie": f"heyat_session={cookie}"})
    assert replay.status_code == 401


async def test_admin_revocation_ends_a_session(
    quart_app: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    member_client = quart_app.test_client()
    await api_login(member_client, people["member.gov3"], otp)
    assert (await member_client.get("/api/v1/me")).status_code == 200
    admin_client = quart_app.test_client()
    csrf = await api_login(admin_client, people["admin"], otp)
    revoke = await admin_client.post(
        f"/api/v1/admin/users/{people['member.gov3'].id}/sessions/revoke",
        headers={"X-CSRF-Token": csrf},
    )
    assert revoke.status_code == 200
    assert (await revoke.get_json())["revoked"] == 1
    assert (await member_client.get("/api/v1/me")).status_code == 401


async def test_idle_session_expires(client: Any, people: dict[str, Person], otp: OtpSource) -> None:
    await api_login(client, people["clerk"], otp)
    clock.advance(timedelta(minutes=31))
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_post_without_csrf_token_is_refused(
    client: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    await api_login(client, people["worker"], otp)
    api = await client.post("/api/v1/auth/logout")
    assert api.status_code == 403
    assert (await api.get_json())["error"]["code"] == "csrf_failed"
    page = await client.post("/language", form={"locale": "en"})
    assert page.status_code == 403
    assert (await client.get("/api/v1/me")).status_code == 200  # nothing happened


async def test_anonymous_form_without_csrf_is_refused(client: Any) -> None:
    response = await client.post("/login", form={"username": "worker", "password": "x"})
    assert response.status_code == 403


async def test_password_throttle_per_account_and_client(
    client: Any, people: dict[str, Person], otp: OtpSource, settings: Settings
) -> None:
    """The client that guessed waits, even with the right password; the wait ends
    (tests/accounts/test_lockouts.py: the owner on another client never waits)."""
    worker = people["worker"]
    for _ in range(settings.login_attempts_per_client):
        bad = await client.post(
            "/api/v1/auth/login", json={"username": "worker", "password": "wrong-pass", "otp": "1"}
        )
        assert bad.status_code == 401
    blocked = await client.post(
        "/api/v1/auth/login",
        json={
            "username": "worker",
            "password": worker.password,
            "otp": otp.code(worker.totp_secret),
        },
    )
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1
    clock.advance(timedelta(minutes=16))
    await api_login(client, worker, otp)


async def test_sign_in_events_are_in_an_intact_audit_chain(
    client: Any, people: dict[str, Person], otp: OtpSource, db: Any
) -> None:
    await api_login(client, people["worker"], otp)
    await client.post(
        "/api/v1/auth/login", json={"username": "worker", "password": "nope-nope", "otp": "1"}
    )
    async with db.transaction(write=False) as session:
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
        report = await verify_chain(session)
    assert "login" in actions and "login.failed" in actions and "otp.accepted" in actions
    assert report.ok, report


def _csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def test_enrolment_page_then_recovery_code_works_once(
    quart_app: Any, db: Any, settings: Any, otp: OtpSource
) -> None:
    from hearing_server.accounts.models import Role
    from hearing_server.accounts.services import do_create_user

    async with db.transaction() as session:
        await do_create_user(
            session,
            username="newmember",
            full_name="عضو تازه",
            password="a-long-Password-1",
            role=Role.MEMBER,
        )
    browser = quart_app.test_client()
    csrf = _csrf_from(await (await browser.get("/login")).get_data(as_text=True))
    step1 = await browser.post(
        "/login",
        form={"username": "newmember", "password": "a-long-Password-1", "csrf_token": csrf},
    )
    assert step1.status_code == 302 and step1.headers["Location"].endswith("/account/authenticator")
    page = await browser.get("/account/authenticator")
    assert page.headers["Cache-Control"] == "no-store"
    html = await page.get_data(as_text=True)
    secret = re.search(r'class="secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")  # type: ignore[union-attr]
    wrong = await browser.post(
        "/account/authenticator", form={"otp": "12345", "csrf_token": _csrf_from(html)}
    )
    assert wrong.status_code == 422
    done = await browser.post(
        "/account/authenticator", form={"otp": otp.code(secret), "csrf_token": _csrf_from(html)}
    )
    codes = re.findall(
        r"<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code>", await done.get_data(as_text=True)
    )
    assert len(codes) == 10
    assert (await browser.get("/account")).status_code == 200

    def login_with(code: str) -> Any:
        return quart_app.test_client().post(
            "/api/v1/auth/login",
            json={"username": "newmember", "password": "a-long-Password-1", "otp": code},
        )

    assert (await login_with(codes[0])).status_code == 200
    second = await login_with(codes[0])
    assert second.status_code == 401
    assert (await second.get_json())["error"]["code"] == "recovery_invalid"


async def test_bad_national_id_and_weak_password_get_clear_messages_in_fa_and_en(
    client: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    csrf = await api_login(client, people["admin"], otp)
    payload = {
        "username": "new.worker",
        "full_name": "کارگر تازه",
        "password": "12345",
        "role": "party",
        "national_id": "۰۰۱۲۳۴۵۶۷۰",
    }
    fa = await client.post("/api/v1/admin/users", json=payload, headers={"X-CSRF-Token": csrf})
    body = await fa.get_json()
    assert fa.status_code == 422
    assert body["error"]["fields"]["national_id"].startswith("کد ملی معتبر نیست")
    assert body["error"]["fields"]["password"] == "گذرواژه باید دست‌کم ۱۰ نویسه باشد."
    switched = await client.post("/language", form={"locale": "en", "csrf_token": csrf})
    assert switched.status_code == 302
    en = await client.post("/api/v1/admin/users", json=payload, headers={"X-CSRF-Token": csrf})
    fields = (await en.get_json())["error"]["fields"]
    assert fields["national_id"].startswith("The national ID is not valid")
    assert fields["password"] == "The password must be at least 10 characters long."
    ok = await client.post(
        "/api/v1/admin/users",
        json={**payload, "password": "a-Better-passw0rd", "national_id": "0012345679 "},
        headers={"X-CSRF-Token": csrf},
    )
    assert ok.status_code == 422  # the secretary already holds that national ID
    made = await client.post(
        "/api/v1/admin/users",
        json={**payload, "password": "a-Better-passw0rd", "national_id": None},
        headers={"X-CSRF-Token": csrf},
    )
    assert made.status_code == 201


async def test_member_cannot_use_admin_api(
    client: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    csrf = await api_login(client, people["member.gov1"], otp)
    response = await client.post(
        f"/api/v1/admin/users/{people['worker'].id}/sessions/revoke", headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 403


async def test_health_and_readiness(client: Any) -> None:
    assert (await (await client.get("/healthz")).get_json()) == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and (await ready.get_json())["database"] == "ok"
    spec = await (await client.get("/openapi.json")).get_json()
    assert "/api/v1/auth/login" in spec["paths"]


async def test_absolute_timeout_ends_an_active_session(
    client: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    await api_login(client, people["clerk"], otp)
    for _ in range(25):  # active every 29 minutes, for 12 hours and more
        clock.advance(timedelta(minutes=29))
        if (await client.get("/api/v1/me")).status_code != 200:
            break
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_totp_key_rotation_keeps_codes_working(
    quart_app: Any, db: Any, settings: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    import dataclasses

    from cryptography.fernet import Fernet

    from hearing_server.accounts.models import TotpCredential
    from hearing_server.accounts.services import do_rotate_totp_secrets

    new_key = Fernet.generate_key().decode()
    rotated = dataclasses.replace(settings, totp_keys=(new_key, *settings.totp_keys))
    async with db.transaction() as session:
        count = await do_rotate_totp_secrets(session, rotated)
    assert count == len(people)
    only_new = dataclasses.replace(settings, totp_keys=(new_key,))
    async with db.transaction(write=False) as session:
        cred = await session.get(TotpCredential, people["worker"].id)
    from hearing_server.accounts.security import SecretBox

    assert SecretBox(only_new.totp_keys).open(cred.secret_encrypted) == people["worker"].totp_secret
    try:
        SecretBox(settings.totp_keys).open(cred.secret_encrypted)
    except ValueError:
        pass
    else:
        raise AssertionError("the old key alone must no longer decrypt a rotated secret")
