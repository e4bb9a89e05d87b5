"""SMS providers: the development sender, Kavenegar's REST API, and a generic webhook.

Chosen by ``HEYAT_SMS_PROVIDER`` (``dev``, ``kavenegar``, ``webhook``) and configured by
``HEYAT_SMS_API_KEY``, ``HEYAT_SMS_SENDER_LINE``, ``HEYAT_SMS_API_URL`` (Kavenegar's base
address; a test points it at a local fake) or ``HEYAT_SMS_WEBHOOK_URL`` and
``HEYAT_SMS_WEBHOOK_SECRET``. :func:`build_sms_provider` refuses an unknown name or a
provider missing what it needs: the server does not start, rather than silently keeping
messages that never leave.

A provider either accepts a message (returning the provider's message id, if any) or
raises :class:`SmsError`: ``retry=True`` for what may pass later (the provider busy,
rate limited, unreachable), ``retry=False`` for what will not (an invalid number, no
credit, a rejected key): the delivery loop marks that message failed with the reason.
Delivery reports are read back with :meth:`SmsProvider.statuses`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from hearing_server.config import Settings

log = logging.getLogger(__name__)


class SmsConfigError(ValueError):
    """The SMS settings cannot work; the message names the variable to fix."""


class SmsError(Exception):
    """The provider did not take the message. ``reason`` is shown to the secretary."""

    def __init__(self, reason: str, *, retry: bool, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.code = code


@dataclass(frozen=True)
class SmsReport:
    """What the provider says became of a message: ``delivered``, ``failed`` (with the
    provider's reason) or ``sent`` (still on its way)."""

    provider_id: str
    state: str
    reason: str | None = None


class SmsProvider(ABC):
    name: str = "sms"

    @abstractmethod
    async def send_sms(self, to: str, text: str) -> str | None:
        """Send ``text`` to ``to`` (09xxxxxxxxx); the provider's message id, or raise."""

    async def statuses(self, provider_ids: Sequence[str]) -> list[SmsReport]:
        """Delivery reports for messages sent earlier (none by default)."""
        return []


class DevSmsProvider(SmsProvider):
    """Delivers nowhere: the message stays readable in the outbox (``/dev/outbox``).
    The body (codes, links) is not logged: only that a message was kept."""

    name = "dev"

    async def send_sms(self, to: str, text: str) -> str | None:
        # No body (codes, case details) and no full number at INFO: /dev/outbox shows them.
        masked = f"{to[:4]}…{to[-2:]}" if len(to) > 6 else "…"
        log.info("dev SMS to %s kept in the outbox (%d characters)", masked, len(text))
        log.debug("dev SMS to %s: %s", to, text)
        return None


# Kavenegar's documented return statuses (https://kavenegar.com/rest.html): which of them
# may pass on a later try. Everything else is permanent for that message.
KAVENEGAR_TRANSIENT = {409, 429, 451, 500, 502, 503, 504}
KAVENEGAR_REASONS = {
    400: "incomplete parameters",
    401: "the provider account is disabled",
    402: "the operation failed",
    403: "the API key is not valid",
    407: "access to this information is denied",
    409: "the provider cannot answer now",
    411: "the recipient's number is not valid",
    412: "the sender line is not valid",
    413: "the message is empty or too long",
    414: "the request is too large",
    416: "this server's IP address is not allowed in the provider's settings",
    418: "the provider account has no credit left",
    420: "links are not allowed in messages for this account",
    422: "the message contains characters the provider refuses",
    424: "the template was not found",
    426: "this method needs the provider's advanced service",
    427: "this sender line needs access to be granted",
    429: "the provider is rate limiting this server",
    431: "the code's structure is not valid",
    432: "the code parameter is missing from the template",
    451: "too many requests in a short time",
    501: "a test account may only send to its owner's number",
}
# Message states of sms/status.json.
KAVENEGAR_DELIVERED = {10}
KAVENEGAR_FAILED = {
    6: "not delivered",
    11: "not delivered",
    13: "cancelled",
    14: "blocked by the recipient",
    100: "unknown message id",
}


class KavenegarProvider(SmsProvider):
    """Kavenegar's REST API over httpx: ``sms/send.json``, ``verify/lookup.json`` (templates
    for one-time codes) and ``sms/status.json`` (delivery reports)."""

    name = "kavenegar"

    def __init__(self, api_key: str, sender: str, base_url: str, *, timeout: float = 15.0) -> None:
        self.api_key = api_key
        self.sender = sender
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _url(self, method: str) -> str:
        return f"{self.base_url}/v1/{self.api_key}/{method}.json"

    async def _call(self, method: str, data: dict[str, str]) -> list[dict[str, object]]:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(self._url(method), data=data)
        except httpx.HTTPError as exc:
            reason = f"the provider is unreachable ({type(exc).__name__})"
            raise SmsError(reason, retry=True) from exc
        try:
            body = response.json()
            status = int(body["return"]["status"])
            message = str(body["return"].get("message", ""))
        except (ValueError, KeyError, TypeError):
            raise SmsError(
                f"the provider answered HTTP {response.status_code} without a status",
                retry=response.status_code >= 500,
            ) from None
        if status != 200:
            reason = KAVENEGAR_REASONS.get(status, message or "refused")
            raise SmsError(f"{status}: {reason}", retry=status in KAVENEGAR_TRANSIENT, code=status)
        entries = body.get("entries") or []
        return [e for e in entries if isinstance(e, dict)]

    async def send_sms(self, to: str, text: str) -> str | None:
        entries = await self._call(
            "sms/send", {"receptor": to, "sender": self.sender, "message": text}
        )
        return str(entries[0]["messageid"]) if entries and "messageid" in entries[0] else None

    async def lookup(self, to: str, template: str, *tokens: str) -> str | None:
        """A template message (one-time codes): ``token``, ``token2``, ``token3``."""
        data = {"receptor": to, "template": template}
        for index, token in enumerate(tokens[:3]):
            data["token" if index == 0 else f"token{index + 1}"] = token
        entries = await self._call("verify/lookup", data)
        return str(entries[0]["messageid"]) if entries and "messageid" in entries[0] else None

    async def statuses(self, provider_ids: Sequence[str]) -> list[SmsReport]:
        if not provider_ids:
            return []
        entries = await self._call("sms/status", {"messageid": ",".join(provider_ids)})
        reports = []
        for entry in entries:
            code = int(str(entry.get("status", 0)))
            ident = str(entry.get("messageid"))
            if code in KAVENEGAR_DELIVERED:
                reports.append(SmsReport(ident, "delivered"))
            elif code in KAVENEGAR_FAILED:
                reports.append(SmsReport(ident, "failed", f"{code}: {KAVENEGAR_FAILED[code]}"))
            else:
                reports.append(SmsReport(ident, "sent"))
        return reports


class WebhookProvider(SmsProvider):
    """Any gateway behind an HTTP endpoint: POST ``{"to", "text"}`` as JSON, signed with
    HMAC-SHA256 of the body in ``X-Heyat-Signature``. A 2xx answer accepts (its JSON
    ``id``, if any, is the message id); 429 and 5xx are retried; other 4xx fail."""

    name = "webhook"

    def __init__(self, url: str, secret: str, *, timeout: float = 15.0) -> None:
        self.url = url
        self.secret = secret.encode()
        self.timeout = timeout

    async def send_sms(self, to: str, text: str) -> str | None:
        body = json.dumps({"to": to, "text": text}, ensure_ascii=False).encode()
        signature = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(
                    self.url,
                    content=body,
                    headers={
                        "Content-Type": "application/json; charset=utf-8",
                        "X-Heyat-Signature": f"sha256={signature}",
                    },
                )
        except httpx.HTTPError as exc:
            reason = f"the gateway is unreachable ({type(exc).__name__})"
            raise SmsError(reason, retry=True) from exc
        if response.is_success:
            try:
                ident = response.json().get("id")
            except (ValueError, AttributeError):
                ident = None
            return None if ident is None else str(ident)
        retry = response.status_code == 429 or response.status_code >= 500
        raise SmsError(
            f"HTTP {response.status_code}: {response.text[:200]}",
            retry=retry,
            code=response.status_code,
        )


def _kavenegar(settings: Settings) -> SmsProvider:
    if not settings.sms_api_key:
        raise SmsConfigError("HEYAT_SMS_PROVIDER=kavenegar needs HEYAT_SMS_API_KEY.")
    if not settings.sms_sender_line:
        raise SmsConfigError("HEYAT_SMS_PROVIDER=kavenegar needs HEYAT_SMS_SENDER_LINE.")
    return KavenegarProvider(settings.sms_api_key, settings.sms_sender_line, settings.sms_api_url)


def _webhook(settings: Settings) -> SmsProvider:
    if not settings.sms_webhook_url:
        raise SmsConfigError("HEYAT_SMS_PROVIDER=webhook needs HEYAT_SMS_WEBHOOK_URL.")
    if not settings.sms_webhook_secret:
        raise SmsConfigError("HEYAT_SMS_PROVIDER=webhook needs HEYAT_SMS_WEBHOOK_SECRET.")
    return WebhookProvider(settings.sms_webhook_url, settings.sms_webhook_secret)


SMS_PROVIDERS: dict[str, Callable[[Settings], SmsProvider]] = {
    "dev": lambda _settings: DevSmsProvider(),
    "kavenegar": _kavenegar,
    "webhook": _webhook,
}


def build_sms_provider(settings: Settings) -> SmsProvider:
    """The configured provider; :class:`SmsConfigError` for an unknown or incomplete one."""
    make = SMS_PROVIDERS.get(settings.sms_provider)
    if make is None:
        known = ", ".join(sorted(SMS_PROVIDERS))
        raise SmsConfigError(
            f"HEYAT_SMS_PROVIDER={settings.sms_provider!r} is not a known SMS provider "
            f"(known: {known})."
        )
    return make(settings)
