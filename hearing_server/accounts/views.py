"""Sign-in pages: password, then the authenticator code (or, for a party without one, a
code sent by SMS); enrolment; password reset (accounts.reset); language; sessions."""

from __future__ import annotations

import io
from typing import Any

import segno
from quart import Blueprint, Response, g, render_template, request, url_for

from hearing_server.accounts import login_codes, reset, services, sessions, throttle, users
from hearing_server.accounts.models import (
    LoginSession,
    SecondFactor,
    SessionStage,
    TotpCredential,
    User,
)
from hearing_server.accounts.security import hash_password
from hearing_server.errors import DomainError
from hearing_server.i18n import LOCALES, lazy
from hearing_server.i18n import gettext as _
from hearing_server.web.context import (
    LANG_COOKIE,
    SESSION_COOKIE,
    client_ip,
    current_login,
    current_user,
    db_session,
    device_cookie,
    form_refusal,
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
            # argon2 first, with no transaction open; then the request's write transaction.
            attempt = await services.read_password_attempt(
                runtime().db,
                runtime().settings,
                username=username,
                password=form.get("password", ""),
                ip=client_ip(),
                device=device_hash,
            )
            new = await services.do_password_login(
                await db_session(),
                runtime().settings,
                attempt,
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
            if new.login_session.second_factor == SecondFactor.SMS:
                await login_codes.do_offer_login_code(
                    await db_session(), runtime().settings, new.login_session
                )
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


def code_client() -> str:
    """Who asks for a password reset code, for the per-client limits."""
    return f"ip:{client_ip()}"


@blueprint.route("/login/otp", methods=["GET", "POST"])
async def otp() -> Any:
    pending = g.get("pending_login")
    if pending is None or pending.stage != SessionStage.PASSWORD:
        return redirect(url_for("accounts.login"))
    sms = pending.second_factor == SecondFactor.SMS
    errors: dict[str, str] = {}
    status = 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form
        session = await db_session()
        row = await session.merge(pending)
        try:
            if sms:
                await services.do_second_factor(
                    session, runtime().settings, row, code=form.get("code", "")
                )
            elif form.get("recovery_code"):
                await services.do_second_factor(
                    session, runtime().settings, row, recovery_code=form["recovery_code"]
                )
            else:
                await services.do_second_factor(
                    session, runtime().settings, row, code=form.get("otp", "")
                )
            token = await sessions.do_rotate_token(session, row)
        except DomainError as exc:
            errors, status, headers = form_refusal(exc)
        else:
            response = redirect(same_site_path(request.args.get("next")) or url_for("health.index"))
            set_cookie(response, SESSION_COOKIE, token)
            return response
    if sms:
        return await _sms_code_page(pending, errors, status, headers)
    page = await render_template("accounts/otp.html", errors=errors, user=pending.user)
    return page, status, headers


async def _sms_code_page(
    pending: LoginSession, errors: dict[str, str], status: int, headers: dict[str, str]
) -> Any:
    """The code page of a sign-in by SMS: where the code went, and when another may be
    asked for."""
    sent = await login_codes.code_status(await db_session(), pending)
    page = await render_template(
        "accounts/sms_code.html",
        errors=errors,
        sent_to=sent.to,
        wait=sent.wait,
        next=same_site_path(request.args.get("next")),
    )
    return no_store(Response(page, status=status, headers=headers))


@blueprint.post("/login/otp/resend")
async def resend_code() -> Any:
    """Send the sign-in code again; too soon is a message on the code page, not an error."""
    pending = g.get("pending_login")
    if pending is None or pending.stage != SessionStage.PASSWORD:
        return redirect(url_for("accounts.login"))
    nxt = same_site_path(request.args.get("next"))
    if pending.second_factor != SecondFactor.SMS:
        return redirect(url_for("accounts.otp", next=nxt))
    session = await db_session()
    try:
        await login_codes.do_send_login_code(
            session, runtime().settings, await session.merge(pending)
        )
    except DomainError as exc:
        mark_persist(exc)
        return await _sms_code_page(pending, form_errors(exc), exc.status, retry_after_header(exc))
    return redirect(url_for("accounts.otp", next=nxt))


@blueprint.route("/account/authenticator", methods=["GET", "POST"])
async def enrol() -> Any:
    """Set up the authenticator: QR code and key; active only after a correct code.

    For a sign-in that must enrol first (stage ENROL), and for a signed-in user without
    one (a party who signs in by SMS and chooses an authenticator instead)."""
    signed_in = current_user()
    login: LoginSession | None = current_login() if signed_in is not None else g.pending_login
    if login is None or (signed_in is None and login.stage != SessionStage.ENROL):
        return redirect(url_for("accounts.login"))
    session = await db_session()
    user: User = login.user
    settings = runtime().settings
    if signed_in is not None and login_codes.has_authenticator(
        await session.get(TotpCredential, user.id)
    ):
        return redirect(url_for("accounts.account"))
    errors: dict[str, str] = {}
    status = 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form
        try:
            codes = await services.do_activate_totp(session, settings, user, form.get("otp", ""))
            row = await session.merge(login)
            row.stage = SessionStage.FULL
            token = await sessions.do_rotate_token(session, row)
        except DomainError as exc:
            errors, status, headers = form_refusal(exc)
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
    session = await db_session()
    rows = await sessions.list_sessions(session, user.id)
    authenticator = login_codes.has_authenticator(await session.get(TotpCredential, user.id))
    return await render_template(
        "accounts/account.html", user=user, sessions=rows, has_authenticator=authenticator
    )


@blueprint.post("/account/sessions/revoke")
@login_required()
async def revoke_own_sessions() -> Any:
    user = require_user()
    await sessions.do_revoke_sessions(await db_session(), actor=user, user_id=user.id)
    response = redirect(url_for("accounts.login"))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ---------------------------------------------------------------- password reset

RESET_COOKIE = "heyat_reset"
SENT_MESSAGE = lazy(
    "If an account with these details exists, a code has been sent to it. "
    "It is valid for five minutes."
)


async def hash_new_password(password: str, again: str) -> str:
    """Check a new password typed twice, then hash it: before the request's write
    transaction opens (argon2 is slow), and only while the client may still try codes."""
    reset.new_password_problems(password, again)
    if not await _allowed():
        raise throttle.too_many()
    return await hash_password(password)


async def _allowed() -> bool:
    """The client may try a code (read in its own read-only transaction, before hashing)."""
    async with runtime().db.transaction(write=False) as session:
        try:
            await reset.check_reset_allowed(session, client=code_client())
        except DomainError:
            return False
    return True


@blueprint.route("/reset", methods=["GET", "POST"])
async def reset_start() -> Any:
    errors: dict[str, str] = {}
    identifier = ""
    channel = "sms"
    status = 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form
        identifier = form.get("identifier", "")
        channel = form.get("channel", "")
        try:
            chosen = reset.parse_channel(channel)
            await reset.do_start_reset(
                await db_session(),
                runtime().settings,
                identifier=identifier,
                channel=chosen,
                client=code_client(),
            )
        except DomainError as exc:
            errors, status, headers = form_refusal(exc)
        else:
            response = redirect(url_for("accounts.reset_code"))
            ticket = reset.make_ticket(
                runtime().settings, identifier=identifier.strip(), channel=chosen
            )
            set_cookie(
                response, RESET_COOKIE, ticket, max_age=int(reset.TICKET_TTL.total_seconds())
            )
            return response
    page = await render_template(
        "accounts/reset.html", errors=errors, identifier=identifier, channel=channel
    )
    return no_store(Response(page, status=status, headers=headers))


@blueprint.route("/reset/code", methods=["GET", "POST"])
async def reset_code() -> Any:
    ticket = reset.read_ticket(runtime().settings, request.cookies.get(RESET_COOKIE))
    if ticket is None:
        return redirect(url_for("accounts.reset_start"))
    identifier, channel = ticket
    errors: dict[str, str] = {}
    status = 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form
        password = form.get("password", "")
        try:
            password_hash = await hash_new_password(password, form.get("password_again", ""))
            await reset.do_complete_reset(
                await db_session(),
                runtime().settings,
                identifier=identifier,
                channel=channel,
                code=form.get("code", ""),
                password=password,
                password_hash=password_hash,
                client=code_client(),
            )
        except DomainError as exc:
            errors, status, headers = form_refusal(exc)
        else:
            response = redirect(url_for("accounts.reset_done"))
            response.delete_cookie(RESET_COOKIE, path="/")
            return response
    page = await render_template(
        "accounts/reset_code.html", errors=errors, channel=channel.value, sent=_(SENT_MESSAGE)
    )
    return no_store(Response(page, status=status, headers=headers))


@blueprint.get("/reset/done")
async def reset_done() -> Any:
    return await render_template("accounts/reset_done.html")
