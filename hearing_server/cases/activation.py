"""Activation of an account made for someone else: the worker a clerk registered at the
counter takes over the party account that filing made for them.

- When the complaint is filed, the account is *not activated* (``users.activated_at`` is
  None): it has a random password nobody knows, and password sign-in refuses it.
- An activation code is made (:func:`do_issue`): twelve characters that cannot be misread,
  shown as ``ACDE-FHJK-MNPQ``, valid :data:`CODE_TTL`, used once; only a keyed hash is
  stored. It is printed on the receipt (with the link ``/activate?code=…`` and the link's
  QR code) and sent by SMS to the worker's mobile in the same transaction — one message.
- The clerk who filed the case (or the secretary) may send a new code
  (:func:`do_resend`): it replaces the old one, at most once a minute and
  :data:`RESENDS_PER_HOUR` an hour per account.
- The worker opens the link (or types the code) and gives their national ID
  (:func:`do_start`); a six-digit code (``accounts.phone_codes``, purpose ACTIVATE) goes
  to the mobile on file. With that code and a new password (:func:`do_complete`) the
  account is activated, the password set, the activation code consumed, and the worker
  signed in.

Wrong activation codes and national IDs are counted per client (:data:`GUARD`); the
refusal never says which of the two was wrong, nor whether a code exists.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts import phone_codes, sessions, throttle
from hearing_server.accounts.models import ActivationCode, Role, SessionStage, User
from hearing_server.accounts.phone_codes import CodePurpose, mask_mobile
from hearing_server.accounts.security import SecretBox, keyed_hash, password_problem
from hearing_server.audit.services import do_record
from hearing_server.cases.access import CaseStanding, access_case, is_staff
from hearing_server.cases.models import Case, PartyRole
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import Conflict, Forbidden, Invalid
from hearing_server.i18n import lazy
from hearing_server.text import normalize_digits, normalize_national_id

CODE_ALPHABET = "ACDEFHJKMNPQRTUVWXY34679"  # the tracking code's: nothing to misread
CODE_LENGTH = 12
CODE_TTL = timedelta(days=30)
RESEND_AFTER = timedelta(seconds=60)
RESENDS_PER_HOUR = 5
RECEIPT_SHOWS_FOR = timedelta(hours=2)  # the filing clerk's browser may reprint the code

# Guessing the national ID behind a code, or codes themselves, from one client: its
# failures on a code slow it down, and failing on many codes refuses it. The subject is a
# keyed hash of the code, so no code is kept in the clear. No code is locked for everyone
# (``per_subject`` out of reach): a stranger who has both still needs the owner's phone.
GUARD = throttle.Guard(
    name="activate",
    per_client=5,
    subjects_per_client=10,
    per_subject=1_000_000,
    lock_clients=1_000_000,
    window=timedelta(minutes=15),
)

NOT_VALID = lazy(
    "The activation code or the national ID is not valid. Check them, or ask the labour "
    "office to send you a new code."
)
NO_MOBILE = lazy(
    "No mobile number is on file for this account. Ask the labour office to correct it "
    "and send you a new code."
)
RESEND_WHO = lazy("Only the clerk who registered the complaint or the board secretary may do this.")


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """``ACDE-FHJK-MNPQ``."""
    if len(code) != CODE_LENGTH:
        return code
    return "-".join(code[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_code(text: str) -> str:
    """The code as typed (any case, Persian digits, spaces, dashes) in its stored form."""
    return "".join(c for c in normalize_digits(text or "").upper() if c.isalnum())[:64]


def activation_url(settings: Settings, code: str) -> str:
    return f"{settings.base_url}/activate?code={quote(format_code(code))}"


def _hash(settings: Settings, code: str) -> str:
    return keyed_hash(settings.secret_key, f"activation:{code}")


def sms_text(settings: Settings, code: str) -> str:
    """Persian, with the link and the code in ASCII (a phone opens the link as it is)."""
    return (
        "حسابی در سامانه حیات برای شکایت شما ساخته شد. برای فعال‌سازی، این پیوند را باز کنید:\n"
        f"{activation_url(settings, code)}\n"
        f"کد فعال‌سازی: {format_code(code)}\n"
        "این کد را به هیچ‌کس ندهید."
    )


@dataclass(frozen=True)
class Issued:
    code: str  # in the clear: for the receipt and the SMS only, never stored
    row: ActivationCode
    user: User


_RETIRE = (
    update(ActivationCode)
    .where(ActivationCode.user_id == bindparam("b_user"), ActivationCode.used_at.is_(None))
    .values(used_at=bindparam("b_now"))
    .execution_options(synchronize_session=False)
)
_LIVE = (
    select(ActivationCode.id)
    .where(
        ActivationCode.user_id == bindparam("user"),
        ActivationCode.used_at.is_(None),
        ActivationCode.expires_at > bindparam("now"),
    )
    .limit(1)
)


async def do_issue(
    session: AsyncSession,
    settings: Settings,
    *,
    user: User,
    actor: User | None,
    case_id: int | None = None,
    action: str = "activation.issued",
) -> Issued:
    """A new activation code for ``user`` (not yet activated), replacing any earlier one,
    and its SMS queued in this transaction when the account has a mobile number."""
    if user.activated_at is not None:
        raise Conflict("The worker's account is already active.", code="already_active")
    now = utcnow()
    await session.execute(_RETIRE, {"b_user": user.id, "b_now": now})
    code = new_code()
    row = ActivationCode(
        user_id=user.id,
        case_id=case_id,
        code_hash=_hash(settings, code),
        created_by_id=actor.id if actor else None,
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    session.add(row)
    await session.flush()
    if user.mobile:
        from hearing_server.notifications.services import do_enqueue

        await do_enqueue(
            session,
            channel="sms",
            address=user.mobile,
            subject="activation",
            body=sms_text(settings, code),
            recipient=user,
            dedupe_key=f"activation:{row.id}",
        )
    await do_record(
        session,
        actor_id=actor.id if actor else None,
        action=action,
        subject_type="user",
        subject_id=user.id,
        payload={
            "case_id": case_id,
            "code_id": row.id,
            "sms_to": mask_mobile(user.mobile) if user.mobile else None,
        },
    )
    return Issued(code, row, user)


async def _claimant_account(session: AsyncSession, case: Case) -> User | None:
    """The claimant's account (parties loaded by the caller), read afresh."""
    claimant = next(
        (p for p in case.parties if p.role == PartyRole.CLAIMANT and p.user_id is not None), None
    )
    if claimant is None or claimant.user_id is None:
        return None
    return await session.get(User, claimant.user_id, populate_existing=True)


