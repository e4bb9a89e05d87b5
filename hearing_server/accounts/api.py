"""/api/v1 for programs: sign-in with password and code in one call, who am I, sign-out."""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel, Field
from quart import Blueprint, Response, make_response, request
from quart_schema import document_response, validate_request

from hearing_server.accounts import services, sessions, tenancy, users
from hearing_server.accounts.models import LoginSession, Role, User
from hearing_server.errors import Forbidden, Invalid, Unauthenticated
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
    otp: str = Field(min_length=1, max_length=32, description="TOTP code or a recovery code")


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
    """Password and code in one call. 200 with the session cookie, or 401 with the error shape."""
    session = await db_session()
    settings = runtime().settings
    device, device_hash = device_cookie()
    try:
        new = await services.do_password_login(
            session,
            settings,
            username=data.username,
            password=data.password,
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
    session = await db_session()
    actor = require_user()
    fields = data.model_dump()
    fields["office_id"], fields["counter_office_id"] = await tenancy.placement_for_new_user(
        session, actor, data.role, data.office_id, data.counter_office_id
    )
    user = await users.do_create_user(session, actor_id=actor.id, **fields)
    return user_json(user), 201


@blueprint.post("/admin/users/<int:user_id>/sessions/revoke")
@login_required(Role.ADMIN)
async def api_revoke(user_id: int) -> Any:
    await tenancy.require_manageable_user(await db_session(), require_user(), user_id)
    count = await sessions.do_revoke_sessions(
        await db_session(), actor=require_user(), user_id=user_id
    )
    return {"revoked": count}
