"""Identity checks against the national registries, behind one interface.

Sign-up asks whether a mobile number belongs to a national ID (in Iran: the operators'
"Shahkar" service) and whether a company's national ID is registered (the companies'
registry). The real services need contracts and credentials an office obtains; the
interface, :class:`IdentityRegistry`, lets one be plugged in by a setting
(``HEYAT_IDENTITY_REGISTRY``), and :class:`DevRegistry` answers for development and tests.

An adapter answers ``None`` when it cannot say now (the service is down): sign-up then
refuses with 503 rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from hearing_server.config import Settings
from hearing_server.errors import DomainError


class IdentityRegistry(Protocol):
    async def mobile_belongs_to(self, national_id: str, mobile: str) -> bool | None:
        """Whether ``mobile`` is registered to ``national_id``: a person's (10 digits), or a
        company's (11 digits: the numbers the company registered). None: cannot say now."""

    async def person_name(self, national_id: str) -> str | None:
        """The registered full name of a person, or None when the registry does not say."""

    async def company_name(self, legal_id: str) -> str | None:
        """The registered name of the company with this national ID; None when there is
        no such company (or the registry cannot say now)."""


class RegistryUnavailable(DomainError):
    status = 503
    default_code = "registry_unavailable"


class RegistryConfigError(ValueError):
    """The identity-registry setting cannot work; the message names the variable to fix."""


# The development adapter's test numbers: every other number belongs to every ID and
# every well-formed company ID is registered.
DEV_FOREIGN_MOBILE = "09130000000"
"""A mobile number registered to someone else: refused for every national ID."""
DEV_SILENT_MOBILE = "09139999999"
"""A mobile number the registry cannot answer for (as when the service is down)."""
DEV_UNKNOWN_COMPANY = "10860004048"
"""A well-formed company national ID that no company has."""
DEV_COMPANY_NAME = "شرکت نمونهٔ ثبت‌شده"


class DevRegistry:
    """Answers "yes" except for the documented test numbers above. Never for production:
    it proves nothing about anyone."""

    name = "dev"

    async def mobile_belongs_to(self, national_id: str, mobile: str) -> bool | None:
        if mobile == DEV_SILENT_MOBILE:
            return None
        return mobile != DEV_FOREIGN_MOBILE

    async def person_name(self, national_id: str) -> str | None:
        return None

    async def company_name(self, legal_id: str) -> str | None:
        return None if legal_id == DEV_UNKNOWN_COMPANY else DEV_COMPANY_NAME


IDENTITY_REGISTRIES: dict[str, Callable[[Settings], IdentityRegistry]] = {
    "dev": lambda _settings: DevRegistry(),
}


def build_identity_registry(settings: Settings) -> IdentityRegistry:
    """The configured adapter; :class:`RegistryConfigError` for an unknown one."""
    make = IDENTITY_REGISTRIES.get(settings.identity_registry)
    if make is None:
        known = ", ".join(sorted(IDENTITY_REGISTRIES))
        raise RegistryConfigError(
            f"HEYAT_IDENTITY_REGISTRY={settings.identity_registry!r} is not a known identity "
            f"registry (known: {known})."
        )
    return make(settings)