async def do_issue_for_case(
    session: AsyncSession, settings: Settings, *, actor: User, case: Case
) -> Issued | None:
    """After a complaint is filed for someone else: the claimant's account that waits for
    activation and has no live code gets one (and its SMS). None when there is nothing to do
    (the worker filed themselves, the account is active, a code is already out)."""
    user = await _claimant_account(session, case)
    if user is None or user.id == actor.id or user.activated_at is not None:
        return None
    if await session.scalar(_LIVE, {"user": user.id, "now": utcnow()}) is not None:
        return None
    return await do_issue(session, settings, user=user, actor=actor, case_id=case.id)


_LAST_ISSUED = select(func.max(ActivationCode.created_at)).where(
    ActivationCode.user_id == bindparam("user")
)


async def do_resend(
    session: AsyncSession, settings: Settings, *, actor: User, case_id: int
) -> Issued:
    """A new code for the claimant of ``case_id``, by the clerk who filed it or staff."""
    case, standing = await access_case(session, actor, case_id, full=True)
    if not (is_staff(actor) or (actor.role == Role.CLERK and standing == CaseStanding.FILER)):
        raise Forbidden(RESEND_WHO)
    user = await _claimant_account(session, case)
    if user is None:
        raise Conflict("This complaint's worker has no account to activate.", code="no_account")
    if user.activated_at is not None:
        raise Conflict("The worker's account is already active.", code="already_active")
    if not user.mobile:
        raise Conflict(NO_MOBILE, code="activation_no_mobile")
    now = utcnow()
    last = await session.scalar(_LAST_ISSUED, {"user": user.id})
    if last is not None and last > now - RESEND_AFTER:
        raise throttle.too_many(throttle.seconds_until(last + RESEND_AFTER, now))
    key = f"activation:resend:{user.id}"
    await throttle.check_throttle(session, [key], limit=RESENDS_PER_HOUR, window=timedelta(hours=1))
    await throttle.do_count_attempt(session, [key])
    return await do_issue(
        session, settings, user=user, actor=actor, case_id=case.id, action="activation.resent"
    )


# ---------------------------------------------------------------- the worker's side

_PENDING = (
    select(ActivationCode, User)
    .join(User, User.id == ActivationCode.user_id)
    .where(
        ActivationCode.code_hash == bindparam("hash"),
        ActivationCode.used_at.is_(None),
        ActivationCode.expires_at > bindparam("now"),
    )
    .execution_options(populate_existing=True)
)


async def _require_pending(
    session: AsyncSession, settings: Settings, *, code: str, national_id: str, client: str
) -> tuple[ActivationCode, User]:
    """The live code and its not-yet-active account, when ``national_id`` is the account's;
    otherwise one refusal (422, its failure counted) whatever was wrong."""
    digest = _hash(settings, normalize_code(code))
    subject = digest[:24]
    await throttle.check_guard(session, GUARD, subject=subject, client=client)
    try:
        nid = normalize_national_id(national_id or "")
    except ValueError:
        nid = ""
    found = (await session.execute(_PENDING, {"hash": digest, "now": utcnow()})).first()
    if (
        found is None
        or not nid
        or found[1].national_id != nid
        or found[1].activated_at is not None
        or not found[1].is_active
    ):
        await throttle.do_count_guard_failure(session, GUARD, subject=subject, client=client)
        await do_record(
            session, actor_id=None, action="activation.failed", payload={"client": client}
        )
        raise Invalid(NOT_VALID, code="activation_invalid", persist=True, field="code")
    row, user = found
    return row, user


