"""The HTTP boundary: the request's transaction, its user, locale and CSRF check.

Each request gets one database session, opened on first use. Unsafe methods
(POST, PUT, PATCH, DELETE) and views marked with :func:`writes` get a write
transaction (BEGIN IMMEDIATE on SQLite). ``after_request`` commits when the
response is a success, or when the error raised asked for its bookkeeping to
persist; otherwise the work is rolled back, so nothing half-written stays.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar, cast

from quart import Response, current_app, g, request, url_for
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server import i18n
from hearing_server.accounts import sessions
from hearing_server.accounts.models import LoginSession, Role, User
from hearing_server.accounts.security import keyed_hash
from hearing_server.db import commit, rollback
from hearing_server.errors import DomainError, Forbidden, Unauthenticated
from hearing_server.runtime import Runtime
from hearing_server.web.inputs import check_request_text
from hearing_server.web.responses import form_errors, redirect

SESSION_COOKIE = "heyat_session"
ANON_COOKIE = "heyat_anon"
LANG_COOKIE = "heyat_lang"
DEVICE_COOKIE = "heyat_device"
DEVICE_COOKIE_DAYS = 400
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

P = ParamSpec("P")
R = TypeVar("R")


def runtime() -> Runtime:
    return cast(Runtime, current_app.extensions["heyat"])


def is_api_request() -> bool:
    return request.path.startswith("/api/")


async def db_session() -> AsyncSession:
    """The request's session, opened on first use."""
    session: AsyncSession | None = g.get("db")
    if session is None:
        write = request.method in UNSAFE or bool(g.get("writes"))
        session = runtime().db.session(write=write)
        g.db = session
    return session


def writes(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Mark a GET view that writes (a download recorded, a notification started)."""

    @wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        g.writes = True
        return await view(*args, **kwargs)

    return wrapper


def current_user() -> User | None:
    return cast(User | None, g.get("user"))


def current_login() -> LoginSession | None:
    return cast(LoginSession | None, g.get("login_session"))


def require_user() -> User:
    user = current_user()
    if user is None:
        raise Unauthenticated("Please sign in.")
    return user


def login_required(
    *roles: Role,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R | Response]]]:
    """Allow only fully signed-in users, and of ``roles`` when given. Pages redirect to sign-in."""

    def decorate(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | Response]]:
        @wraps(view)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            user = current_user()
            if user is None:
                if is_api_request():
                    raise Unauthenticated("Please sign in.")
                return redirect(url_for("accounts.login", next=request.path))
            if roles and user.role not in roles:
                raise Forbidden("You do not have access to this page.")
            return await view(*args, **kwargs)

        wrapper.login_roles = roles or ("any",)  # type: ignore[attr-defined]  # read by web.openapi
        return wrapper

    return decorate


def csrf_token() -> str:
    login = current_login()
    if login is not None:
        return login.csrf_token
    anon = g.get("anon_id")
    if anon is None:
        anon = request.cookies.get(ANON_COOKIE) or secrets.token_urlsafe(24)
        g.anon_id = anon
        g.set_anon_cookie = anon != request.cookies.get(ANON_COOKIE)
    return keyed_hash(runtime().settings.secret_key, f"anon-csrf:{anon}")[:48]


def csrf_exempt(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Let cross-site posts reach ``view``: only for calls made without a session
    (the API's sign-in, public lookups). Put it under the route decorator."""
    view.csrf_exempt = True  # type: ignore[attr-defined]  # read by _is_csrf_exempt
    return view


def _is_csrf_exempt() -> bool:
    endpoint = request.endpoint
    if endpoint is None:
        return False
    view = current_app.view_functions.get(endpoint)
    return endpoint in runtime().csrf_exempt or bool(getattr(view, "csrf_exempt", False))


async def _check_csrf() -> None:
    if request.method not in UNSAFE or _is_csrf_exempt():
        return
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sent = (await request.form).get("csrf_token")
    expected = csrf_token()
    if not sent or not hmac.compare_digest(sent, expected):
        raise Forbidden(
            "The form has expired or did not come from this site. Reload the page and try again.",
            code="csrf_failed",
        )


async def before_request() -> None:
    rt = runtime()
    token = request.cookies.get(SESSION_COOKIE)
    g.user = None
    g.login_session = None
    g.pending_login = None
    if token:
        async with rt.db.transaction(write=False) as session:
            found = await sessions.find_session(session, rt.settings, token)
        if found is not None:
            if found.signed_in:
                g.user = found.login.user
                g.login_session = found.login
            else:
                g.pending_login = found.login
            if found.touch_due:
                async with rt.db.transaction() as session:
                    await sessions.do_touch_session(session, found.login.id)
    locale = None
    if g.user is not None:
        locale = g.user.locale
    locale = (
        locale
        or request.cookies.get(LANG_COOKIE)
        # Programs may ask by header; browsers often say "en" on Persian desks: pages default to fa.
        or (request.accept_languages.best_match(i18n.LOCALES) if is_api_request() else None)
        or rt.settings.default_locale
    )
    i18n.set_locale(locale)
    g.locale = i18n.get_locale()
    await check_request_text()
    await _check_csrf()


async def after_request(response: Response) -> Response:
    session: AsyncSession | None = g.pop("db", None)
    if session is not None:
        try:
            if response.status_code < 400 or g.get("persist_on_error"):
                await commit(session)
            else:
                await rollback(session)
        finally:
            await session.close()
    if g.get("set_anon_cookie"):
        set_cookie(response, ANON_COOKIE, g.anon_id, max_age=7 * 24 * 3600)
    security_headers(response)
    return response


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",  # no inline script, no on* handler, no eval
        "style-src 'self'",  # no style attributes or <style> blocks
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",  # fetch, and the room's Socket.IO (same-origin ws: too)
        "media-src 'self' blob: mediastream:",
        "worker-src 'self'",  # pdf.js worker
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
_DENIED_FEATURES = (
    "accelerometer",
    "display-capture",
    "geolocation",
    "gyroscope",
    "magnetometer",
    "payment",
    "usb",
)
PERMISSIONS_POLICY = ", ".join(f"{f}=()" for f in ("camera", "microphone", *_DENIED_FEATURES))
ROOM_PERMISSIONS_POLICY = ", ".join(
    ["camera=(self)", "microphone=(self)", *(f"{f}=()" for f in _DENIED_FEATURES)]
)
ROOM_ENDPOINTS = frozenset({"rooms.room", "media.check"})
"""The pages that may ask for the camera and microphone: the hearing room only."""


def room_content_security_policy() -> str:
    """The room's pages also talk to the media server browsers use (its origin only)."""
    origin = runtime().media_origin
    if not origin:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("connect-src 'self'", f"connect-src 'self' {origin}", 1)


def security_headers(response: Response) -> None:
    """Every response: CSP, Permissions-Policy, nosniff, Referrer-Policy, X-Frame-Options."""
    headers = response.headers
    room = request.endpoint in ROOM_ENDPOINTS
    headers.setdefault(
        "Content-Security-Policy",
        room_content_security_policy() if room else CONTENT_SECURITY_POLICY,
    )
    headers.setdefault(
        "Permissions-Policy", ROOM_PERMISSIONS_POLICY if room else PERMISSIONS_POLICY
    )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")


async def teardown_request(_exc: BaseException | None) -> None:
    session: AsyncSession | None = g.pop("db", None)
    if session is not None:
        await rollback(session)
        await session.close()


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="Lax",
        secure=runtime().settings.secure_cookies,
        path="/",
    )


