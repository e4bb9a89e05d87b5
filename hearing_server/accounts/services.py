"""Users, sign-in, server-side sessions and second factors.

Every function takes the session first and flushes, never commits. Refusals
whose bookkeeping must survive (a failed code counted, an audit row written)
raise with ``persist=True`` so the boundary commits that bookkeeping.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from hearing_server.accounts.models import (
    LoginSession,
    RecoveryCode,
    Role,
    SessionStage,
    ThrottleHit,
    TotpCredential,
    User,
)
from hearing_server.accounts.security import (
    SecretBox,
    hash_password,
    keyed_hash,
    new_token,
    password_problem,
    token_hash,
    verify_password,
)
from hearing_server.audit.services import do_record
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import (
    Conflict,
    Forbidden,
    Invalid,
    Locked,
    NotFound,
    TooManyRequests,
    Unauthenticated,
    ValidationErrors,
)
from hearing_server.text import (
    normalize_mobile,
    normalize_national_id,
    normalize_otp,
    normalize_persian,
)

MAX_OTP_FAILURES = 5
OTP_LOCK = timedelta(minutes=5)
RECOVERY_CODES = 10
SESSION_TOUCH_EVERY = timedelta(seconds=60)


# ---------------------------------------------------------------- users


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username.strip().lower()))


async def require_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def do_create_user(
    session: AsyncSession,
    *,
    username: str,
    full_name: str,
    password: str,
    role: Role,
    national_id: str | None = None,
    mobile: str | None = None,
    email: str | None = None,
    locale: str = "fa",
    actor_id: int | None = None,
) -> User:
    """Validate everything first and report every bad field at once; write nothing if any is bad."""
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    username = username.strip().lower()
    full_name = normalize_persian(full_name)
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        errors["username"] = ("A username uses only letters, digits, dot, dash and underscore.", {})
    elif await get_user_by_username(session, username):
        errors["username"] = ("This username is taken.", {})
    if not full_name:
        errors["full_name"] = ("Enter the full name.", {})
    problem = password_problem(password, username=username)
    if problem:
        errors["password"] = (problem, {})
    nid: str | None = None
    if national_id:
        try:
            nid = normalize_national_id(national_id)
        except ValueError:
            errors["national_id"] = (
                "The national ID is not valid: it must be 10 digits with a correct check digit.",
                {},
            )
        else:
            if await session.scalar(select(User.id).where(User.national_id == nid)):
                errors["national_id"] = ("A user with this national ID already exists.", {})
    mob: str | None = None
    if mobile:
        try:
            mob = normalize_mobile(mobile)
        except ValueError:
            errors["mobile"] = ("The mobile number is not valid, e.g. 09121234567.", {})
    if email and ("@" not in email or len(email) > 254):
        errors["email"] = ("The email address is not valid.", {})
    if errors:
        raise ValidationErrors(errors)
    user = User(
        username=username,
        full_name=full_name,
        national_id=nid,
        mobile=mob,
        email=email or None,
        locale=locale if locale in ("fa", "en") else "fa",
        role=role,
        password_hash=await hash_password(password),
    )
    session.add(user)
    await session.flush()
    await do_record(
        session,
        actor_id=actor_id,
        action="user.created",
        subject_type="user",
        subject_id=user.id,
        payload={"role": role.value, "username": username},
    )
    return user


async def do_set_locale(session: AsyncSession, *, user_id: int, locale: str) -> None:
    if locale not in ("fa", "en"):
        raise Invalid("Unknown language.")
    user = await require_user(session, user_id)
    user.locale = locale
    await session.flush()


# ---------------------------------------------------------------- throttling


async def check_throttle(
    session: AsyncSession, keys: list[str], *, limit: int, window: timedelta
) -> None:
    since = utcnow() - window
    for key in keys:
        count = await session.scalar(
            select(func.count())
            .select_from(ThrottleHit)
            .where(ThrottleHit.key == key, ThrottleHit.at >= since)
        )
        if (count or 0) >= limit:
            raise TooManyRequests("Too many attempts. Please wait a few minutes and try again.")


async def do_count_attempt(session: AsyncSession, keys: list[str]) -> None:
    now = utcnow()
    session.add_all([ThrottleHit(key=key, at=now) for key in keys])
    # Keep the table small: forget hits older than a day.
    await session.execute(delete(ThrottleHit).where(ThrottleHit.at < now - timedelta(days=1)))
    await session.flush()


# ---------------------------------------------------------------- sessions


@dataclass(frozen=True)
class NewSession:
    login_session: LoginSession
    token: str  # goes into the cookie; only its hash is stored


async def _open_session(
    session: AsyncSession,
    settings: Settings,
    user: User,
    stage: SessionStage,
    ip: str | None,
    agent: str | None,
) -> NewSession:
    token = new_token()
    now = utcnow()
    row = LoginSession(
        token_hash=token_hash(token),
        user_id=user.id,
        stage=stage,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_hours),
        ip=ip,
        user_agent=(agent or "")[:300] or None,
    )
    session.add(row)
    await session.flush()
    row.user = user
    return NewSession(row, token)


async def do_password_login(
    session: AsyncSession,
    settings: Settings,
    *,
    username: str,
    password: str,
    ip: str | None,
    user_agent: str | None = None,
) -> NewSession:
    """First factor: a session in stage PASSWORD (code next) or ENROL (no authenticator yet)."""
    username = username.strip().lower()
    keys = [f"login:acct:{username}", f"login:ip:{ip}"]
    window = timedelta(seconds=settings.login_window_seconds)
    await check_throttle(
        session, keys[:1], limit=settings.login_attempts_per_account, window=window
    )
    await check_throttle(
        session, keys[1:], limit=settings.login_attempts_per_address, window=window
    )
    user = await session.scalar(
        select(User).options(selectinload(User.totp)).where(User.username == username)
    )
    ok = await verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        await do_count_attempt(session, keys)
        await do_record(
            session,
            actor_id=user.id if user else None,
            action="login.failed",
            payload={"username": username[:64], "ip": ip},
        )
        raise Unauthenticated("Wrong username or password.", code="bad_credentials", persist=True)
    active = user.totp is not None and user.totp.activated_at is not None
    stage = SessionStage.PASSWORD if active else SessionStage.ENROL
    return await _open_session(session, settings, user, stage, ip, user_agent)


async def get_login_session(
    session: AsyncSession, settings: Settings, token: str | None
) -> LoginSession | None:
    """The live session behind a cookie token, or None if unknown, revoked, idle or expired."""
    if not token or len(token) > 100:
        return None
    row = await session.scalar(
        select(LoginSession).where(LoginSession.token_hash == token_hash(token))
    )
    if row is None or row.revoked_at is not None or not row.user.is_active:
        return None
    now = utcnow()
    if now >= row.expires_at or now - row.last_seen_at >= timedelta(
        minutes=settings.session_idle_minutes
    ):
        return None
    return row


def needs_touch(row: LoginSession) -> bool:
    return utcnow() - row.last_seen_at >= SESSION_TOUCH_EVERY


_TOUCH = (
    update(LoginSession)
    .where(LoginSession.id == bindparam("session_id"))
    .values(last_seen_at=bindparam("seen"))
    .execution_options(synchronize_session=False)
)  # built once


async def do_touch_session(session: AsyncSession, session_id: int) -> None:
    await session.execute(_TOUCH, {"session_id": session_id, "seen": utcnow()})


async def do_logout(session: AsyncSession, row: LoginSession) -> None:
    await session.execute(
        update(LoginSession)
        .where(LoginSession.id == row.id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await do_record(
        session, actor_id=row.user_id, action="logout", subject_type="session", subject_id=row.id
    )


async def do_revoke_sessions(session: AsyncSession, *, actor: User, user_id: int) -> int:
    """Revoke every live session of ``user_id`` (an admin, or the user for their own)."""
    if actor.role != Role.ADMIN and actor.id != user_id:
        raise Forbidden("You may not revoke this user's sessions.")
    await require_user(session, user_id)
    result = await session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await do_record(
        session,
        actor_id=actor.id,
        action="sessions.revoked",
        subject_type="user",
        subject_id=user_id,
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def list_sessions(session: AsyncSession, user_id: int) -> list[LoginSession]:
    now = utcnow()
    rows = await session.scalars(
        select(LoginSession)
        .where(
            LoginSession.user_id == user_id,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > now,
        )
        .order_by(LoginSession.last_seen_at.desc())
    )
    return list(rows)


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
    if cred.locked_until is not None and cred.locked_until > now:
        await do_record(
            session, actor_id=user.id, action="otp.locked", payload={"purpose": purpose}
        )
        raise Locked(
            "Too many wrong codes. Try again after {minutes} minutes.",
            code="otp_locked",
            persist=True,
            field="otp",
            minutes=max(1, int((cred.locked_until - now).total_seconds() // 60) + 1),
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


async def _count_failure(
    session: AsyncSession, user: User, cred: TotpCredential, now: object, purpose: str
) -> None:
    # The count after this failure, from the UPDATE itself (no read-back, no refresh).
    failures = await session.scalar(
        update(TotpCredential)
        .where(TotpCredential.user_id == user.id)
        .values(failed_count=TotpCredential.failed_count + 1)
        .returning(TotpCredential.failed_count)
        .execution_options(synchronize_session=False)
    )
    if (failures or 0) >= MAX_OTP_FAILURES:
        until = utcnow() + OTP_LOCK
        await session.execute(
            update(TotpCredential)
            .where(TotpCredential.user_id == user.id)
            .values(failed_count=0, locked_until=until)
            .execution_options(synchronize_session=False)
        )
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


async def do_second_factor(
    session: AsyncSession,
    settings: Settings,
    row: LoginSession,
    *,
    code: str | None = None,
    recovery_code: str | None = None,
) -> LoginSession:
    """Complete sign-in: a TOTP code (or a recovery code) moves the session to FULL."""
    if row.stage != SessionStage.PASSWORD:
        raise Conflict("This sign-in does not wait for a code.")
    user = row.user
    if recovery_code:
        await do_use_recovery_code(session, settings, user, recovery_code)
    else:
        await verify_otp(session, settings, user, code or "", purpose="login")
    # A new token on privilege change: the pre-code cookie cannot be reused as a full session.
    row.stage = SessionStage.FULL
    await do_record(
        session, actor_id=user.id, action="login", subject_type="session", subject_id=row.id
    )
    await session.flush()
    return row


async def do_rotate_token(session: AsyncSession, row: LoginSession) -> str:
    token = new_token()
    row.token_hash = token_hash(token)
    row.csrf_token = secrets.token_urlsafe(32)
    await session.flush()
    return token
