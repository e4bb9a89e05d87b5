"""Outbox delivery: a real SMTP server (aiosmtpd) receives the filing receipt; a failing
sender keeps the message queued with its error and delivers it once the server is back;
two claimers never take one message; the loop runs in the served app."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from hearing_server import clock
from hearing_server.accounts.models import User
from hearing_server.cases import filing, numbers, petition
from hearing_server.config import Settings
from hearing_server.notifications.delivery import claim_due, deliver_due
from hearing_server.notifications.models import OutboxMessage
from hearing_server.notifications.senders import build_senders
from hearing_server.notifications.services import do_enqueue
from rulings.persian import fa_digits
from tests.conftest import OtpSource, Person, api_login, free_port
from tests.factories import user_named


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(
        self, server: Any, session: Any, envelope: Any
    ) -> str:  # aiosmtpd's hook name
        self.messages.append(envelope)
        return "250 OK"


def smtp_settings(settings: Settings, port: int) -> Settings:
    return dataclasses.replace(settings, mail_sender="smtp", smtp_host="127.0.0.1", smtp_port=port)


async def _file_for_worker_with_email(db: Any) -> Any:
    async with db.transaction() as session:
        await session.execute(
            update(User).where(User.username == "worker").values(email="worker@example.org")
        )
        worker = await user_named(session, "worker")
        data = petition.PetitionInput(
            employer_name="کارگاه آزمون",
            employer_registration_number="123",
            workshop_address="تهران",
            employment_start="1400/01/01",
            last_monthly_wage="100000000",
            claims=[petition.ClaimInput("unpaid_wages", "200000000")],
        )
        return await filing.do_file(session, actor=worker, data=data)


async def _messages(db: Any, case_id: int) -> list[OutboxMessage]:
    async with db.transaction(write=False) as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.dedupe_key.startswith(f"case:{case_id}:"))
            .order_by(OutboxMessage.id)
        )
        return list(rows)


async def test_a_real_smtp_server_receives_the_receipt_once(db: Any, settings: Settings) -> None:
    case = await _file_for_worker_with_email(db)
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        senders = build_senders(smtp_settings(settings, port))
        await deliver_due(db, senders, limit=1000)
        await deliver_due(db, senders, limit=1000)  # nothing is sent twice
    finally:
        controller.stop()
    queued = await _messages(db, case.id)
    assert {m.channel for m in queued} == {"email", "sms"}
    assert all(m.sent_at is not None for m in queued)
    assert {m.channel: m.provider for m in queued} == {"email": "smtp", "sms": "dev"}
    mine = [e for e in inbox.messages if e.rcpt_tos == ["worker@example.org"]]
    assert len(mine) == 1
    email = message_from_bytes(mine[0].content, policy=default)
    body = email.get_body().get_content()  # type: ignore[union-attr]  # a text/plain body exists
    assert fa_digits(numbers.format_tracking_code(case.tracking_code)) in body
    assert (
        email["Message-ID"]
        == f"<outbox-{next(m.id for m in queued if m.channel == 'email')}@heyat>"
    )


async def test_a_failing_server_keeps_the_message_and_it_goes_out_when_back(
    db: Any, settings: Settings
) -> None:
    async with db.transaction() as session:
        # The demo's queued messages are not this test's concern: mark them sent.
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None))
            .values(sent_at=clock.utcnow())
        )
        message = await do_enqueue(
            session, channel="email", address="a@example.org", subject="s", body="b"
        )
        assert message is not None
    port = free_port()  # nothing listens here yet
    senders = build_senders(smtp_settings(settings, port))
    assert await deliver_due(db, senders) == 0
    async with db.transaction(write=False) as session:
        row = await session.get(OutboxMessage, message.id)
    assert row is not None and row.sent_at is None and row.attempts == 1
    assert row.last_error and "Connect" in row.last_error
    assert row.next_attempt_at == clock.utcnow() + timedelta(seconds=30)
    assert await deliver_due(db, senders) == 0  # not due yet: not tried again
    clock.advance(timedelta(seconds=31))
    assert await deliver_due(db, senders) == 0  # still down: backoff doubles
    async with db.transaction(write=False) as session:
        row = await session.get(OutboxMessage, message.id)
    assert row is not None and row.attempts == 2
    assert row.next_attempt_at == clock.utcnow() + timedelta(seconds=60)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        clock.advance(timedelta(seconds=61))
        assert await deliver_due(db, senders) == 1
        clock.advance(timedelta(hours=2))
        assert await deliver_due(db, senders) == 0
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    async with db.transaction(write=False) as session:
        row = await session.get(OutboxMessage, message.id)
    assert row is not None and row.sent_at is not None and row.last_error is None


async def test_two_claimers_never_take_the_same_message(db: Any) -> None:
    async with db.transaction() as session:
        for i in range(30):
            await do_enqueue(
                session, channel="sms", address="09120000000", subject=f"m{i}", body="x"
            )
    first, second = await asyncio.gather(claim_due(db, limit=50), claim_due(db, limit=50))
    ids_a = {m.id for m in first}
    ids_b = {m.id for m in second}
    assert not ids_a & ids_b
    assert len(ids_a | ids_b) >= 30
    assert await claim_due(db, limit=50) == []  # all leased


async def test_the_served_app_delivers_in_the_background_and_admins_see_the_outbox(
    live_server: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    db = live_server.app.runtime.db
    case = await _file_for_worker_with_email(db)
    for _ in range(200):
        queued = await _messages(db, case.id)
        if queued and all(m.sent_at for m in queued):
            break
        await asyncio.sleep(0.05)
    assert queued and all(m.sent_at and m.provider == "dev" for m in queued)
    client = live_server.app.quart_app.test_client()
    await api_login(client, people["admin"], otp)
    page = await client.get("/dev/outbox")
    html = await page.get_data(as_text=True)
    assert (
        page.status_code == 200
        and case.number.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")) in html
    )
    worker = live_server.app.quart_app.test_client()
    await api_login(worker, people["worker"], otp)
    assert (await worker.get("/dev/outbox")).status_code == 403
