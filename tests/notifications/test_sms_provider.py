"""SMS through a real provider's API: Kavenegar's REST format served by a local fake on a
real port, and a generic signed webhook. One message per request; a provider error is
retried or marked failed with its reason; the secretary sees it and re-sends; delivery
reports come back; a misconfigured provider stops the server."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select, update

from hearing_server import clock
from hearing_server.audit.models import AuditEvent
from hearing_server.config import Settings
from hearing_server.notifications.delivery import deliver_due, refresh_reports
from hearing_server.notifications.models import OutboxMessage
from hearing_server.notifications.senders import build_senders
from hearing_server.notifications.services import do_enqueue
from hearing_server.notifications.sms import (
    KavenegarProvider,
    SmsConfigError,
    WebhookProvider,
    build_sms_provider,
)
from tests.conftest import PROJECT, OtpSource, Person, api_login, free_port, server_env
from tests.factories import board_of
from tests.notifications import fake_kavenegar
from tests.notifications.fake_kavenegar import API_KEY, SENDER, FakeKavenegar

MOBILE = "09121234567"
TEXT = "هیئت: جلسهٔ رسیدگی به پرونده‌ی ۱۴۰۵/۱۲ روز شنبه. http://127.0.0.1:5000/hearings/7"


@pytest.fixture
def kavenegar() -> Iterator[FakeKavenegar]:
    with fake_kavenegar.running() as fake:
        yield fake


def kavenegar_settings(settings: Settings, fake: FakeKavenegar) -> Settings:
    return dataclasses.replace(
        settings,
        sms_provider="kavenegar",
        sms_api_key=API_KEY,
        sms_sender_line=SENDER,
        sms_api_url=fake.url,
    )


async def _queue(db: Any, *numbers: str) -> list[int]:
    """Queue ``numbers`` a message each (a summons of the demo secretary's office, whose
    outbox page shows it), on an outbox where nothing else is due (the demo's own messages
    are set aside as sent)."""
    async with db.transaction() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "queued")
            .values(status="sent", sent_at=clock.utcnow())
        )
        office_id = (await board_of(session)).office_id
        ids = []
        for number in numbers:
            message = await do_enqueue(
                session,
                channel="sms",
                address=number,
                subject="احضاریه",
                body=TEXT,
                office_id=office_id,
            )
            assert message is not None
            ids.append(message.id)
        return ids


async def _message(db: Any, message_id: int) -> OutboxMessage:
    async with db.transaction(write=False) as session:
        found = await session.get(OutboxMessage, message_id)
        assert found is not None
        return found


async def test_each_message_is_one_send_in_kavenegars_format_and_its_report_comes_back(
    db: Any, settings: Settings, kavenegar: FakeKavenegar
) -> None:
    senders = build_senders(kavenegar_settings(settings, kavenegar))
    (message_id,) = await _queue(db, MOBILE)
    assert await deliver_due(db, senders) == 1
    assert await deliver_due(db, senders) == 0  # never twice
    (sent,) = kavenegar.received
    assert sent.method == "sms/send"
    assert sent.form == {"receptor": MOBILE, "sender": SENDER, "message": TEXT}
    assert "http://127.0.0.1:5000/hearings/7" in sent.form["message"]  # links stay ASCII
    stored = await _message(db, message_id)
    assert stored.status == "sent" and stored.provider == "kavenegar"
    assert stored.provider_message_id == str(sent.messageid)

    provider = senders["sms"].provider  # type: ignore[attr-defined]
    assert await refresh_reports(db, provider) == 0  # still on its way (status 4)
    kavenegar.delivered.add(sent.messageid)
    assert await refresh_reports(db, provider) == 1
    assert (await _message(db, message_id)).status == "delivered"


async def test_template_lookup_for_one_time_codes(kavenegar: FakeKavenegar) -> None:
    provider = KavenegarProvider(API_KEY, SENDER, kavenegar.url)
    ident = await provider.lookup(MOBILE, "heyat-verify", "482913")
    (sent,) = kavenegar.received
    assert sent.method == "verify/lookup" and ident == str(sent.messageid)
    assert sent.form == {"receptor": MOBILE, "template": "heyat-verify", "token": "482913"}


async def test_no_credit_and_an_invalid_number_fail_at_once_with_the_providers_reason(
    db: Any,
    settings: Settings,
    kavenegar: FakeKavenegar,
    client: Any,
    people: dict[str, Person],
    otp: OtpSource,
) -> None:
    senders = build_senders(kavenegar_settings(settings, kavenegar))
    kavenegar.invalid_numbers.add("09000000000")
    kavenegar.credit = False
    broke, invalid = await _queue(db, MOBILE, "09000000000")
    await deliver_due(db, senders)
    assert len(kavenegar.received) == 2
    assert (await _message(db, broke)).status == "failed"
    assert "418" in ((await _message(db, broke)).last_error or "")
    clock.advance(timedelta(hours=2))
    assert await deliver_due(db, senders) == 0 and len(kavenegar.received) == 2  # not retried

    # The secretary sees the failure and why, and sends it again once there is credit.
    token = await api_login(client, people["secretary"], otp)
    page = await (await client.get("/messages?state=failed")).get_data(as_text=True)
    assert f'data-message="{broke}"' in page and "418" in page
    kavenegar.credit = True
    kavenegar.invalid_numbers.clear()
    resent = await client.post(f"/messages/{broke}/resend", form={"csrf_token": token})
    assert resent.status_code in (302, 303)
    assert await deliver_due(db, senders) == 1
    assert len(kavenegar.accepted()) == 1 and (await _message(db, broke)).status == "sent"
    # The invalid number was left alone (failed with 411) until someone re-sends it.
    assert "411" in ((await _message(db, invalid)).last_error or "")
    async with db.transaction(write=False) as session:
        audit = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "outbox.resend", AuditEvent.subject_id == str(broke)
            )
        )
    assert audit is not None and audit.actor_id == people["secretary"].id

    # Only staff may read the delivery page or re-send.
    await client.post("/logout", form={"csrf_token": token})
    worker_token = await api_login(client, people["worker"], otp)
    assert (await client.get("/messages")).status_code == 403
    denied = await client.post(f"/messages/{invalid}/resend", form={"csrf_token": worker_token})
    assert denied.status_code == 403


async def test_a_rate_limited_send_is_retried_later_and_sent_once(
    db: Any, settings: Settings, kavenegar: FakeKavenegar
) -> None:
    senders = build_senders(kavenegar_settings(settings, kavenegar))
    kavenegar.busy_for = 1
    (message_id,) = await _queue(db, MOBILE)
    assert await deliver_due(db, senders) == 0
    waiting = await _message(db, message_id)
    assert waiting.status == "queued" and "429" in (waiting.last_error or "")
    assert await deliver_due(db, senders) == 0  # not before its backoff
    clock.advance(timedelta(minutes=1))
    assert await deliver_due(db, senders) == 1
    assert len(kavenegar.received) == 2 and len(kavenegar.accepted()) == 1
    assert (await _message(db, message_id)).status == "sent"


# ------------------------------------------------------------------ webhook


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[tuple[bytes, str]], list[int]]]:
    received: list[tuple[bytes, str]] = []
    answers: list[int] = []  # statuses to answer, in order; then 200

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers["X-Heyat-Signature"]))
            status = answers.pop(0) if answers else 200
            reply = json.dumps({"id": f"w{len(received)}"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sms", received, answers
    server.shutdown()
    thread.join()


async def test_the_webhook_is_signed_and_its_errors_are_classified(
    db: Any, settings: Settings, webhook: tuple[str, list[tuple[bytes, str]], list[int]]
) -> None:
    url, received, answers = webhook
    senders = build_senders(
        dataclasses.replace(
            settings, sms_provider="webhook", sms_webhook_url=url, sms_webhook_secret="s3cret"
        )
    )
    answers.extend([503, 400])
    first, second = await _queue(db, MOBILE, "09351234567")
    await deliver_due(db, senders)
    assert (await _message(db, first)).status == "queued"  # 503: later
    assert (await _message(db, second)).status == "failed"  # 400: never
    clock.advance(timedelta(minutes=1))
    assert await deliver_due(db, senders) == 1
    assert (await _message(db, first)).provider_message_id == "w3"
    body, signature = received[-1]
    assert json.loads(body) == {"to": MOBILE, "text": TEXT}
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"


# ------------------------------------------------------------------ configuration


def test_an_unknown_or_incomplete_provider_is_refused(settings: Settings) -> None:
    with pytest.raises(SmsConfigError, match="not a known SMS provider"):
        build_sms_provider(dataclasses.replace(settings, sms_provider="kavenegr"))
    with pytest.raises(SmsConfigError, match="HEYAT_SMS_API_KEY"):
        build_sms_provider(dataclasses.replace(settings, sms_provider="kavenegar"))
    with pytest.raises(SmsConfigError, match="HEYAT_SMS_WEBHOOK_URL"):
        build_sms_provider(dataclasses.replace(settings, sms_provider="webhook"))
    assert isinstance(
        build_sms_provider(
            dataclasses.replace(
                settings, sms_provider="webhook", sms_webhook_url="http://x", sms_webhook_secret="k"
            )
        ),
        WebhookProvider,
    )


def test_the_server_does_not_start_with_an_unknown_provider(settings: Settings) -> None:
    port = free_port()
    env = server_env(settings, port, HEYAT_SMS_PROVIDER="kavenegr")
    result = subprocess.run(
        [str(PROJECT / ".venv" / "bin" / "heyat"), "serve", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert "HEYAT_SMS_PROVIDER='kavenegr' is not a known SMS provider" in result.stderr
