"""Codes sent by SMS: one message per request, short-lived, throttled, guessed at most five
times, accepted once (also under concurrent submissions), only a keyed hash stored."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hearing_server import clock
from hearing_server.accounts import phone_codes
from hearing_server.accounts.models import PhoneCode
from hearing_server.accounts.phone_codes import CodePurpose
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import DomainError, Invalid, TooManyRequests
from hearing_server.notifications.models import OutboxMessage

MOBILE = "09121234567"


async def _send(db: Any, settings: Settings, *, mobile: str = MOBILE, client: str = "ip:a") -> int:
    async with db.transaction() as session:
        row = await phone_codes.do_send_code(
            session, settings, purpose=CodePurpose.SIGNUP, mobile=mobile, client=client
        )
        return row.id


async def _messages(db: Any, mobile: str = MOBILE) -> list[OutboxMessage]:
    async with db.transaction(write=False) as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.address == mobile).order_by(OutboxMessage.id)
        )
        return list(rows)


def _code_of(message: OutboxMessage) -> str:
    found = re.search(r"#(\d{6})$", message.body)
    assert found, message.body
    return found.group(1)


async def _check(db: Any, settings: Settings, code: str, *, mobile: str = MOBILE) -> PhoneCode:
    """As the web boundary does: a refusal with ``persist`` keeps its bookkeeping."""
    async with db.transaction() as session:
        try:
            return await phone_codes.do_check_code(
                session, settings, purpose=CodePurpose.SIGNUP, mobile=mobile, code=code
            )
        except DomainError as exc:
            if exc.persist:
                await session.commit()
            raise


def _later(delta: timedelta) -> None:
    clock.set_frozen(utcnow() + delta)


async def test_one_message_per_request_in_persian_with_the_code_and_webotp_line(
    db: Any, settings: Settings
) -> None:
    await _send(db, settings, mobile="+98 912 123 4567")
    [message] = await _messages(db)
    assert message.channel == "sms"
    assert "ثبت‌نام" in message.body
    code = _code_of(message)
    assert f": {code}\n" in message.body  # the code itself, in ASCII digits
    assert message.body.endswith(f"@127.0.0.1 #{code}")
    async with db.transaction(write=False) as session:
        [row] = list(await session.scalars(select(PhoneCode)))
    assert code not in row.code_hash and len(row.code_hash) == 64  # only a keyed hash


async def test_the_right_code_is_accepted_once_and_a_wrong_one_is_not(
    db: Any, settings: Settings
) -> None:
    await _send(db, settings)
    code = _code_of((await _messages(db))[-1])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    with pytest.raises(Invalid) as refused:
        await _check(db, settings, wrong)
    assert refused.value.code == "sms_code_invalid"
    accepted = await _check(db, settings, "".join("۰۱۲۳۴۵۶۷۸۹"[int(d)] for d in code))
    assert accepted.purpose == "signup" and accepted.mobile == MOBILE
    with pytest.raises(Invalid) as again:
        await _check(db, settings, code)
    assert again.value.code == "sms_code_expired"


async def test_a_code_expires_after_five_minutes(db: Any, settings: Settings) -> None:
    await _send(db, settings)
    code = _code_of((await _messages(db))[-1])
    _later(phone_codes.CODE_TTL + timedelta(seconds=1))
    with pytest.raises(Invalid) as refused:
        await _check(db, settings, code)
    assert refused.value.code == "sms_code_expired"


async def test_a_new_code_retires_the_earlier_one_and_waits_a_minute(
    db: Any, settings: Settings
) -> None:
    await _send(db, settings)
    with pytest.raises(TooManyRequests) as soon:
        await _send(db, settings)
    assert 0 < soon.value.retry_after <= 60
    assert len(await _messages(db)) == 1  # the refusal sent nothing
    first = _code_of((await _messages(db))[0])
    _later(phone_codes.RESEND_AFTER)
    await _send(db, settings)
    second = _code_of((await _messages(db))[1])
    if first != second:
        with pytest.raises(Invalid):
            await _check(db, settings, first)
    await _check(db, settings, second)


async def test_five_wrong_guesses_retire_the_code(db: Any, settings: Settings) -> None:
    await _send(db, settings)
    code = _code_of((await _messages(db))[-1])
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    codes = []
    for _ in range(phone_codes.MAX_WRONG):
        with pytest.raises(Invalid) as refused:
            await _check(db, settings, wrong)
        codes.append(refused.value.code)
    assert codes[-1] == "sms_code_retired" and set(codes[:-1]) == {"sms_code_invalid"}
    with pytest.raises(Invalid) as after:
        await _check(db, settings, code)  # even the right one: the code is gone
    assert after.value.code == "sms_code_expired"


async def test_a_number_gets_at_most_five_codes_an_hour_and_a_client_ten(
    db: Any, settings: Settings
) -> None:
    for _ in range(phone_codes.CODES_PER_MOBILE):
        await _send(db, settings, client="ip:one")
        _later(phone_codes.RESEND_AFTER)
    with pytest.raises(TooManyRequests):
        await _send(db, settings, client="ip:two")  # another client: still this number's limit
    others = [f"0912000{n:04d}" for n in range(phone_codes.CODES_PER_CLIENT)]
    for number in others[: phone_codes.CODES_PER_CLIENT - phone_codes.CODES_PER_MOBILE]:
        await _send(db, settings, mobile=number, client="ip:one")
    with pytest.raises(TooManyRequests):
        await _send(db, settings, mobile=others[-1], client="ip:one")
    await _send(db, settings, mobile=others[-1], client="ip:three")  # another client is fine


async def test_a_bad_number_is_refused_with_its_field(db: Any, settings: Settings) -> None:
    with pytest.raises(Invalid) as refused:
        await _send(db, settings, mobile="0212345678")
    assert refused.value.code == "mobile_invalid"
    assert await _messages(db, "0212345678") == []


async def test_of_concurrent_submissions_of_one_code_exactly_one_is_accepted(
    db: Any, settings: Settings
) -> None:
    await _send(db, settings)
    code = _code_of((await _messages(db))[-1])
    outcomes = await asyncio.gather(
        *(_check(db, settings, code) for _ in range(8)), return_exceptions=True
    )
    accepted = [o for o in outcomes if isinstance(o, PhoneCode)]
    assert len(accepted) == 1, outcomes
    assert all(isinstance(o, Invalid) for o in outcomes if not isinstance(o, PhoneCode))
