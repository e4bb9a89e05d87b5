"""Sign-in pages: password, then the authenticator code; enrolment; language; sessions."""

from __future__ import annotations

import io
from typing import Any

import segno
from quart import Blueprint, Response, g, render_template, request, url_for

from hearing_server.accounts import services, sessions, users
from hearing_server.accounts.models import SessionStage, User
from hearing_server.errors import DomainError
from hearing_server.i18n import LOCALES
from hearing_server.i18n import gettext as _
from hearing_server.web.context import (
    LANG_COOKIE,
    SESSION_COOKIE,
    client_ip,
    current_login,
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
from hearing_server.web.redirects import same_site_path
from hearing_server.web.responses import form_errors, redirect

blueprint = Blueprint("accounts", __name__)


@blueprint.route("/login", methods=["GET", "POST"])
async def login() -> Any:
    errors: dict[str, str] = {}
    username = ""
    status = 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form
        username = form.get("username", "")
        device, device_hash = device_cookie()
        try:
            new = await services.do_password_login(
                await db_session(),
                runtime().settings,
                username=username,
                password=form.get("password", ""),
                ip=client_ip(),
                user_agent=request.headers.get("User-Agent"),
                device=device_hash,
            )
        except DomainError as exc:
            mark_persist(exc)
            errors = {"_form": _(exc.message, **exc.params)}
            status = exc.status
            headers = retry_after_header(exc)
        else:
            nxt = same_site_path(request.args.get("next"))
            target = (
                url_for("accounts.otp", next=nxt)
                if new.login_session.stage == SessionStage.PASSWORD
                else url_for("accounts.enrol")
            )
            response = redirect(target)
            set_cookie(response, SESSION_COOKIE, new.token)
            set_device_cookie(response, device)
            return response
    page = await render_template("accounts/login.html", errors=errors, username=username)
    return page, status, headers


@blueprint.route("/login/otp", methods=["GET", "POST"])
async def otp() -> Any:
    pending = g.get("pending_login")
    if pending is None or pending.stage != SessionStage.PASSWORD:
        return redirect(url_for("accounts.login"))
    errors: dict[str, str] = {}
    status = 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form
        session = await db_session()
        row = await session.merge(pending)
        try:
            if form.get("recovery_code"):
                await services.do_second_factor(
                    session, runtime().settings, row, recovery_code=form["recovery_code"]
                )
            else:
                await services.do_second_factor(
                    session, runtime().settings, row, code=form.get("otp", "")
                )
            token = await sessions.do_rotate_token(session, row)
        except DomainError as exc:
            mark_persist(exc)
            errors = form_errors(exc)
            status = exc.status
            headers = retry_after_header(exc)
        else:
            response = redirect(same_site_path(request.args.get("next")) or url_for("health.index"))
            set_cookie(response, SESSION_COOKIE, token)
            return response
    page = await render_template("accounts/otp.html", errors=errors, user=pending.user)
    return page, status, headers


@blueprint.route("/account/authenticator", methods=["GET", "POST"])
async def enrol() -> Any:
    """Set up the authenticator: QR code and key; active only after a correct code."""
    pending = g.get("pending_login")
    if pending is None or pending.stage != SessionStage.ENROL:
        return redirect(url_for("accounts.login"))
    session = await db_session()
    user: User = pending.user
    settings = runtime().settings
    errors: dict[str, str] = {}
    status = 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form
        try:
            codes = await services.do_activate_totp(session, settings, user, form.get("otp", ""))
            row = await session.merge(pending)
            row.stage = SessionStage.FULL
            token = await sessions.do_rotate_token(session, row)
        except DomainError as exc:
            mark_persist(exc)
            errors = form_errors(exc)
            status = exc.status
            headers = retry_after_header(exc)
        else:
            page = await render_template("accounts/recovery_codes.html", codes=codes)
            response = no_store(Response(page))
            set_cookie(response, SESSION_COOKIE, token)
            return response
    secret = await services.do_start_enrolment(session, settings, user)
    uri = services.provisioning_uri(secret, user)
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer, kind="svg", scale=5, xmldecl=False, svgns=True, title="QR"
    )
    spaced_secret = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    page = await render_template(
        "accounts/enrol.html",
        qr_svg=buffer.getvalue().decode(),
        secret=spaced_secret,
        errors=errors,
    )
    return no_store(Response(page, status=status, headers=headers))


@blueprint.post("/logout")
async def logout() -> Any:
    login = current_login() or g.get("pending_login")
    if login is not None:
        await sessions.do_logout(await db_session(), login)
    response = redirect(url_for("accounts.login"))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@blueprint.post("/language")
async def language() -> Any:
    form = await request.form
    locale = form.get("locale", "fa")
    if locale not in LOCALES:
        locale = "fa"
    user = g.get("user")
    if user is not None:
        await users.do_set_locale(await db_session(), user_id=user.id, locale=locale)
    response = redirect(same_site_path(form.get("next")) or url_for("health.index"))
    set_cookie(response, LANG_COOKIE, locale, max_age=365 * 24 * 3600)
    return response


@blueprint.get("/account")
@login_required()
async def account() -> Any:
    user = require_user()
    rows = await sessions.list_sessions(await db_session(), user.id)
    return await render_template("accounts/account.html", user=user, sessions=rows)


@blueprint.post("/account/sessions/revoke")
@login_required()
async def revoke_own_sessions() -> Any:
    user = require_user()
    await sessions.do_revoke_sessions(await db_session(), actor=user, user_id=user.id)
    response = redirect(url_for("accounts.login"))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
