"""Sign-up of workers and employers: who they are, a mobile number proved by an SMS code,
a password.

Two steps, one service each:

1. :func:`do_start_signup` checks the details (a national ID with its check digit, or a
   company's national ID with its own; a mobile number), that no account has that ID,
   and with the identity registry that the mobile number belongs to it; then sends one
   code by SMS (``accounts.phone_codes``: throttled, one message per request). The
   details it returns are the pending sign-up, which the boundary keeps signed
   (:func:`seal_pending`): nothing the client sends between the steps is believed.
2. :func:`do_finish_signup` accepts the code once, and creates the party account
   (username: the national ID or the company's) with the password hashed beforehand,
   off the transaction, and opens a full session: the mobile number was just proved.

Refusals write nothing but their bookkeeping: the attempt counted under the client
(a registry look-up costs the office and tells whether a number is someone's), a wrong
code counted against the code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts import phone_codes, sessions, throttle
from hearing_server.accounts.models import PartyKind, Role, SessionStage, User
from hearing_server.accounts.phone_codes import CodePurpose, mask_mobile
from hearing_server.accounts.registry import IdentityRegistry, RegistryUnavailable
from hearing_server.accounts.security import password_problem
from hearing_server.audit.services import do_record
from hearing_server.config import Settings
from hearing_server.errors import Conflict, Invalid, TooManyRequests, ValidationErrors
from hearing_server.i18n import lazy
from hearing_server.text import (
    normalize_legal_id,
    normalize_mobile,
    normalize_national_id,
    normalize_persian,
)

STARTS_PER_CLIENT = 20  # sign-up attempts (registry look-ups) per client per hour
_HOUR = timedelta(hours=1)
PENDING_MAX_AGE = timedelta(minutes=30)  # to enter the code, or ask for a new one
NAME_MAX = 200

NATIONAL_ID_INVALID = lazy(
    "The national ID is not valid: it must be 10 digits with a correct check digit."
)
LEGAL_ID_INVALID = lazy(
    "The company's national ID is not valid: it must be 11 digits with a correct check digit."
)
ACCOUNT_EXISTS = lazy(
    "An account already exists for this national ID. Sign in, or reset your password."
)


@dataclass(frozen=True)
class PendingSignup:
    """What step 1 checked: the account step 2 creates once the code is given."""

    kind: PartyKind
    full_name: str  # the person's, or the company's name
    mobile: str
    national_id: str | None = None  # a person's
    legal_id: str | None = None  # a company's
    representative_name: str | None = None  # who signs a company up

    @property
    def identifier(self) -> str:
        return self.legal_id or self.national_id or ""


# ---------------------------------------------------------------- the pending sign-up


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="heyat-signup")


def seal_pending(settings: Settings, pending: PendingSignup) -> str:
    """The pending sign-up, signed (a cookie, or the API's ``signup_token``)."""
    return _serializer(settings).dumps(asdict(pending))


def open_pending(settings: Settings, token: str | None) -> PendingSignup | None:
    """The pending sign-up ``token`` carries, or None when it is missing, forged or older
    than :data:`PENDING_MAX_AGE`."""
    if not token:
        return None
    try:
        data: dict[str, Any] = _serializer(settings).loads(
            token, max_age=int(PENDING_MAX_AGE.total_seconds())
        )
        return PendingSignup(**{**data, "kind": PartyKind(data["kind"])})
    except (BadSignature, SignatureExpired, TypeError, ValueError, KeyError):
        return None


def pending_expired() -> Invalid:
    return Invalid(
        "Your sign-up has expired. Please start again.", code="signup_expired", field="_form"
    )


# ---------------------------------------------------------------- step 1


def clean_details(
    *,
    kind: str,
    full_name: str,
    national_id: str = "",
    legal_id: str = "",
    representative_name: str = "",
    mobile: str,
) -> PendingSignup:
    """The details as typed (any digits), checked; every bad field reported at once."""
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    try:
        party_kind = PartyKind(kind)
    except ValueError:
        party_kind = PartyKind.WORKER
        errors["kind"] = (lazy("Choose who you are signing up as."), {})
    name = normalize_persian(full_name)
    company = party_kind == PartyKind.COMPANY
    if not name:
        errors["full_name"] = (
            lazy("Enter the company's name.") if company else lazy("Enter the full name."),
            {},
        )
    elif len(name) > NAME_MAX:
        errors["full_name"] = (lazy("At most {count} characters."), {"count": NAME_MAX})
    representative: str | None = None
    nid: str | None = None
    lid: str | None = None
    if company:
        representative = normalize_persian(representative_name)
        if not representative:
            errors["representative_name"] = (
                lazy("Enter the full name of the company's representative."),
                {},
            )
        elif len(representative) > NAME_MAX:
            errors["representative_name"] = (
                lazy("At most {count} characters."),
                {"count": NAME_MAX},
            )
        try:
            lid = normalize_legal_id(legal_id)
        except ValueError:
            errors["legal_id"] = (LEGAL_ID_INVALID, {})
    else:
        try:
            nid = normalize_national_id(national_id)
        except ValueError:
            errors["national_id"] = (NATIONAL_ID_INVALID, {})
    try:
        mob = normalize_mobile(mobile)
    except ValueError:
        mob = ""
        errors["mobile"] = (lazy("The mobile number is not valid, e.g. 09121234567."), {})
    if errors:
        raise ValidationErrors(errors)
    return PendingSignup(
        kind=party_kind,
        full_name=name,
        mobile=mob,
        national_id=nid,
        legal_id=lid,
        representative_name=representative,
    )


async def _check_no_account(session: AsyncSession, pending: PendingSignup) -> None:
    """409 when an account has this ID (as its national ID, company ID or username);
    nothing more is said about it."""
    ident = pending.identifier
    column = User.legal_id if pending.legal_id else User.national_id
    found = await session.scalar(
        select(User.id).where(or_(column == ident, User.username == ident)).limit(1)
    )
    if found is not None:
        raise _account_exists(pending)


def _account_exists(pending: PendingSignup) -> Conflict:
    field = "legal_id" if pending.legal_id else "national_id"
    return Conflict(ACCOUNT_EXISTS, code="account_exists", field=field)


async def _check_registry(registry: IdentityRegistry, pending: PendingSignup) -> str | None:
    """Refuse unless the registry says the mobile number is the ID's; the registered name
    when the registry gives one."""
    registered: str | None = None
    if pending.legal_id:
        registered = await registry.company_name(pending.legal_id)
        if registered is None:
            raise Invalid(
                "No company with this national ID is registered. Check the number on the "
                "company's registration papers.",
                code="company_not_registered",
                field="legal_id",
                persist=True,
            )
    elif pending.national_id:
        registered = await registry.person_name(pending.national_id)
    belongs = await registry.mobile_belongs_to(pending.identifier, pending.mobile)
    if belongs is None:
        raise RegistryUnavailable(
            lazy(
                "The identity check is not available right now. Please try again in a few minutes."
            ),
            persist=True,
        )
    if not belongs:
        if pending.legal_id:
            raise Invalid(
                "This mobile number is not registered to this company. Use a mobile number "
                "the company registered.",
                code="mobile_not_owner",
                field="mobile",
                persist=True,
            )
        raise Invalid(
            "This mobile number is not registered to this national ID. Use a mobile number "
            "registered in your own name.",
            code="mobile_not_owner",
            field="mobile",
            persist=True,
        )
    return registered


async def do_start_signup(
    session: AsyncSession,
    settings: Settings,
    registry: IdentityRegistry,
    pending: PendingSignup,
    *,
    client: str,
) -> None:
    """Check the cleaned details (:func:`clean_details`) and send the code: one SMS.

    ``client``: who asks (``ip:…``), for the per-client limit (429 past it). Refusals
    persist only the attempt counted."""
    key = f"signup:client:{client}"
    await throttle.check_throttle(session, [key], limit=STARTS_PER_CLIENT, window=_HOUR)
    await throttle.do_count_attempt(session, [key])
    try:
        await _check_no_account(session, pending)
    except Conflict as exc:
        exc.persist = True
        raise
    registered = await _check_registry(registry, pending)
    try:
        await phone_codes.do_send_code(
            session, settings, purpose=CodePurpose.SIGNUP, mobile=pending.mobile, client=client
        )
    except TooManyRequests as exc:
        exc.persist = True
        raise
    await do_record(
        session,
        actor_id=None,
        action="signup.started",
        subject_type="signup",
        subject_id=pending.identifier,
        payload={
            "kind": pending.kind.value,
            "mobile": mask_mobile(pending.mobile),
            "registered_name": registered,
        },
    )


async def do_resend_code(
    session: AsyncSession, settings: Settings, pending: PendingSignup, *, client: str
) -> None:
    """A new code for a pending sign-up (its details were checked at step 1)."""
    await phone_codes.do_send_code(
        session, settings, purpose=CodePurpose.SIGNUP, mobile=pending.mobile, client=client
    )


# ---------------------------------------------------------------- step 2


def check_password(pending: PendingSignup, password: str, again: str, email: str) -> str | None:
    """Before hashing: the password strong enough and typed twice alike, the e-mail
    address (optional) plausible. Returns the e-mail to keep, or None."""
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    problem = password_problem(password, username=pending.identifier)
    if problem:
        errors["password"] = (problem, {})
    elif password != again:
        errors["password_again"] = (lazy("The two passwords are not the same."), {})
    address = email.strip()
    if address and (
        "@" not in address
        or len(address) > 254
        or any(c.isspace() for c in address)
        or address.startswith("@")
        or address.endswith("@")
    ):
        errors["email"] = (lazy("The email address is not valid."), {})
    if errors:
        raise ValidationErrors(errors)
    return address or None


@dataclass(frozen=True)
class SignedUp:
    user: User
    login: sessions.NewSession


async def do_finish_signup(
    session: AsyncSession,
    settings: Settings,
    pending: PendingSignup,
    *,
    code: str,
    password_hash: str,
    email: str | None,
    locale: str,
    ip: str | None,
    user_agent: str | None,
    device_hash: str | None,
) -> SignedUp:
    """Accept the code (once: a replay is refused), create the party account and open a
    full session. ``password_hash``: hashed by the caller before the transaction."""
    await phone_codes.do_check_code(
        session, settings, purpose=CodePurpose.SIGNUP, mobile=pending.mobile, code=code
    )
    await _check_no_account(session, pending)
    user = User(
        username=pending.identifier,
        full_name=pending.full_name,
        national_id=pending.national_id,
        legal_id=pending.legal_id,
        representative_name=pending.representative_name,
        party_kind=pending.kind,
        mobile=pending.mobile,
        email=email,
        locale=locale if locale in ("fa", "en") else "fa",
        role=Role.PARTY,
        password_hash=password_hash,
    )
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError:
        # Signed up from another tab or device at the same moment.
        raise _account_exists(pending) from None
    await do_record(
        session,
        actor_id=user.id,
        action="user.created",
        subject_type="user",
        subject_id=user.id,
        payload={"role": Role.PARTY.value, "username": user.username, "via": "signup"},
    )
    await do_record(
        session,
        actor_id=user.id,
        action="signup.completed",
        subject_type="user",
        subject_id=user.id,
        payload={
            "kind": pending.kind.value,
            "mobile": mask_mobile(pending.mobile),
            "email": email is not None,
        },
    )
    login = await sessions.do_open_session(
        session, settings, user, SessionStage.FULL, ip, user_agent, device_hash=device_hash
    )
    return SignedUp(user, login)
