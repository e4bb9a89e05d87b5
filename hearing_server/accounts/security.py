"""Password hashing and the TOTP secret box. Argon2 runs off the event loop."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# argon2-cffi releases the GIL while hashing, so threads run it in parallel.
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="argon2")
_hasher = PasswordHasher()  # argon2-cffi's default: RFC 9106's low-memory profile
# A hash to check against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("heyat-dummy-password")


def use_cheapest_hashing_for_tests() -> None:
    """New passwords hashed with argon2-cffi's ``CHEAPEST`` profile, which its authors
    provide for test suites: a suite that signs hundreds of people in spends its time on
    what it tests, not on 150 ms of argon2 per sign-in (a hash is verified with the
    parameters stored in it). Called by the test suite only; the server never calls it."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    _DUMMY_HASH = _hasher.hash("heyat-dummy-password")


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, _hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.get_running_loop().run_in_executor(_pool, check)


def unusable_password_hash() -> str:
    """A stored password no password matches, made without argon2 (nothing slow inside a
    transaction): not an argon2 hash, so :func:`verify_password` answers False. For an
    account made for someone who sets their own password at activation."""
    return "!" + secrets.token_hex(24)


def password_problem(password: str, *, username: str = "") -> str | None:
    """A msgid saying why ``password`` is too weak, or None."""
    if len(password) < 10:
        return "The password must be at least 10 characters long."
    if password.isdigit():
        return "The password must not be only digits."
    if username and username.lower() in password.lower():
        return "The password must not contain your username."
    if len(set(password)) < 5:
        return "The password is too repetitive."
    return None


class SecretBox:
    """Encrypts TOTP secrets at rest. Keys newest first; old keys still decrypt."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise ValueError("at least one TOTP encryption key is needed")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    @staticmethod
    @functools.lru_cache(maxsize=8)
    def for_keys(keys: tuple[str, ...]) -> SecretBox:
        """The box of ``keys``, built once per set of keys (every code check opens one)."""
        return SecretBox(keys)

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("TOTP secret cannot be decrypted with the configured keys") from exc

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode()).decode()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_hash(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()
