"""Who carries an outbox message out: SMTP for email, an SMS provider for SMS, and the
development sender that only keeps messages in the outbox, shown at /dev/outbox.

A sender raises on failure; the delivery loop then keeps the message queued and
tries again later (an :class:`~hearing_server.notifications.sms.SmsError` says whether a
later try can help). ``HEYAT_MAIL_SENDER=dev|smtp`` picks the email sender; SMS goes
through the provider ``HEYAT_SMS_PROVIDER`` names (:mod:`hearing_server.notifications.sms`).
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from hearing_server.config import Settings
from hearing_server.notifications.models import OutboxMessage
from hearing_server.notifications.sms import SmsProvider, build_sms_provider

log = logging.getLogger(__name__)


class Sender(Protocol):
    name: str

    async def send(self, message: OutboxMessage) -> str | None:
        """Deliver ``message`` or raise; the carrier's message id, when it gives one."""


class DevSender:
    """Delivers nowhere: the message stays readable in the outbox (``/dev/outbox``)."""

    name = "dev"

    async def send(self, message: OutboxMessage) -> str | None:
        log.info("dev outbox: %s message %s kept", message.channel, message.id)
        return None


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

    async def send(self, message: OutboxMessage) -> str | None:
        await aiosmtplib.send(
            self.build(message), hostname=self.host, port=self.port, timeout=self.timeout
        )
        return None


class SmsSender:
    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider
        self.name = provider.name

    async def send(self, message: OutboxMessage) -> str | None:
        return await self.provider.send_sms(message.address, message.body)


def build_senders(settings: Settings) -> dict[str, Sender]:
    """One sender per channel, as the settings say."""
    email: Sender
    if settings.mail_sender == "smtp":
        email = SmtpSender(settings.smtp_host, settings.smtp_port, settings.smtp_from)
    else:
        email = DevSender()
    return {"email": email, "sms": SmsSender(build_sms_provider(settings))}
