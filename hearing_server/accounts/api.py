"""/api/v1 for programs: sign-in with password and code in one call (a party without an
authenticator asks for the code by SMS first), who am I, sign-out."""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import BaseModel, Field
from quart import Blueprint, Response, make_response, request
from quart_schema import document_response, validate_request

from hearing_server.accounts import (
    login_codes,
    phone_codes,
    reset,
    security,
    services,
    sessions,
    tenancy,
    users,
)
from hearing_server.accounts.models import LoginSession, Role, SecondFactor, User
from hearing_server.accounts.reset import ResetChannel
from hearing_server.accounts.views import SENT_MESSAGE, code_client, hash_new_password
from hearing_server.errors import Conflict, Forbidden, Invalid, Unauthenticated
from hearing_server.i18n import gettext as _
from hearing_server.web.context import (
    SESSION_COOKIE,
    client_ip,
    csrf_exempt,
    current_login,
    db_session,
    device_cookie,
    login_required,
    mark_persist,
    require_user,
    runtime,
    set_device_cookie,
)
from hearing_server.web.schemas import Out

blueprint = Blueprint("api_accounts", __name__, url_prefix="/api/v1")


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    otp: str = Field(
        min_length=1,
        max_length=32,
        description="TOTP code or a recovery code; for a party who signs in by SMS, the code "
        "sent by POST /api/v1/auth/login/sms-code",
    )


class SmsCodeRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class SmsCodeOut(Out):
    sent_to: str = Field(description="the mobile number the code went to, masked")
    expires_in: int = Field(description="seconds the code stays valid")
    resend_after: int = Field(description="seconds until another code may be asked for")


class UserOut(Out):
    id: int
    username: str
    full_name: str | None
    role: str
    locale: str | None
    national_id: str | None
    mobile: str | None
    email: str | None


class LoginOut(Out):
    user: UserOut
    csrf_token: str


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role.value,
        "locale": user.locale,
        "national_id": user.national_id,
        "mobile": user.mobile,
        "email": user.email,
    }


@blueprint.post("/auth/login")
@csrf_exempt  # no session yet: nothing to forge
@validate_request(LoginRequest)
@document_response(LoginOut)  # a Response with its cookie: documented, checked by the tests
async def api_login(data: LoginRequest) -> Any:
    """Password and code in one call. 200 with the session cookie, or 401 with the error shape.

    The code is the authenticator's (or a recovery code). A party without an authenticator
    signs in with a code sent by SMS, in two steps: POST /api/v1/auth/login/sms-code with
    the username and password sends it; this call with that code as ``otp`` completes."""
    rt = runtime()
    settings = rt.settings
    device, device_hash = device_cookie()
    try:
        # argon2 first, with no transaction open; then the request's write transaction.
        attempt = await services.read_password_attempt(
            rt.db,
            settings,
            username=data.username,
            password=data.password,
            ip=client_ip(),
            device=device_hash,
        )
        session = await db_session()
        new = await services.do_password_login(
            session,
            settings,
            attempt,
            ip=client_ip(),
            user_agent=request.headers.get("User-Agent"),
            device=device_hash,
        )
        row: LoginSession = new.login_session
        if row.stage != "password":
            raise Forbidden(
                "Set up your authenticator in the browser first.", code="totp_not_enrolled"
            )
        code = data.otp.strip()
        if "-" in code or len(code) == 12:
            await services.do_second_factor(session, settings, row, recovery_code=code)
        else:
            await services.do_second_factor(session, settings, row, code=code)
    except Invalid as exc:
        # A wrong code is an authentication failure to a program, like a wrong password.
        mark_persist(exc)
        raise Unauthenticated(
            exc.message, code=exc.code, persist=exc.persist, **exc.params
        ) from exc
    body = {"user": user_json(row.user), "csrf_token": row.csrf_token}
    response = cast(Response, await make_response(body, 200))
    response.headers.add("Set-Cookie", _cookie_header(new.token))
    set_device_cookie(response, device)
    return response


@blueprint.post("/auth/login/sms-code")
@csrf_exempt  # no session yet: nothing to forge
@validate_request(SmsCodeRequest)
@document_response(SmsCodeOut, 202)
async def api_login_sms_code(data: SmsCodeRequest) -> Any:
    """First step of a party's sign-in by SMS: checks the password (counted like a sign-in)
    and sends a six-digit code to the account's mobile (one SMS per call). 202 with where it
    went; 409 ``totp_sign_in`` for an account that signs in with an authenticator; 429 with
    Retry-After while an earlier code is too recent. Then POST /api/v1/auth/login with the
    code as ``otp``."""
    rt = runtime()
    settings = rt.settings
    _device, device_hash = device_cookie()
    # argon2 first, with no transaction open; then the request's write transaction.
    attempt = await services.read_password_attempt(
        rt.db,
        settings,
        username=data.username,
        password=data.password,
        ip=client_ip(),
        device=device_hash,
    )
    session = await db_session()
    user = await services.check_password(session, settings, attempt)
    if login_codes.second_factor_for(user, user.totp) != SecondFactor.SMS:
        raise Conflict(
            "This account signs in with an authenticator code, not by SMS.", code="totp_sign_in"
        )
    await login_codes.do_send_code_to(session, settings, user)
    return {
        "sent_to": phone_codes.mask_mobile(user.mobile or ""),
        "expires_in": int(phone_codes.CODE_TTL.total_seconds()),
        "resend_after": int(phone_codes.RESEND_AFTER.total_seconds()),
    }, 202


