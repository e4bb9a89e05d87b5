"""The parties' second factor by SMS: a code sent to the account's mobile at sign-in.

Which factor completes a sign-in (:func:`second_factor_for`):

- an active authenticator: its code, or a recovery code — whoever the user is;
- a party (Role.PARTY) without one but with a mobile number: a code sent by SMS
  (``accounts.phone_codes``, purpose LOGIN);
- anyone else (staff without an authenticator, a party without a mobile): none yet, the
  sign-in must enrol an authenticator first (stage ENROL).

Board members, secretaries, clerks and admins therefore always sign in with an
authenticator, and votes and approvals ask for its code whoever signed in how. A party may
enrol an authenticator from their account page; from then on it is their second factor.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts import phone_codes
from hearing_server.accounts.models import (
    LoginSession,
    Role,
    SecondFactor,
    TotpCredential,
    User,
)
from hearing_server.accounts.phone_codes import CodePurpose
from hearing_server.config import Settings
from hearing_server.errors import Conflict, TooManyRequests


def has_authenticator(cred: TotpCredential | None) -> bool:
    return cred is not None and cred.activated_at is not None


def second_factor_for(user: User, cred: TotpCredential | None) -> SecondFactor | None:
    """The factor that completes ``user``'s sign-in (``cred``: their authenticator row, if
    any), or None when they must enrol an authenticator first."""
    if has_authenticator(cred):
        return SecondFactor.TOTP
    if user.role == Role.PARTY and user.mobile:
        return SecondFactor.SMS
    return None


def _sms_user(row: LoginSession) -> User:
    if row.second_factor != SecondFactor.SMS or not row.user.mobile:
        raise Conflict("This sign-in does not wait for a code by SMS.", code="not_sms_sign_in")
    return row.user


async def do_send_login_code(session: AsyncSession, settings: Settings, row: LoginSession) -> None:
    """Send a sign-in code to the mobile of ``row``'s user (one SMS, queued in this
    transaction); 429 with the wait while an earlier code is too recent."""
    await do_send_code_to(session, settings, _sms_user(row))


async def do_send_code_to(session: AsyncSession, settings: Settings, user: User) -> None:
    """Send a sign-in code to ``user``'s mobile (their password was just checked).

    The per-client limit of accounts.phone_codes counts per account here, not per address:
    the password already proved the asker, and the parties of one labour office share its
    address."""
    await phone_codes.do_send_code(
        session,
        settings,
        purpose=CodePurpose.LOGIN,
        mobile=user.mobile or "",
        client=f"account:{user.id}",
        user=user,
    )


async def do_offer_login_code(session: AsyncSession, settings: Settings, row: LoginSession) -> int:
    """After the password: send the code, unless the number had one too recently (that one
    is still good). Returns the seconds until another may be asked for (0: sent now or
    no wait)."""
    try:
        await do_send_login_code(session, settings, row)
    except TooManyRequests as exc:
        return int(exc.retry_after or 60)
    return 0


@dataclass(frozen=True)
class CodeSent:
    to: str  # the masked number
    wait: int  # seconds until another code may be asked for


async def code_status(session: AsyncSession, row: LoginSession) -> CodeSent:
    """Where the code of ``row`` went (masked) and how long until another may be sent."""
    user = _sms_user(row)
    mobile = user.mobile or ""
    wait = await phone_codes.resend_wait(session, purpose=CodePurpose.LOGIN, address=mobile)
    return CodeSent(phone_codes.mask_mobile(mobile), wait)


async def check_login_code(
    session: AsyncSession, settings: Settings, row: LoginSession, code: str
) -> None:
    """Accept the SMS code of ``row``'s sign-in (once), or refuse (accounts.phone_codes).

    A party who enrolled an authenticator since the password was checked signs in again:
    the authenticator is then their factor."""
    user = _sms_user(row)
    cred = await session.get(TotpCredential, user.id, populate_existing=True)
    if has_authenticator(cred):
        raise Conflict(
            "Your account now uses an authenticator. Please sign in again.",
            code="sign_in_again",
        )
    await phone_codes.do_check_code(
        session, settings, purpose=CodePurpose.LOGIN, mobile=user.mobile or "", code=code
    )