def mark_persist(exc: DomainError) -> None:
    if exc.persist:
        g.persist_on_error = True


def client_ip() -> str:
    """The client's address: the connecting one, or, when that is one of the configured
    reverse proxies (HEYAT_TRUSTED_PROXIES), the address they forwarded for."""
    remote = request.remote_addr or "unknown"
    trusted = trusted_networks(runtime().settings.trusted_proxies)
    if not trusted:
        return remote
    return client_address(remote, request.headers.get("X-Forwarded-For"), trusted)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def client_address(remote: str, forwarded: str | None, trusted: tuple[Network, ...]) -> str:
    """The address of the client behind ``remote``: X-Forwarded-For is read from the right
    (the entry the nearest proxy added) while the address it names is a trusted proxy; the
    first one that is not is the client. A header from anyone else is not believed, and an
    entry that is not an address ends the walk at the last proxy."""
    current = remote
    hops = [hop.strip() for hop in (forwarded or "").split(",") if hop.strip()]
    while _is_trusted(current, trusted) and hops:
        hop = hops.pop()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break
        current = hop
    return current


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def device_cookie() -> tuple[str, str]:
    """The browser's device cookie (a new one when it has none) and its keyed hash, which
    a login session keeps: a device that signed in to an account before is known to it."""
    token = request.cookies.get(DEVICE_COOKIE, "")
    if not 20 <= len(token) <= 64:
        token = secrets.token_urlsafe(24)
    return token, keyed_hash(runtime().settings.secret_key, f"device:{token}")


def set_device_cookie(response: Response, token: str) -> None:
    set_cookie(response, DEVICE_COOKIE, token, max_age=DEVICE_COOKIE_DAYS * 24 * 3600)


def retry_after_header(exc: DomainError) -> dict[str, str]:
    """Retry-After for a refusal that ends (429, 423), in seconds; no header otherwise."""
    if exc.status not in (423, 429):
        return {}
    seconds = getattr(exc, "retry_after", None) or 60
    return {"Retry-After": str(int(seconds))}


def form_refusal(exc: DomainError) -> tuple[dict[str, str], int, dict[str, str]]:
    """A refusal a form page shows again: its bookkeeping kept when the refusal says so,
    the messages by field, the status and any Retry-After."""
    mark_persist(exc)
    return form_errors(exc), exc.status, retry_after_header(exc)


async def limit_public(bucket: str, rate: str) -> None:
    """Count this request against a public endpoint's limit for the client; 429 past it."""
    await runtime().limits.check(bucket, rate, client_ip())


def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def json_error(code: str, message: str, status: int, **extra: Any) -> tuple[dict[str, Any], int]:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(extra)
    return {"error": body}, status