def _cookie_header(token: str) -> str:
    secure = "; Secure" if runtime().settings.secure_cookies else ""
    return f"{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}"


@blueprint.get("/me")
@login_required()
async def me() -> Any:
    user = require_user()
    login = current_login()
    return {**user_json(user), "csrf_token": login.csrf_token if login else None}


@blueprint.post("/auth/logout")
@login_required()
async def api_logout() -> Any:
    login = current_login()
    if login is not None:
        await sessions.do_logout(await db_session(), login)
    return (
        {"ok": True},
        200,
        {"Set-Cookie": f"{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"},
    )


class CreateUserRequest(BaseModel):
    username: str = Field(max_length=64)
    full_name: str = Field(max_length=200)
    password: str = Field(max_length=200)
    role: Role
    national_id: str | None = Field(default=None, max_length=32)
    mobile: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    locale: str = Field(default="fa", max_length=2)
    # The national admin places staff in a labour office, a clerk at a counter office; an
    # office admin's users join the admin's own office.
    office_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    counter_office_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


@blueprint.post("/admin/users")
@login_required(Role.ADMIN)
@validate_request(CreateUserRequest)
async def api_create_user(data: CreateUserRequest) -> Any:
    """Create a user; 422 with every bad field named (in the admin's language) otherwise."""
    # argon2 before the request's write transaction opens (its first statement below).
    password_hash = await security.hash_password(data.password)
    session = await db_session()
    actor = require_user()
    fields = data.model_dump()
    fields["office_id"], fields["counter_office_id"] = await tenancy.placement_for_new_user(
        session, actor, data.role, data.office_id, data.counter_office_id
    )
    user = await users.do_create_user(
        session, actor_id=actor.id, password_hash=password_hash, **fields
    )
    return user_json(user), 201


@blueprint.post("/admin/users/<int:user_id>/sessions/revoke")
@login_required(Role.ADMIN)
async def api_revoke(user_id: int) -> Any:
    await tenancy.require_manageable_user(await db_session(), require_user(), user_id)
    count = await sessions.do_revoke_sessions(
        await db_session(), actor=require_user(), user_id=user_id
    )
    return {"revoked": count}


# ---------------------------------------------------------------- password reset (accounts.reset)


class ResetStartRequest(BaseModel):
    identifier: str = Field(
        min_length=1, max_length=reset.MAX_IDENTIFIER, description="national ID or username"
    )
    channel: Literal["sms", "email"] = Field(description="where the code goes")


class ResetStartOut(Out):
    message: str


class ResetCompleteRequest(BaseModel):
    identifier: str = Field(min_length=1, max_length=reset.MAX_IDENTIFIER)
    channel: Literal["sms", "email"]
    code: str = Field(min_length=1, max_length=32, description="the code that was sent")
    password: str = Field(min_length=1, max_length=200, description="the new password")


class ResetCompleteOut(Out):
    ok: bool
    message: str


@blueprint.post("/auth/reset/start")
@csrf_exempt  # no session: nothing to forge
@validate_request(ResetStartRequest)
@document_response(ResetStartOut, 202)
async def api_reset_start(data: ResetStartRequest) -> Any:
    """Ask for a password reset code by SMS or e-mail. 202 with the same answer whether or
    not the account exists (or has an address on that channel); 429 when this client asked
    too often. Then POST /api/v1/auth/reset/complete."""
    await reset.do_start_reset(
        await db_session(),
        runtime().settings,
        identifier=data.identifier,
        channel=ResetChannel(data.channel),
        client=code_client(),
    )
    return {"message": _(SENT_MESSAGE)}, 202


@blueprint.post("/auth/reset/complete")
@csrf_exempt  # no session: nothing to forge
@validate_request(ResetCompleteRequest)
@document_response(ResetCompleteOut)
async def api_reset_complete(data: ResetCompleteRequest) -> Any:
    """Set a new password with the code. Every session of the account ends. 422
    ``reset_code_invalid`` for any code that does not work (the same whether or not the
    account exists), 422 with ``fields`` for a weak password, 429 after too many wrong
    codes from this client."""
    password_hash = await hash_new_password(data.password, data.password)
    await reset.do_complete_reset(
        await db_session(),
        runtime().settings,
        identifier=data.identifier,
        channel=ResetChannel(data.channel),
        code=data.code,
        password=data.password,
        password_hash=password_hash,
        client=code_client(),
    )
    return {"ok": True, "message": _("Your password has been changed. Please sign in.")}
