"""Sign-up pages (/signup, /signup/verify) and their /api/v1 twins.

The pending sign-up lives between the steps in a signed cookie (pages) or a signed
``signup_token`` (API), never in fields the client could change. The password is hashed
before the request's write transaction is opened.
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel, Field
from quart import (
    Blueprint,
    Response,
    current_app,
    g,
    make_response,
    render_template,
    request,
    url_for,
)
from quart_schema import document_response, validate_request, validate_response

from hearing_server.accounts import signup
from hearing_server.accounts.api import LoginOut, user_json
from hearing_server.accounts.models import PartyKind
from hearing_server.accounts.phone_codes import CODE_TTL, mask_mobile
from hearing_server.accounts.registry import IdentityRegistry
from hearing_server.accounts.security import hash_password
from hearing_server.accounts.signup import PendingSignup
from hearing_server.errors import DomainError
from hearing_server.web.context import (
    SESSION_COOKIE,
    client_ip,
    csrf_exempt,
    current_user,
    db_session,
    device_cookie,
    form_refusal,
    mark_persist,
    no_store,
    retry_after_header,
    runtime,
    set_cookie,
    set_device_cookie,
)
from hearing_server.web.redirects import same_site_path
from hearing_server.web.responses import form_errors, redirect
from hearing_server.web.schemas import Out

blueprint = Blueprint("signup", __name__)

SIGNUP_COOKIE = "heyat_signup"
STEP1_FIELDS = ("kind", "full_name", "national_id", "legal_id", "representative_name", "mobile")


def registry() -> IdentityRegistry:
    return cast(IdentityRegistry, current_app.extensions["identity_registry"])


def _client() -> str:
    return f"ip:{client_ip()}"


async def _start(values: dict[str, str]) -> PendingSignup:
    """Step 1 for pages and API alike: the details checked, one code sent."""
    pending = signup.clean_details(**{name: values.get(name) or "" for name in STEP1_FIELDS})
    await signup.do_start_signup(
        await db_session(), runtime().settings, registry(), pending, client=_client()
    )
    return pending


async def _finish(
    pending: PendingSignup, *, code: str, password: str, again: str, email: str, device_hash: str
) -> signup.SignedUp:
    """Step 2: the password checked and hashed (no transaction open yet), then the code
    accepted and the account made."""
    address = signup.check_password(pending, password, again, email)
    password_hash = await hash_password(password)
    return await signup.do_finish_signup(
        await db_session(),
        runtime().settings,
        pending,
        code=code,
        password_hash=password_hash,
        email=address,
        locale=g.get("locale") or "fa",
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent"),
        device_hash=device_hash,
    )


def _pending_from_cookie() -> PendingSignup | None:
    return signup.open_pending(runtime().settings, request.cookies.get(SIGNUP_COOKIE))


def _landing(pending: PendingSignup) -> str:
    nxt = same_site_path(request.args.get("next"))
    if nxt:
        return nxt
    if pending.kind == PartyKind.WORKER:
        return url_for("cases.new_case")
    return url_for("health.index")


# ---------------------------------------------------------------- pages


@blueprint.route("/signup", methods=["GET", "POST"])
async def start() -> Any:
    if current_user() is not None:
        return redirect(url_for("health.index"))
    errors: dict[str, str] = {}
    values: dict[str, str] = {"kind": PartyKind.WORKER.value}
    status = 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form
        values = {name: form.get(name, "") for name in STEP1_FIELDS}
        try:
            pending = await _start(values)
        except DomainError as exc:
            errors, status, headers = form_refusal(exc)
        else:
            response = redirect(url_for("signup.verify", next=request.args.get("next")))
            set_cookie(
                response,
                SIGNUP_COOKIE,
                signup.seal_pending(runtime().settings, pending),
                max_age=int(signup.PENDING_MAX_AGE.total_seconds()),
            )
            return response
    page = await render_template(
        "accounts/signup.html", errors=errors, values=values, kinds=list(PartyKind)
    )
    return no_store(Response(page, status=status, headers=headers))


@blueprint.route("/signup/verify", methods=["GET", "POST"])
async def verify() -> Any:
    pending = _pending_from_cookie()
    if pending is None:
        return redirect(url_for("signup.start"))
    errors: dict[str, str] = {}
    status = 200
    headers: dict[str, str] = {}
    email = ""
    if request.method == "POST":
        form = await request.form
        email = form.get("email", "")
        device, device_hash = device_cookie()
        try:
            done = await _finish(
                pending,
                code=form.get("code", ""),
                password=form.get("password", ""),
                again=form.get("password_again", ""),
                email=email,
                device_hash=device_hash,
            )
        except DomainError as exc:
            errors, status, headers = form_refusal(exc)
        else:
            response = redirect(_landing(pending))
            set_cookie(response, SESSION_COOKIE, done.login.token)
            set_device_cookie(response, device)
            response.delete_cookie(SIGNUP_COOKIE, path="/")
            return response
    page = await render_template(
        "accounts/signup_verify.html",
        errors=errors,
        email=email,
        pending=pending,
        masked_mobile=mask_mobile(pending.mobile),
        minutes=int(CODE_TTL.total_seconds() // 60),
        resent=request.args.get("resent") == "1",
    )
    return no_store(Response(page, status=status, headers=headers))


@blueprint.post("/signup/resend")
async def resend() -> Any:
    pending = _pending_from_cookie()
    if pending is None:
        return redirect(url_for("signup.start"))
    try:
        await signup.do_resend_code(
            await db_session(), runtime().settings, pending, client=_client()
        )
    except DomainError as exc:
        mark_persist(exc)
        page = await render_template(
            "accounts/signup_verify.html",
            errors=form_errors(exc),
            email="",
            pending=pending,
            masked_mobile=mask_mobile(pending.mobile),
            minutes=int(CODE_TTL.total_seconds() // 60),
            resent=False,
        )
        return no_store(Response(page, status=exc.status, headers=retry_after_header(exc)))
    return redirect(url_for("signup.verify", resent=1, next=request.args.get("next")))


# ---------------------------------------------------------------- /api/v1


class SignupIn(BaseModel):
    kind: PartyKind
    full_name: str = Field(max_length=400)
    national_id: str | None = Field(default=None, max_length=40, description="A person's")
    legal_id: str | None = Field(default=None, max_length=40, description="A company's")
    representative_name: str | None = Field(default=None, max_length=400)
    mobile: str = Field(max_length=40)


class SignupStartedOut(Out):
    signup_token: str
    mobile: str
    code_expires_in: int
    token_expires_in: int


class SignupVerifyIn(BaseModel):
    signup_token: str = Field(min_length=1, max_length=2000)
    code: str = Field(max_length=40)
    password: str = Field(max_length=200)
    password_again: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)


class SignupResendIn(BaseModel):
    signup_token: str = Field(min_length=1, max_length=2000)


def _pending_from_token(token: str) -> PendingSignup:
    pending = signup.open_pending(runtime().settings, token)
    if pending is None:
        raise signup.pending_expired()
    return pending


def _started(pending: PendingSignup) -> dict[str, Any]:
    return {
        "signup_token": signup.seal_pending(runtime().settings, pending),
        "mobile": mask_mobile(pending.mobile),
        "code_expires_in": int(CODE_TTL.total_seconds()),
        "token_expires_in": int(signup.PENDING_MAX_AGE.total_seconds()),
    }


@blueprint.post("/api/v1/signup")
@csrf_exempt  # no session yet: nothing to forge (and a JSON body needs no form)
@validate_request(SignupIn)
@validate_response(SignupStartedOut, 202)
async def api_start(data: SignupIn) -> Any:
    """Step 1: the details checked (national ID or company ID, the registry's word on the
    mobile number) and one code sent by SMS. 202 with the token step 2 sends back."""
    values = {name: str(value) for name, value in data.model_dump().items() if value is not None}
    values["kind"] = data.kind.value
    pending = await _start(values)
    return _started(pending), 202


@blueprint.post("/api/v1/signup/resend")
@csrf_exempt
@validate_request(SignupResendIn)
@validate_response(SignupStartedOut, 202)
async def api_resend(data: SignupResendIn) -> Any:
    """A new code for a pending sign-up (at most once a minute)."""
    pending = _pending_from_token(data.signup_token)
    await signup.do_resend_code(await db_session(), runtime().settings, pending, client=_client())
    return _started(pending), 202


@blueprint.post("/api/v1/signup/verify")
@csrf_exempt
@validate_request(SignupVerifyIn)
@document_response(LoginOut, 201)  # a Response with its cookie, like sign-in
async def api_verify(data: SignupVerifyIn) -> Any:
    """Step 2: the code and a password. 201 with the session cookie: signed in."""
    pending = _pending_from_token(data.signup_token)
    device, device_hash = device_cookie()
    done = await _finish(
        pending,
        code=data.code,
        password=data.password,
        again=data.password if data.password_again is None else data.password_again,
        email=data.email or "",
        device_hash=device_hash,
    )
    user = {
        **user_json(done.user),
        "legal_id": done.user.legal_id,
        "party_kind": pending.kind.value,
    }
    body = {"user": user, "csrf_token": done.login.login_session.csrf_token}
    response = cast(Response, await make_response(body, 201))
    secure = "; Secure" if runtime().settings.secure_cookies else ""
    response.headers.add(
        "Set-Cookie", f"{SESSION_COOKIE}={done.login.token}; Path=/; HttpOnly; SameSite=Lax{secure}"
    )
    set_device_cookie(response, device)
    return response
