"""Users: looking them up, creating them, their language.

Every function takes the session first and flushes, never commits.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import Role, User
from hearing_server.accounts.security import hash_password, password_problem
from hearing_server.audit.services import do_record
from hearing_server.errors import Invalid, NotFound, ValidationErrors
from hearing_server.text import normalize_mobile, normalize_national_id, normalize_persian


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
    office_id: int | None = None,
    counter_office_id: int | None = None,
    password_hash: str | None = None,
) -> User:
    """Validate everything first and report every bad field at once; write nothing if any is bad.
    ``password_hash``: ``password`` hashed by the caller before the write transaction
    opened (argon2 is slow; a served request never hashes inside one); hashed here when
    not given (the CLI).
    ``office_id``: the labour office a member of staff works for; ``counter_office_id``:
    a clerk's counter office (the caller checks the actor may place them there)."""
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
        password_hash=password_hash or await hash_password(password),
        office_id=office_id,
        counter_office_id=counter_office_id,
    )
    session.add(user)
    await session.flush()
    await do_record(
        session,
        actor_id=actor_id,
        action="user.created",
        subject_type="user",
        subject_id=user.id,
        payload={
            "role": role.value,
            "username": username,
            "office_id": office_id,
            "counter_office_id": counter_office_id,
        },
    )
    return user


async def do_set_locale(session: AsyncSession, *, user_id: int, locale: str) -> None:
    if locale not in ("fa", "en"):
        raise Invalid("Unknown language.")
    user = await require_user(session, user_id)
    user.locale = locale
    await session.flush()
