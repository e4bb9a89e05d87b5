"""Domain errors, mapped once to HTTP statuses and once to socket acks.

A service raises ``DomainError(code, message, **params)`` where ``message`` is
an English msgid; the boundary translates it into the user's language. The
``status`` comes from the kind. ``persist=True`` marks a refusal whose
bookkeeping (a failed-code counter, an audit row) must be committed even
though the request fails; every other error rolls the transaction back.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        persist: bool = False,
        **params: Any,
    ) -> None:
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        self.persist = persist
        self.params = params


class Invalid(DomainError):
    status = 422
    default_code = "invalid"


class Unauthenticated(DomainError):
    status = 401
    default_code = "unauthenticated"


class Forbidden(DomainError):
    status = 403
    default_code = "forbidden"


class NotFound(DomainError):
    status = 404
    default_code = "not_found"


class Conflict(DomainError):
    """The request is well-formed but the object's state does not allow it."""

    status = 409
    default_code = "conflict"


class TooLarge(DomainError):
    status = 413
    default_code = "too_large"


class UnsupportedType(DomainError):
    status = 415
    default_code = "unsupported_type"


class _Wait(DomainError):
    """A refusal that ends: ``retry_after`` is the wait in seconds (sent as Retry-After)."""

    def __init__(self, message: str, *, retry_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Locked(_Wait):
    status = 423
    default_code = "locked"


class TooManyRequests(_Wait):
    status = 429
    default_code = "too_many_requests"


class ValidationErrors(Invalid):
    """Several field errors at once, for forms: ``errors`` maps field → (msgid, params)."""

    def __init__(self, errors: dict[str, tuple[str, dict[str, Any]]]) -> None:
        super().__init__("Please correct the marked fields.", code="invalid")
        self.errors = errors
