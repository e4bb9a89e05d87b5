"""Six-digit codes sent by SMS: proving a mobile number at sign-up and activation, the
parties' second factor at sign-in, and password reset.

A code is:

- short-lived: valid for :data:`CODE_TTL` after it was sent;
- one per (purpose, mobile) at a time: sending a new one retires the earlier ones;
- throttled: a mobile number gets a new code at most once per :data:`RESEND_AFTER` and
  :data:`CODES_PER_MOBILE` per hour, a client asks for at most :data:`CODES_PER_CLIENT`
  per hour (an SMS costs the office money, and a stranger must not flood a number);
- guessed at most :data:`MAX_WRONG` times: the wrong guess that reaches it retires the code;
- replay-proof: accepting it is a conditional UPDATE, so of any number of concurrent
  submissions of one code exactly one succeeds.

Only a keyed hash of the code is stored. The SMS goes through the outbox, in the caller's
transaction: exactly one message per request that sent a code. Its text is Persian, the
code in ASCII digits, and its last line is the WebOTP form (``@host #code``) that lets a
phone's browser offer the code itself.

A code may go by e-mail instead (password reset: :func:`do_send_email_code`,
:func:`do_check_email_code`): the same rules, the row's address is then the e-mail address,
and the message is queued on the outbox's e-mail channel.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts import throttle
from hearing_server.accounts.models import PhoneCode, User
from hearing_server.accounts.security import keyed_hash
from hearing_server.audit.services import do_record
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import Invalid
from hearing_server.notifications.services import do_enqueue
from hearing_server.text import normalize_mobile, normalize_otp

CODE_TTL = timedelta(minutes=5)
RESEND_AFTER = timedelta(seconds=60)
CODES_PER_MOBILE = 5  # per hour
CODES_PER_CLIENT = 10  # per hour
MAX_WRONG = 5
_HOUR = timedelta(hours=1)


class CodePurpose(StrEnum):
    SIGNUP = "signup"
    LOGIN = "login"
    ACTIVATE = "activate"
    RESET = "reset"


# What the SMS says the code is for (Persian whatever the interface language: the message
# reaches a phone, not a session).
_WHAT_FOR = {
    CodePurpose.SIGNUP: "ثبت‌نام در سامانه حیات",
    CodePurpose.LOGIN: "ورود به سامانه حیات",
    CodePurpose.ACTIVATE: "فعال‌سازی حساب شما در سامانه حیات",
    CodePurpose.RESET: "تعیین گذرواژهٔ تازه در سامانه حیات",
}


def _hash(settings: Settings, purpose: str, mobile: str, code: str) -> str:
    return keyed_hash(settings.secret_key, f"phone-code:{purpose}:{mobile}:{code}")


def mask_mobile(mobile: str) -> str:
    """``0912…67``: enough for the owner to recognise, not enough to harvest."""
    return f"{mobile[:4]}…{mobile[-2:]}" if len(mobile) > 6 else "…"


def mask_email(email: str) -> str:
    """``a…@example.com``: the first letter and the domain."""
    local, _at, domain = email.partition("@")
    return f"{local[:1]}…@{domain}" if domain else "…"


def sms_text(settings: Settings, purpose: CodePurpose, code: str) -> str:
    host = urlsplit(settings.base_url).hostname or "localhost"
    minutes = int(CODE_TTL.total_seconds() // 60)
    return (
        f"کد {_WHAT_FOR[purpose]}: {code}\n"
        f"این کد تا {minutes} دقیقه معتبر است. آن را به هیچ‌کس، حتی کارمند اداره کار، ندهید.\n"
        f"@{host} #{code}"
    )


def email_text(settings: Settings, purpose: CodePurpose, code: str) -> str:
    minutes = int(CODE_TTL.total_seconds() // 60)
    return (
        f"کد {_WHAT_FOR[purpose]}: {code}\n\n"
        f"این کد تا {minutes} دقیقه معتبر است. آن را به هیچ‌کس، حتی کارمند اداره کار، ندهید.\n"
        "اگر این کد را شما نخواسته‌اید، این نامه را نادیده بگیرید.\n\n"
        f"Your Heyat code: {code} (valid for {minutes} minutes). "
        "If you did not ask for it, ignore this message.\n"
        f"{settings.base_url}\n"
    )


def _email(value: str) -> str:
    address = value.strip().lower()
    local, _at, domain = address.partition("@")
    if not local or "." not in domain or len(address) > 254 or any(c.isspace() for c in address):
        raise Invalid("The email address is not valid.", code="email_invalid", field="email")
    return address


def _mobile(value: str) -> str:
    try:
        return normalize_mobile(value)
    except ValueError:
        raise Invalid(
            "Enter a mobile number such as 09121234567.", code="mobile_invalid", field="mobile"
        ) from None


# The newest code of (purpose, mobile) that may still be accepted; built once.
_OPEN = (
    select(PhoneCode)
    .where(
        PhoneCode.purpose == bindparam("purpose"),
        PhoneCode.mobile == bindparam("mobile"),
        PhoneCode.used_at.is_(None),
        PhoneCode.expires_at > bindparam("now"),
    )
    .order_by(PhoneCode.id.desc())
    .limit(1)
)
_RETIRE = (
    update(PhoneCode)
    .where(
        PhoneCode.purpose == bindparam("b_purpose"),
        PhoneCode.mobile == bindparam("b_mobile"),
        PhoneCode.used_at.is_(None),
    )
    .values(used_at=bindparam("b_now"))
    .execution_options(synchronize_session=False)
)
_LAST_SENT = (
    select(PhoneCode.created_at)
    .where(PhoneCode.purpose == bindparam("purpose"), PhoneCode.mobile == bindparam("mobile"))
    .order_by(PhoneCode.id.desc())
    .limit(1)
)


async def do_send_code(
    session: AsyncSession,
    settings: Settings,
    *,
    purpose: CodePurpose,
    mobile: str,
    client: str,
    user: User | None = None,
) -> PhoneCode:
    """Send a fresh code to ``mobile`` (queued in the outbox in this transaction).

    ``client``: who asks (``ip:…`` or ``device:…``), for the per-client limit. Refused with
    429 (and how long to wait) when the number or the client has had its share.
    """
    return await _send(
        session,
        settings,
        purpose=purpose,
        address=_mobile(mobile),
        channel="sms",
        client=client,
        user=user,
    )


async def do_send_email_code(
    session: AsyncSession,
    settings: Settings,
    *,
    purpose: CodePurpose,
    email: str,
    client: str,
    user: User | None = None,
) -> PhoneCode:
    """:func:`do_send_code` by e-mail: the same limits, per address instead of number."""
    return await _send(
        session,
        settings,
        purpose=purpose,
        address=_email(email),
        channel="email",
        client=client,
        user=user,
    )


async def _send(
    session: AsyncSession,
    settings: Settings,
    *,
    purpose: CodePurpose,
    address: str,
    channel: str,
    client: str,
    user: User | None,
) -> PhoneCode:
    mobile = address
    now = utcnow()
    last = await session.scalar(_LAST_SENT, {"purpose": purpose.value, "mobile": mobile})
    if last is not None and last > now - RESEND_AFTER:
        raise throttle.too_many(throttle.seconds_until(last + RESEND_AFTER, now))
    mobile_key = f"phone-code:mobile:{mobile}"
    client_key = f"phone-code:client:{client}"
    await throttle.check_throttle(session, [mobile_key], limit=CODES_PER_MOBILE, window=_HOUR)
    await throttle.check_throttle(session, [client_key], limit=CODES_PER_CLIENT, window=_HOUR)
    await throttle.do_count_attempt(session, [mobile_key, client_key])
    await session.execute(_RETIRE, {"b_purpose": purpose.value, "b_mobile": mobile, "b_now": now})
    code = f"{secrets.randbelow(1_000_000):06d}"
    row = PhoneCode(
        purpose=purpose.value,
        mobile=mobile,
        user_id=user.id if user else None,
        code_hash=_hash(settings, purpose.value, mobile, code),
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    session.add(row)
    await session.flush()
    email = channel == "email"
    await do_enqueue(
        session,
        channel=channel,
        address=mobile,
        subject=f"کد {_WHAT_FOR[purpose]}" if email else f"code:{purpose.value}",
        body=email_text(settings, purpose, code) if email else sms_text(settings, purpose, code),
        recipient=user,
        dedupe_key=f"phone-code:{row.id}",
    )
    masked = {"email": mask_email(mobile)} if email else {"mobile": mask_mobile(mobile)}
    await do_record(
        session,
        actor_id=user.id if user else None,
        action="phone_code.sent",
        subject_type="phone_code",
        subject_id=row.id,
        payload={"purpose": purpose.value, **masked},
    )
    return row


_WRONG = (
    update(PhoneCode)
    .where(PhoneCode.id == bindparam("b_id"))
    .values(wrong_count=PhoneCode.wrong_count + 1)
    .returning(PhoneCode.wrong_count)
    .execution_options(synchronize_session=False)
)
_CLAIM = (
    update(PhoneCode)
    .where(PhoneCode.id == bindparam("b_id"), PhoneCode.used_at.is_(None))
    .values(used_at=bindparam("b_now"))
    .execution_options(synchronize_session=False)
)


async def do_check_code(
    session: AsyncSession,
    settings: Settings,
    *,
    purpose: CodePurpose,
    mobile: str,
    code: str,
) -> PhoneCode:
    """Accept ``code`` for (purpose, mobile) once, or refuse with a 422 that persists its
    bookkeeping (a wrong guess counted, a code retired)."""
    return await _check(session, settings, purpose=purpose, address=_mobile(mobile), code=code)


async def do_check_email_code(
    session: AsyncSession,
    settings: Settings,
    *,
    purpose: CodePurpose,
    email: str,
    code: str,
) -> PhoneCode:
    """:func:`do_check_code` for a code sent by e-mail."""
    return await _check(session, settings, purpose=purpose, address=_email(email), code=code)


async def resend_wait(session: AsyncSession, *, purpose: CodePurpose, address: str) -> int:
    """Seconds until another code may be sent to ``address`` for ``purpose`` (0: now)."""
    last = await session.scalar(_LAST_SENT, {"purpose": purpose.value, "mobile": address})
    now = utcnow()
    if last is None or last <= now - RESEND_AFTER:
        return 0
    return throttle.seconds_until(last + RESEND_AFTER, now)


async def _check(
    session: AsyncSession,
    settings: Settings,
    *,
    purpose: CodePurpose,
    address: str,
    code: str,
) -> PhoneCode:
    mobile = address
    now = utcnow()
    row = await session.scalar(_OPEN, {"purpose": purpose.value, "mobile": mobile, "now": now})
    if row is None:
        raise Invalid(
            "This code has expired or was already used. Ask for a new code.",
            code="sms_code_expired",
            field="code",
        )
    try:
        digits = normalize_otp(code)
    except ValueError:
        digits = ""
    expected = row.code_hash
    if not digits or not hmac.compare_digest(
        _hash(settings, purpose.value, mobile, digits), expected
    ):
        wrong = await session.scalar(_WRONG, {"b_id": row.id})
        retired = throttle.is_over(wrong, limit=MAX_WRONG)
        if retired:
            await session.execute(_CLAIM, {"b_id": row.id, "b_now": now})
        await do_record(
            session,
            actor_id=row.user_id,
            action="phone_code.failed",
            subject_type="phone_code",
            subject_id=row.id,
            payload={"purpose": purpose.value, "wrong": wrong, "retired": retired},
        )
        if retired:
            raise Invalid(
                "Too many wrong codes. Ask for a new code.",
                code="sms_code_retired",
                persist=True,
                field="code",
            )
        raise Invalid(
            "The code is not correct.", code="sms_code_invalid", persist=True, field="code"
        )
    claimed = await session.execute(_CLAIM, {"b_id": row.id, "b_now": now})
    if int(getattr(claimed, "rowcount", 0) or 0) != 1:
        raise Invalid(
            "This code has expired or was already used. Ask for a new code.",
            code="sms_code_expired",
            field="code",
        )
    await do_record(
        session,
        actor_id=row.user_id,
        action="phone_code.accepted",
        subject_type="phone_code",
        subject_id=row.id,
        payload={"purpose": purpose.value},
    )
    return row
