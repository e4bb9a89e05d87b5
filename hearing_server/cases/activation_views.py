"""Activation pages and API (cases.activation): /activate for the worker, the clerk's
"send a new activation code", /api/v1/auth/activate/{start,complete}, and the receipt's
one-time copy of the code (a cookie in the filing clerk's browser)."""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel, Field
from quart import Blueprint, Response, make_response, render_template, request, url_for
from quart_schema import document_response, validate_request

from hearing_server.accounts.api import LoginOut, user_json
from hearing_server.accounts.models import Role
from hearing_server.accounts.security import hash_password
from hearing_server.cases import activation
from hearing_server.errors import DomainError
from hearing_server.i18n import gettext as _
from hearing_server.web.context import (
    SESSION_COOKIE,
    client_ip,
    csrf_exempt,
    db_session,
    device_cookie,
    login_required,
    mark_persist,
    no_store,
    require_user,
    retry_after_header,
    runtime,
    set_cookie,
    set_device_cookie,
)
from hearing_server.web.responses import form_errors, redirect
from hearing_server.web.schemas import Out

blueprint = Blueprint("activation", __name__)
api_blueprint = Blueprint("api_activation", __name__, url_prefix="/api/v1")

RECEIPT_COOKIE = "heyat_activation_{case_id}"


# ---------------------------------------------------------------- the receipt's copy


def remember_for_receipt(
    response: Response, case_id: int, issued: activation.Issued | None
) -> None:
    """Let the filing clerk's browser show the new code on this case's receipt for a while."""
    if issued is None:
        return
    settings = runtime().settings
    response.set_cookie(
        RECEIPT_COOKIE.format(case_id=case_id),
        activation.seal_for_receipt(settings, case_id=case_id, code=issued.code),
        max_age=int(activation.RECEIPT_SHOWS_FOR.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=settings.secure_cookies,
        path=f"/cases/{case_id}/",
    )


async def receipt_code(case_id: int) -> str | None:
    """The activation code this browser may print on the case's receipt, or None."""
    return await activation.code_for_receipt(
        await db_session(),
        runtime().settings,
        case_id=case_id,
        sealed=request.cookies.get(RECEIPT_COOKIE.format(case_id=case_id)),
    )


# ---------------------------------------------------------------- the worker's pages


def _client() -> str:
    return f"ip:{client_ip()}"


async def _page(
    step: str,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status: int = 200,
    masked_mobile: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    page = await render_template(
        "accounts/activate.html",
        step=step,
        values=values,
        errors=errors,
        masked_mobile=masked_mobile,
    )
    return no_store(Response(page, status=status, headers=headers or {}))


def _error_page_args(exc: DomainError) -> dict[str, Any]:
    mark_persist(exc)
    errors = form_errors(exc)
    return {"errors": errors, "status": exc.status, "headers": retry_after_header(exc)}


@blueprint.route("/activate", methods=["GET", "POST"])
async def activate() -> Any:
    if request.method == "GET":
        code = request.args.get("code", "")[:64]
        return await _page("start", {"code": code, "national_id": ""}, {})
    form = await request.form
    values = {
        "code": form.get("code", "")[:64],
        "national_id": form.get("national_id", "")[:32],
    }
    masked = form.get("masked_mobile", "")[:16]
    settings = runtime().settings
    if form.get("step") != "complete":
        try:
            started = await activation.do_start(
                await db_session(), settings, client=_client(), **values
            )
        except DomainError as exc:
            # Asked again too soon from the code page: the code sent before still works.
            step = "complete" if exc.status == 429 and masked else "start"
            return await _page(step, values, masked_mobile=masked, **_error_page_args(exc))
        return await _page("complete", values, {}, masked_mobile=started.masked_mobile)
    password = form.get("password", "")
    try:
        activation.check_new_password(password, form.get("password2", ""))
        # Argon2 in its pool before the request's write transaction begins.
        hashed = await hash_password(password)
        device, device_hash = device_cookie()
        new = await activation.do_complete(
            await db_session(),
            settings,
            sms_code=form.get("sms_code", ""),
            password=password,
            password_hash=hashed,
            client=_client(),
            ip=client_ip(),
            user_agent=request.headers.get("User-Agent"),
            device_hash=device_hash,
            **values,
        )
    except DomainError as exc:
        step = "start" if exc.code == "activation_invalid" else "complete"
        return await _page(step, values, masked_mobile=masked, **_error_page_args(exc))
    response = redirect(url_for("cases.my_cases", activated=1))
    set_cookie(response, SESSION_COOKIE, new.token)
    set_device_cookie(response, device)
    return response


# ---------------------------------------------------------------- the clerk's re-send


@blueprint.post("/cases/<int:case_id>/activation/resend")
@login_required(Role.CLERK, Role.SECRETARY, Role.ADMIN)
async def resend(case_id: int) -> Any:
    from hearing_server.cases.views import case_detail_page

    try:
        await activation.do_resend(
            await db_session(), runtime().settings, actor=require_user(), case_id=case_id
        )
    except DomainError as exc:
        mark_persist(exc)
        page, status = await case_detail_page(
            case_id, {"activation": _(exc.message, **exc.params)}, exc.status
        )
        return page, status, retry_after_header(exc)
    return redirect(url_for("cases.case_detail", case_id=case_id, activation_sent=1))


# ---------------------------------------------------------------- the API


class ActivateStartIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, description="the activation code")
    national_id: str = Field(min_length=1, max_length=32)


class ActivateStartOut(Out):
    mobile: str = Field(description="the masked mobile number the SMS code went to")


class ActivateCompleteIn(ActivateStartIn):
    sms_code: str = Field(min_length=1, max_length=32, description="the six-digit SMS code")
    password: str = Field(min_length=1, max_length=200, description="the new password")


@api_blueprint.post("/auth/activate/start")
@csrf_exempt  # no session yet: nothing to forge
@validate_request(ActivateStartIn)
@document_response(ActivateStartOut)
async def api_start(data: ActivateStartIn) -> Any:
    """Check an activation code and national ID; send a six-digit code to the mobile on file."""
    started = await activation.do_start(
        await db_session(),
        runtime().settings,
        code=data.code,
        national_id=data.national_id,
        client=_client(),
    )
    return {"mobile": started.masked_mobile}


@api_blueprint.post("/auth/activate/complete")
@csrf_exempt  # no session yet: nothing to forge
@validate_request(ActivateCompleteIn)
@document_response(LoginOut)  # a Response with its cookie, like sign-in
async def api_complete(data: ActivateCompleteIn) -> Any:
    """Activate with the SMS code and a new password: 200 signed in, with the session cookie."""
    activation.check_new_password(data.password, data.password)
    hashed = await hash_password(data.password)
    device, device_hash = device_cookie()
    new = await activation.do_complete(
        await db_session(),
        runtime().settings,
        code=data.code,
        national_id=data.national_id,
        sms_code=data.sms_code,
        password=data.password,
        password_hash=hashed,
        client=_client(),
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent"),
        device_hash=device_hash,
    )
    row = new.login_session
    body = {"user": user_json(row.user), "csrf_token": row.csrf_token}
    response = cast(Response, await make_response(body, 200))
    secure = "; Secure" if runtime().settings.secure_cookies else ""
    response.headers.add(
        "Set-Cookie", f"{SESSION_COOKIE}={new.token}; Path=/; HttpOnly; SameSite=Lax{secure}"
    )
    set_device_cookie(response, device)
    return response
