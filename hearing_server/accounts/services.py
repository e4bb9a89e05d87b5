"""Sign-in (password, then an authenticator code or a recovery code) and authenticators.

Every function takes the session first and flushes, never commits. Refusals
whose bookkeeping must survive (a failed code counted, an audit row written)
raise with ``persist=True`` so the boundary commits that bookkeeping.

Users are in ``accounts.users``, login sessions in ``accounts.sessions`` and the limits
on attempts in ``accounts.throttle``; their names are imported here too, for callers
that still take them from this module.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from hearing_server.accounts import login_codes, sessions, throttle
from hearing_server.accounts.models import (
    LoginSession,
    RecoveryCode,
    SecondFactor,
    SessionStage,
    TotpCredential,
    User,
)
from hearing_server.accounts.security import SecretBox, keyed_hash, verify_password

# Names that moved to their own modules, re-exported for the callers of this one.
from hearing_server.accounts.sessions import SESSION_TOUCH_EVERY as SESSION_TOUCH_EVERY
from hearing_server.accounts.sessions import NewSession as NewSession
from hearing_server.accounts.sessions import do_logout as do_logout
from hearing_server.accounts.sessions import do_revoke_sessions as do_revoke_sessions
from hearing_server.accounts.sessions import do_rotate_token as do_rotate_token
from hearing_server.accounts.sessions import do_touch_session as do_touch_session
from hearing_server.accounts.sessions import get_login_session as get_login_session
from hearing_server.accounts.sessions import list_sessions as list_sessions
from hearing_server.accounts.throttle import check_throttle as check_throttle
from hearing_server.accounts.throttle import do_count_attempt as do_count_attempt
from hearing_server.accounts.users import do_create_user as do_create_user
from hearing_server.accounts.users import do_set_locale as do_set_locale
from hearing_server.accounts.users import get_user_by_username as get_user_by_username
from hearing_server.accounts.users import require_user as require_user
from hearing_server.audit.services import do_record
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import Database
from hearing_server.errors import Conflict, Invalid, Locked, Unauthenticated
from hearing_server.text import normalize_legal_id, normalize_national_id, normalize_otp

MAX_OTP_FAILURES = 5  # wrong codes in a row lock the authenticator …
OTP_LOCK = timedelta(minutes=5)  # … for this long
RECOVERY_CODES = 10


# ---------------------------------------------------------------- sign-in


def login_guard(settings: Settings) -> throttle.Guard:
    """The limits on guessing passwords (accounts.throttle, the settings ``login_*``)."""
    return throttle.Guard(
        name="login",
        per_client=settings.login_attempts_per_client,
        subjects_per_client=settings.login_accounts_per_address,
        per_subject=settings.login_attempts_per_account,
        lock_clients=settings.login_lock_clients,
        window=timedelta(seconds=settings.login_window_seconds),
    )


# A device (the keyed hash of its cookie) that completed a sign-in to the account.
_KNOWN_DEVICE = (
    select(LoginSession.id)
    .where(
        LoginSession.user_id == bindparam("user"),
        LoginSession.device_hash == bindparam("device"),
        LoginSession.stage == SessionStage.FULL,
    )
    .limit(1)
)


async def do_password_login(
    session: AsyncSession,
    settings: Settings,
    attempt: PasswordAttempt,
    *,
    ip: str | None,
    user_agent: str | None = None,
    device: str | None = None,
) -> NewSession:
    """First factor, the write after :func:`read_password_attempt`: a session in stage
    PASSWORD (code next: the authenticator's, or for a party without one a code by SMS,
    see accounts.login_codes) or ENROL (no second factor yet: an authenticator must be
    set up).

    ``device``: the keyed hash of the browser's device cookie. A device that completed a
    sign-in to this account before is the client its failures are counted under, and it
    passes an account-wide lock (the owner's way in during a distributed attack);
    otherwise the client is the address ``ip``.
    """
    user = await check_password(session, settings, attempt)
    factor = login_codes.second_factor_for(user, user.totp)
    stage = SessionStage.PASSWORD if factor else SessionStage.ENROL
    return await sessions.do_open_session(
        session, settings, user, stage, ip, user_agent, device_hash=device, second_factor=factor
    )


async def _by_identity_number(session: AsyncSession, typed: str) -> User | None:
    """The account of a national ID (or a company's national ID) typed in any digits: what
    a worker registered at the counter knows, rather than the username made for them."""
    for normalize, column in (
        (normalize_national_id, User.national_id),
        (normalize_legal_id, User.legal_id),
    ):
        try:
            number = normalize(typed)
        except ValueError:
            continue
        return await session.scalar(
            select(User).options(selectinload(User.totp)).where(column == number)
        )
    return None


@dataclass(frozen=True)
class PasswordAttempt:
    """A password checked by :func:`read_password_attempt` (argon2 done, nothing written):
    whom it names, the client its failure counts under, and the verdict."""

    username: str  # the account's own name when one was found
    user_id: int | None
    ip: str | None
    client: str
    trusted: bool
    password_hash: str | None  # the hash the password was checked against
    matches: bool


async def read_password_attempt(
    db: Database,
    settings: Settings,
    *,
    username: str,
    password: str,
    ip: str | None,
    device: str | None = None,
) -> PasswordAttempt:
    """Read the account and the guard in a short read transaction (a client the guard
    refuses, 429/423, is refused before argon2 runs), then verify the password with no
    transaction open: argon2 never runs inside the write that counts the attempt
    (:func:`check_password`)."""
    username = username.strip().lower()
    async with db.transaction(write=False) as session:
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            user = await _by_identity_number(session, username)
        if user is not None:
            # Failures count against the account whichever name it was reached by.
            username = user.username
        trusted = (
            user is not None
            and device is not None
            and await session.scalar(_KNOWN_DEVICE, {"user": user.id, "device": device}) is not None
        )
        client = f"device:{device}" if trusted else f"ip:{ip}"
        await throttle.check_guard(
            session, login_guard(settings), subject=username, client=client, trusted=trusted
        )
    password_hash = user.password_hash if user else None
    matches = await verify_password(password_hash, password)
    return PasswordAttempt(
        username, user.id if user else None, ip, client, trusted, password_hash, matches
    )


async def check_password(
    session: AsyncSession, settings: Settings, attempt: PasswordAttempt
) -> User:
    """In the write transaction, after :func:`read_password_attempt`: the user whose
    password this is (their authenticator row loaded), or a refusal: 401 counted against
    the guard, 429/423 while it holds. The guard is asked again here, so a failure
    recorded while argon2 ran counts as if the attempts had come one after the other."""
    guard = login_guard(settings)
    username, client = attempt.username, attempt.client
    await throttle.check_guard(
        session, guard, subject=username, client=client, trusted=attempt.trusted
    )
    user = None
    if attempt.user_id is not None:
        user = await session.scalar(
            select(User)
            .options(selectinload(User.totp))
            .where(User.id == attempt.user_id)
            .execution_options(populate_existing=True)
        )
    # The password changed while it was checked: the old one no longer opens the account.
    ok = attempt.matches and user is not None and user.password_hash == attempt.password_hash
    # An account waiting for activation has no password its owner knows (cases.activation).
    if user is None or not ok or not user.is_active or user.activated_at is None:
        await throttle.do_count_guard_failure(session, guard, subject=username, client=client)
        await do_record(
            session,
            actor_id=user.id if user else None,
            action="login.failed",
            payload={"username": username[:64], "ip": attempt.ip, "known_device": attempt.trusted},
        )
        raise Unauthenticated("Wrong username or password.", code="bad_credentials", persist=True)
    return user


async def do_second_factor(
    session: AsyncSession,
    settings: Settings,
    row: LoginSession,
    *,
    code: str | None = None,
    recovery_code: str | None = None,
) -> LoginSession:
    """Complete sign-in: the code the session waits for (the authenticator's, a recovery
    code, or for a party signing in by SMS the code sent) moves the session to FULL."""
    if row.stage != SessionStage.PASSWORD:
        raise Conflict("This sign-in does not wait for a code.")
    user = row.user
    if row.second_factor == SecondFactor.SMS:
        await login_codes.check_login_code(session, settings, row, code or recovery_code or "")
    elif recovery_code:
        await do_use_recovery_code(session, settings, user, recovery_code)
    else:
        await verify_otp(session, settings, user, code or "", purpose="login")
    # A new token on privilege change: the pre-code cookie cannot be reused as a full session.
    row.stage = SessionStage.FULL
    await do_record(
        session,
        actor_id=user.id,
        action="login",
        subject_type="session",
        subject_id=row.id,
        payload={"factor": (row.second_factor or SecondFactor.TOTP).value},
    )
    await session.flush()
    return row


# ---------------------------------------------------------------- TOTP


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def provisioning_uri(secret: str, user: User) -> str:
    return _totp(secret).provisioning_uri(name=user.username, issuer_name="Heyat")


async def do_start_enrolment(session: AsyncSession, settings: Settings, user: User) -> str:
    """A new, not yet active secret for ``user``. Refused once an authenticator is active."""
    cred = await session.get(TotpCredential, user.id)
    if cred is not None and cred.activated_at is not None:
        raise Conflict("An authenticator is already active for this account.")
    box = SecretBox(settings.totp_keys)
    if cred is not None:
        return box.open(cred.secret_encrypted)
    secret = pyotp.random_base32()
    session.add(TotpCredential(user_id=user.id, secret_encrypted=box.seal(secret)))
    await session.flush()
    return secret


async def do_activate_totp(
    session: AsyncSession, settings: Settings, user: User, code: str
) -> list[str]:
    """Activate the pending secret with a correct code; return ten recovery codes (shown once)."""
    cred = await session.get(TotpCredential, user.id)
    if cred is None:
        raise Conflict("Start the authenticator set-up first.")
    if cred.activated_at is not None:
        raise Conflict("An authenticator is already active for this account.")
    await _check_code(session, settings, user, cred, code, purpose="enrol")
    cred.activated_at = utcnow()
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.add_all(
        [RecoveryCode(user_id=user.id, code_hash=keyed_hash(settings.secret_key, c)) for c in codes]
    )
    await do_record(
        session, actor_id=user.id, action="totp.activated", subject_type="user", subject_id=user.id
    )
    await session.flush()
    return codes


def _new_recovery_code() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


async def verify_otp(
    session: AsyncSession,
    settings: Settings,
    user: User,
    code: str,
    *,
    purpose: str,
    credential: TotpCredential | None = None,
) -> int:
    """Check a fresh code of ``user``'s active authenticator; return the claimed time-step.

    Replay-proof: the matched time-step is claimed with a conditional UPDATE, so of any
    number of concurrent submissions of one code exactly one succeeds. Five wrong codes
    lock the authenticator for five minutes. Every failure is audited.

    ``credential``: the user's row, when the caller has just read it in this transaction
    (saves the read); otherwise it is read here.
    """
    if credential is not None and credential.user_id == user.id:
        cred: TotpCredential | None = credential
    else:
        cred = await session.get(TotpCredential, user.id, populate_existing=True)
    if cred is None or cred.activated_at is None:
        raise Conflict("This account has no active authenticator.", code="totp_not_enrolled")
    return await _check_code(session, settings, user, cred, code, purpose=purpose)


# The replay-proof claim of a matched time-step (built once): one row changes only when
# no equal or later step was claimed before.
_CLAIM_STEP = (
    update(TotpCredential)
    .where(
        TotpCredential.user_id == bindparam("user"),
        (TotpCredential.last_used_step.is_(None))
        | (TotpCredential.last_used_step < bindparam("step")),
    )
    .values(last_used_step=bindparam("step"), failed_count=0, locked_until=None)
    .execution_options(synchronize_session=False)
)


async def _check_code(
    session: AsyncSession,
    settings: Settings,
    user: User,
    cred: TotpCredential,
    code: str,
    *,
    purpose: str,
) -> int:
    now = utcnow()
    minutes = throttle.retry_after(cred.locked_until, now)
    if minutes is not None:
        await do_record(
            session, actor_id=user.id, action="otp.locked", payload={"purpose": purpose}
        )
        raise Locked(
            "Too many wrong codes. Try again after {minutes} minutes.",
            code="otp_locked",
            persist=True,
            field="otp",
            minutes=minutes,
            retry_after=throttle.seconds_until(cred.locked_until, now) if cred.locked_until else 60,
        )
    secret = SecretBox.for_keys(settings.totp_keys).open(cred.secret_encrypted)
    totp = _totp(secret)
    matched: int | None = None
    try:
        digits = normalize_otp(code)
    except ValueError:
        digits = ""
    if digits:
        current = totp.timecode(now)
        for step in (current - 1, current, current + 1):
            if hmac.compare_digest(totp.generate_otp(step), digits):
                matched = step
    if matched is None:
        await _count_failure(session, user, cred, now, purpose)
        raise Invalid("The code is not correct.", code="otp_invalid", persist=True, field="otp")
    claimed = await session.execute(_CLAIM_STEP, {"user": user.id, "step": matched})
    if int(getattr(claimed, "rowcount", 0) or 0) != 1:
        await do_record(
            session, actor_id=user.id, action="otp.replayed", payload={"purpose": purpose}
        )
        raise Invalid(
            "This code has already been used. Wait for the next code.",
            code="otp_reused",
            persist=True,
            field="otp",
        )
    # What the UPDATE wrote, without reading the row back.
    set_committed_value(cred, "last_used_step", matched)
    set_committed_value(cred, "failed_count", 0)
    set_committed_value(cred, "locked_until", None)
    await do_record(session, actor_id=user.id, action="otp.accepted", payload={"purpose": purpose})
    return matched


# One more wrong code, counted by the UPDATE itself (concurrent failures are each counted;
# no read-back); built once.
_COUNT_FAILURE = (
    update(TotpCredential)
    .where(TotpCredential.user_id == bindparam("user"))
    .values(failed_count=TotpCredential.failed_count + 1)
    .returning(TotpCredential.failed_count)
    .execution_options(synchronize_session=False)
)
_LOCK = (
    update(TotpCredential)
    .where(TotpCredential.user_id == bindparam("user"))
    .values(failed_count=0, locked_until=bindparam("until"))
    .execution_options(synchronize_session=False)
)


async def _count_failure(
    session: AsyncSession, user: User, cred: TotpCredential, now: datetime, purpose: str
) -> None:
    failures = await session.scalar(_COUNT_FAILURE, {"user": user.id})
    until = throttle.lock_until(failures, limit=MAX_OTP_FAILURES, window=OTP_LOCK, now=now)
    if until is not None:
        await session.execute(_LOCK, {"user": user.id, "until": until})
        set_committed_value(cred, "failed_count", 0)
        set_committed_value(cred, "locked_until", until)
    else:
        set_committed_value(cred, "failed_count", failures or 0)
    await do_record(
        session,
        actor_id=user.id,
        action="otp.failed",
        payload={"purpose": purpose, "failures": failures},
    )


async def do_rotate_totp_secrets(session: AsyncSession, settings: Settings) -> int:
    """Re-encrypt every TOTP secret with the newest key (the first of ``settings.totp_keys``).

    Old keys stay in the list until this has run; afterwards they can be dropped."""
    box = SecretBox(settings.totp_keys)
    count = 0
    for cred in await session.scalars(select(TotpCredential)):
        cred.secret_encrypted = box.rotate(cred.secret_encrypted)
        count += 1
    await session.flush()
    await do_record(session, actor_id=None, action="totp.keys_rotated", payload={"count": count})
    return count


async def do_use_recovery_code(
    session: AsyncSession, settings: Settings, user: User, code: str
) -> None:
    normalized = code.strip().lower().replace(" ", "")
    if len(normalized) == 12:
        normalized = f"{normalized[:4]}-{normalized[4:8]}-{normalized[8:]}"
    result = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == keyed_hash(settings.secret_key, normalized),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        await do_record(session, actor_id=user.id, action="recovery_code.failed")
        raise Invalid(
            "The recovery code is not correct or was already used.",
            code="recovery_invalid",
            persist=True,
            field="otp",
        )
    await do_record(session, actor_id=user.id, action="recovery_code.used")
