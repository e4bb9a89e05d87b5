"""Password reset by a code sent by SMS or e-mail, without telling whether an account exists.

1. :func:`do_start_reset`: the person names the account (national ID or username) and the
   channel. When an active account has that identifier and an address on that channel,
   a code goes there (``accounts.phone_codes``, purpose RESET: one message, five minutes,
   one open per address, a minute between sends). Whatever the case, the answer is the
   same and the same work is recorded (a counted attempt, an audit row): the caller learns
   nothing about the account. A refusal only ever concerns the asker (too many requests
   from the client, an empty identifier).
2. :func:`do_complete_reset`: the code and a new password. Every refusal of the code is one
   error, whether the account exists, the code is wrong, expired or retired. On success
   the password is replaced, every session of the account ends, its failed sign-ins stop
   counting against it (and against the asker's client), and it is audited.

The new password is hashed by the caller before the write transaction (argon2 is slow):
:func:`new_password_problems` first, then ``security.hash_password``.

Between the steps a web page keeps what the person typed in a signed value
(:func:`make_ticket` / :func:`read_ticket`); it names no account, so it is the same kind of
value whether one exists or not.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts import phone_codes, sessions, throttle
from hearing_server.accounts.models import User
from hearing_server.accounts.phone_codes import CodePurpose
from hearing_server.accounts.security import keyed_hash, password_problem
from hearing_server.accounts.services import login_guard
from hearing_server.audit.services import do_record
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import Invalid, TooManyRequests, ValidationErrors
from hearing_server.i18n import lazy
from hearing_server.text import normalize_digits, normalize_national_id

STARTS_PER_CLIENT = 10  # requests for a code, per client and hour
FAILURES_PER_CLIENT = 20  # wrong codes, per client and hour
TICKET_TTL = timedelta(minutes=30)
_HOUR = timedelta(hours=1)
MAX_IDENTIFIER = 64


class ResetChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


def parse_channel(value: str | None) -> ResetChannel:
    try:
        return ResetChannel(value or "")
    except ValueError:
        raise Invalid("Choose SMS or e-mail.", code="channel_invalid", field="channel") from None


def _identifier(value: str) -> tuple[str, str]:
    """("national_id", ten digits) or ("username", lower case); 422 when empty."""
    text = normalize_digits(value).strip()
    if not text or len(text) > MAX_IDENTIFIER:
        raise Invalid(
            "Enter your national ID or your username.",
            code="identifier_invalid",
            field="identifier",
        )
    try:
        return "national_id", normalize_national_id(text)
    except ValueError:
        return "username", text.lower()


async def _account(session: AsyncSession, identifier: tuple[str, str]) -> User | None:
    kind, value = identifier
    column = User.national_id if kind == "national_id" else User.username
    user: User | None = await session.scalar(
        select(User).where(column == value, User.is_active.is_(True))
    )
    return user


def _address(user: User | None, channel: ResetChannel) -> str | None:
    if user is None:
        return None
    return user.mobile if channel == ResetChannel.SMS else user.email


async def check_reset_allowed(session: AsyncSession, *, client: str) -> None:
    """429 while ``client`` has failed too many codes (before the new password is hashed)."""
    await throttle.check_throttle(
        session, [f"reset:fail:{client}"], limit=FAILURES_PER_CLIENT, window=_HOUR
    )


async def do_start_reset(
    session: AsyncSession,
    settings: Settings,
    *,
    identifier: str,
    channel: ResetChannel,
    client: str,
) -> None:
    """Send a reset code to the account's mobile or e-mail, if there is such an account
    with such an address; the same outcome for the caller either way (see the module)."""
    ident = _identifier(identifier)
    key = f"reset:start:{client}"
    await throttle.check_throttle(session, [key], limit=STARTS_PER_CLIENT, window=_HOUR)
    await throttle.do_count_attempt(session, [key])
    user = await _account(session, ident)
    address = _address(user, channel)
    sent = False
    if user is not None and address:
        try:
            if channel == ResetChannel.SMS:
                await phone_codes.do_send_code(
                    session,
                    settings,
                    purpose=CodePurpose.RESET,
                    mobile=address,
                    client=client,
                    user=user,
                )
            else:
                await phone_codes.do_send_email_code(
                    session,
                    settings,
                    purpose=CodePurpose.RESET,
                    email=address,
                    client=client,
                    user=user,
                )
            sent = True
        except (TooManyRequests, Invalid):
            # Too soon after the last code (which still works), or an address on file that
            # is not one: answered like every other case. Both refuse before writing.
            pass
    await do_record(
        session,
        actor_id=user.id if user else None,
        action="password_reset.requested",
        subject_type="user" if user else None,
        subject_id=user.id if user else None,
        payload={"channel": channel.value, "sent": sent},
    )


def new_password_problems(password: str, again: str) -> None:
    """422 naming each problem of a new password typed twice (checked before hashing; the
    account's own name is checked once the code has shown which account it is)."""
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    problem = password_problem(password)
    if problem:
        errors["password"] = (problem, {})
    elif password != again:
        errors["password_again"] = (lazy("The two passwords are not the same."), {})
    if errors:
        raise ValidationErrors(errors)


def _code_refused() -> Invalid:
    return Invalid(
        "The code is not correct or has expired. Ask for a new code.",
        code="reset_code_invalid",
        field="code",
        persist=True,
    )


async def do_complete_reset(
    session: AsyncSession,
    settings: Settings,
    *,
    identifier: str,
    channel: ResetChannel,
    code: str,
    password: str,
    password_hash: str,
    client: str,
) -> User:
    """Set the password (``password_hash``, hashed by the caller from ``password``) of the
    account the code was sent for, end all its sessions; or one refusal for any bad code."""
    await check_reset_allowed(session, client=client)
    ident = _identifier(identifier)
    user = await _account(session, ident)
    address = _address(user, channel)
    try:
        if user is None or not address:
            raise _code_refused()
        if channel == ResetChannel.SMS:
            row = await phone_codes.do_check_code(
                session, settings, purpose=CodePurpose.RESET, mobile=address, code=code
            )
        else:
            row = await phone_codes.do_check_email_code(
                session, settings, purpose=CodePurpose.RESET, email=address, code=code
            )
        if row.user_id != user.id:  # another account's code to the same address
            raise _code_refused()
    except Invalid:
        await throttle.do_count_attempt(session, [f"reset:fail:{client}"])
        raise _code_refused() from None
    problem = password_problem(password, username=user.username)
    if problem:
        # Not persisted: the code stays good for a better password.
        raise ValidationErrors({"password": (problem, {})})
    user.password_hash = password_hash
    await session.flush()
    revoked = await sessions.do_revoke_sessions(session, actor=user, user_id=user.id)
    await throttle.do_forget_failures(
        session, login_guard(settings), subject=user.username, client=client
    )
    await do_record(
        session,
        actor_id=user.id,
        action="password.reset",
        subject_type="user",
        subject_id=user.id,
        payload={"channel": channel.value, "sessions_ended": revoked},
    )
    return user


# ---------------------------------------------------------------- the web pages' ticket


def make_ticket(settings: Settings, *, identifier: str, channel: ResetChannel) -> str:
    """A signed value holding what the person typed at step 1 (for a cookie)."""
    payload = json.dumps(
        {"i": identifier[:MAX_IDENTIFIER], "c": channel.value, "t": int(utcnow().timestamp())},
        separators=(",", ":"),
    )
    body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{body}.{keyed_hash(settings.secret_key, f'reset-ticket:{body}')}"


def read_ticket(settings: Settings, value: str | None) -> tuple[str, ResetChannel] | None:
    """(identifier, channel) of a ticket made here less than TICKET_TTL ago, or None."""
    if not value or len(value) > 400 or "." not in value:
        return None
    body, _dot, signature = value.rpartition(".")
    expected = keyed_hash(settings.secret_key, f"reset-ticket:{body}")
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        identifier, channel, issued = str(data["i"]), ResetChannel(data["c"]), int(data["t"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if utcnow().timestamp() - issued > TICKET_TTL.total_seconds():
        return None
    return identifier, channel