@dataclass(frozen=True)
class Started:
    user: User
    masked_mobile: str


async def do_start(
    session: AsyncSession, settings: Settings, *, code: str, national_id: str, client: str
) -> Started:
    """Check the code and national ID, and send a six-digit code to the mobile on file."""
    _row, user = await _require_pending(
        session, settings, code=code, national_id=national_id, client=client
    )
    if not user.mobile:
        raise Conflict(NO_MOBILE, code="activation_no_mobile")
    await phone_codes.do_send_code(
        session,
        settings,
        purpose=CodePurpose.ACTIVATE,
        mobile=user.mobile,
        client=client,
        user=user,
    )
    return Started(user, mask_mobile(user.mobile))


def check_new_password(password: str, repeated: str) -> None:
    """What can be said of the new password before anything is read (422 otherwise)."""
    if password != repeated:
        raise Invalid(
            "The two passwords are not the same.", code="password_mismatch", field="password2"
        )
    problem = password_problem(password)
    if problem:
        raise Invalid(problem, code="password_weak", field="password")


_CONSUME = (
    update(ActivationCode)
    .where(ActivationCode.id == bindparam("b_id"), ActivationCode.used_at.is_(None))
    .values(used_at=bindparam("b_now"))
    .execution_options(synchronize_session=False)
)


async def do_complete(
    session: AsyncSession,
    settings: Settings,
    *,
    code: str,
    national_id: str,
    sms_code: str,
    password: str,
    password_hash: str,
    client: str,
    ip: str | None,
    user_agent: str | None,
    device_hash: str | None = None,
) -> sessions.NewSession:
    """Activate: the code and national ID again, the SMS code (which proves the mobile),
    then the password (``password_hash``: hashed by the caller before the transaction) is
    set, the code consumed, and a full session opened. Exactly one of any number of
    concurrent completions succeeds."""
    row, user = await _require_pending(
        session, settings, code=code, national_id=national_id, client=client
    )
    problem = password_problem(password, username=user.username)
    if problem:
        raise Invalid(problem, code="password_weak", field="password")
    if not user.mobile:
        raise Conflict(NO_MOBILE, code="activation_no_mobile")
    await phone_codes.do_check_code(
        session, settings, purpose=CodePurpose.ACTIVATE, mobile=user.mobile, code=sms_code
    )
    now = utcnow()
    consumed = await session.execute(_CONSUME, {"b_id": row.id, "b_now": now})
    if int(getattr(consumed, "rowcount", 0) or 0) != 1:
        raise Invalid(NOT_VALID, code="activation_invalid", field="code")
    user.password_hash = password_hash
    user.activated_at = now
    await session.flush()
    await do_record(
        session,
        actor_id=user.id,
        action="account.activated",
        subject_type="user",
        subject_id=user.id,
        payload={"case_id": row.case_id, "code_id": row.id},
    )
    new = await sessions.do_open_session(
        session, settings, user, SessionStage.FULL, ip, user_agent, device_hash=device_hash
    )
    await do_record(
        session,
        actor_id=user.id,
        action="login",
        subject_type="session",
        subject_id=new.login_session.id,
        payload={"via": "activation"},
    )
    return new


# ---------------------------------------------------------------- the receipt's copy


def seal_for_receipt(settings: Settings, *, case_id: int, code: str) -> str:
    """The code, encrypted for the filing clerk's browser (a cookie), so that the receipt
    printed right after filing can show it; nothing on the server keeps it."""
    payload = json.dumps({"case": case_id, "code": code, "at": int(utcnow().timestamp())})
    return SecretBox.for_keys(settings.totp_keys).seal(payload)


async def code_for_receipt(
    session: AsyncSession, settings: Settings, *, case_id: int, sealed: str | None
) -> str | None:
    """The code the browser's cookie carries for ``case_id``, while it is recent and still
    live (not used, not replaced, not expired); None otherwise."""
    if not sealed or len(sealed) > 1000:
        return None
    try:
        payload = json.loads(SecretBox.for_keys(settings.totp_keys).open(sealed))
        code = str(payload["code"])
        fresh = utcnow().timestamp() - float(payload["at"]) < RECEIPT_SHOWS_FOR.total_seconds()
        ours = int(payload["case"]) == case_id
    except (ValueError, KeyError, TypeError):
        return None
    if not (fresh and ours):
        return None
    live = await session.scalar(
        select(ActivationCode.id).where(
            ActivationCode.code_hash == _hash(settings, code),
            ActivationCode.case_id == case_id,
            ActivationCode.used_at.is_(None),
            ActivationCode.expires_at > utcnow(),
        )
    )
    return code if live is not None else None


async def is_waiting(session: AsyncSession, case: Case) -> bool:
    """The case's worker has an account that waits for activation (parties loaded)."""
    user = await _claimant_account(session, case)
    return user is not None and user.activated_at is None
