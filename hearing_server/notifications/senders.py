"""Who carries an outbox message out: SMTP for email, an SMS provider for SMS, and the
development sender that only keeps messages in the outbox, shown at /dev/outbox.

A sender raises on failure; the delivery loop then keeps the message queued and
tries again later. ``HEYAT_MAIL_SENDER=dev|smtp`` picks the email sender; SMS goes
through an :class:`SmsProvider` adapter (``dev`` until a real provider is added to
:data:`SMS_PROVIDERS`).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from hearing_server.config import Settings
from hearing_server.notifications.models import OutboxMessage

log = logging.getLogger(__name__)


class Sender(Protocol):
    name: str

    async def send(self, message: OutboxMessage) -> None:
        """Deliver ``message`` or raise."""


class DevSender:
    """Delivers nowhere: the message stays readable in the outbox (``/dev/outbox``)."""

    name = "dev"

    async def send(self, message: OutboxMessage) -> None:
        log.info("dev outbox: %s to %s: %s", message.channel, message.address, message.subject)


class SmtpSender:
    name = "smtp"

    def __init__(self, host: str, port: int, sender: str, *, timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout = timeout

    def build(self, message: OutboxMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.address
        email["Subject"] = message.subject
        email["Message-ID"] = f"<outbox-{message.id}@heyat>"  # the same on a retry
        email.set_content(message.body)
        for item in message.attachments or []:
            maintype, _, subtype = str(item.get("content_type", "text/plain")).partition("/")
            content = item.get("content", "")
            payload = content.encode() if isinstance(content, str) else bytes(content)
            email.add_attachment(
                payload,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=str(item.get("filename", "attachment")),
            )
        return email

    async def send(self, message: OutboxMessage) -> None:
        await aiosmtplib.send(
            self.build(message), hostname=self.host, port=self.port, timeout=self.timeout
        )


class SmsProvider(ABC):
    """The adapter a real SMS gateway implements (one method)."""

    name: str = "sms"

    @abstractmethod
    async def send_sms(self, to: str, text: str) -> None:
        """Send ``text`` to the mobile number ``to`` (09xxxxxxxxx) or raise."""


class DevSmsProvider(SmsProvider):
    name = "dev"

    async def send_sms(self, to: str, text: str) -> None:
        # No body (codes, case details) and no full number at INFO: /dev/outbox shows them.
        masked = f"{to[:4]}…{to[-2:]}" if len(to) > 6 else "…"
        log.info("dev SMS to %s (%d characters; read it in the outbox)", masked, len(text))
        log.debug("dev SMS to %s: %s", to, text)


class SmsSender:
    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider
        self.name = provider.name

    async def send(self, message: OutboxMessage) -> None:
        await self.provider.send_sms(message.address, message.body)


SMS_PROVIDERS: dict[str, Callable[[Settings], SmsProvider]] = {
    "dev": lambda _settings: DevSmsProvider(),
}


def build_senders(settings: Settings) -> dict[str, Sender]:
    """One sender per channel, as the settings say."""
    email: Sender
    if settings.mail_sender == "smtp":
        email = SmtpSender(settings.smtp_host, settings.smtp_port, settings.smtp_from)
    else:
        email = DevSender()
    provider = SMS_PROVIDERS.get(settings.sms_provider, SMS_PROVIDERS["dev"])
    return {"email": email, "sms": SmsSender(provider(settings))}
