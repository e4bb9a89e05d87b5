"""The one throttle: a limit reached under one key refuses that key and no other, over the
hits table (sign-in, tracking, ballots) and over an authenticator's own counter (codes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hearing_server import clock
from hearing_server.accounts import services, throttle
from hearing_server.accounts.models import ThrottleHit, User
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import commit
from hearing_server.errors import Invalid, Locked, TooManyRequests
from tests.conftest import OtpSource, Person, api_login
from tests.voting.conftest import Actor, arrange_voting, cast, open_motion

WINDOW = timedelta(minutes=10)


async def _count(db: Any, key: str, times: int) -> None:
    async with db.transaction() as session:
        for _ in range(times):
            await throttle.do_count_attempt(session, [key])


async def _refused(db: Any, key: str, limit: int = 3) -> bool:
    async with db.transaction(write=False) as session:
        try:
            await throttle.check_throttle(session, [key], limit=limit, window=WINDOW)
        except TooManyRequests as exc:
            assert exc.code == "too_many_requests"
            return True
    return False


async def _hits(db: Any, key: str) -> int:
    async with db.transaction(write=False) as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(ThrottleHit).where(ThrottleHit.key == key)
            )
            or 0
        )


def test_the_limit_and_the_lock_are_decided_in_one_place() -> None:
    now = utcnow()
    assert not throttle.is_over(None, limit=3) and not throttle.is_over(2, limit=3)
    assert throttle.is_over(3, limit=3) and throttle.is_over(4, limit=3)
    assert throttle.lock_until(2, limit=3, window=WINDOW, now=now) is None
    assert throttle.lock_until(3, limit=3, window=WINDOW, now=now) == now + WINDOW
    assert throttle.retry_after(None, now) is None
    assert throttle.retry_after(now, now) is None  # a lock ends at its instant
    assert throttle.retry_after(now + timedelta(seconds=1), now) == 1
    assert throttle.retry_after(now + timedelta(minutes=5), now) == 6
    throttle.check_count(2, limit=3)
    with pytest.raises(TooManyRequests):
        throttle.check_count(3, limit=3)


def test_a_guessing_clients_waits_grow_and_stop_at_the_window() -> None:
    longest = timedelta(minutes=15)
    assert throttle.delay_after(4, free=5, longest=longest) is None
    waits = [throttle.delay_after(n, free=5, longest=longest) for n in (5, 6, 7, 8)]
    assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert throttle.delay_after(500, free=5, longest=longest) == longest
    now = utcnow()
    assert throttle.seconds_until(now + timedelta(milliseconds=200), now) == 1
    assert throttle.seconds_until(now + timedelta(seconds=90), now) == 90
    assert throttle.too_many(90).retry_after == 90
    assert throttle.too_many(90).params == {"minutes": 2}


async def test_hits_lock_the_guessed_key_and_not_another(db: Any) -> None:
    await _count(db, "test:guessed", 2)
    assert not await _refused(db, "test:guessed")  # one attempt left
    await _count(db, "test:guessed", 1)
    assert await _refused(db, "test:guessed")
    assert not await _refused(db, "test:other")
    assert not await _refused(db, "test:guessed", limit=4)  # the limit is the caller's
    clock.advance(WINDOW)
    assert await _refused(db, "test:guessed")  # the window includes its first instant
    clock.advance(timedelta(seconds=1))
    assert not await _refused(db, "test:guessed")


async def test_old_hits_are_forgotten(db: Any) -> None:
    await _count(db, "test:old", 2)
    clock.advance(throttle.KEEP + timedelta(seconds=1))
    await _count(db, "test:new", 1)  # any count forgets every key's old hits
    assert await _hits(db, "test:old") == 0
    assert await _hits(db, "test:new") == 1


async def test_a_hot_path_counts_in_its_own_read_and_forgets_only_its_key(db: Any) -> None:
    read = select(
        throttle.hits_within("test:hot", utcnow() - WINDOW), throttle.oldest_hit("test:hot")
    )
    async with db.transaction() as session:
        assert tuple((await session.execute(read)).one()) == (0, None)
    await _count(db, "test:hot", 2)
    await _count(db, "test:cold", 1)
    clock.advance(throttle.KEEP + timedelta(seconds=1))
    now = utcnow()
    read = select(throttle.hits_within("test:hot", now - WINDOW), throttle.oldest_hit("test:hot"))
    async with db.transaction() as session:
        count, oldest = (await session.execute(read)).one()
        assert count == 0 and oldest is not None
        await throttle.do_count_hot_attempt(session, "test:hot", now=now, oldest=oldest)
        # Nothing old left under this key: the next count writes only its hit.
        await throttle.do_count_hot_attempt(session, "test:hot", now=now, oldest=now)
    assert await _hits(db, "test:hot") == 2  # the two new ones
    assert await _hits(db, "test:cold") == 1  # another key's old hit waits for a full sweep


# ---------------------------------------------------------------- the four users of it


async def test_sign_in_stops_the_guessing_client_on_the_account_not_another(
    client: Any, people: dict[str, Person], otp: OtpSource, settings: Settings
) -> None:
    """The guessing client (here: its address) waits before each next try on the account,
    even with the right password; another account from the same address is not touched
    (tests/accounts/test_lockouts.py: nor the owner from another client)."""
    for _ in range(settings.login_attempts_per_client):
        bad = await client.post(
            "/api/v1/auth/login", json={"username": "worker", "password": "wrong-pass", "otp": "1"}
        )
        assert bad.status_code == 401
    worker = people["worker"]
    blocked = await client.post(
        "/api/v1/auth/login",
        json={
            "username": "worker",
            "password": worker.password,
            "otp": otp.code(worker.totp_secret),
        },
    )
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1
    await api_login(client, people["clerk"], otp)  # the same address, another account


async def test_tracking_locks_the_guessed_code_not_another(client: Any) -> None:
    def look_up(code: str) -> Any:
        return client.post(
            "/api/v1/track", json={"tracking_code": code, "national_id": "0012345679"}
        )

    for _ in range(5):
        assert (await look_up("AAAA11111")).status_code == 404
    refused = await look_up("AAAA11111")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    other = await look_up("BBBB22222")
    assert other.status_code == 404
    assert (await other.get_json())["error"]["code"] == "track_miss"


async def test_wrong_codes_lock_the_guessed_authenticator_not_another(
    db: Any, settings: Settings, people: dict[str, Person], otp: OtpSource
) -> None:
    async def verify(username: str, code: str) -> None:
        """As the boundary does: a refusal with ``persist`` commits its bookkeeping."""
        session = db.session()
        try:
            user = await session.get(User, people[username].id)
            assert user is not None
            try:
                await services.verify_otp(session, settings, user, code, purpose="test")
            except (Invalid, Locked) as exc:
                assert exc.persist
                await commit(session)
                raise
            await commit(session)
        finally:
            await session.close()

    guessed, other = people["member.gov1"], people["member.gov2"]
    right = otp.code(guessed.totp_secret)
    wrong = "000000" if right != "000000" else "111111"
    # A right code clears the count: four wrong, one right, four wrong again lock nothing.
    for _ in range(services.MAX_OTP_FAILURES - 1):
        with pytest.raises(Invalid):
            await verify(guessed.username, wrong)
    await verify(guessed.username, right)
    for _ in range(services.MAX_OTP_FAILURES - 1):
        with pytest.raises(Invalid):
            await verify(guessed.username, wrong)
    with pytest.raises(Invalid):
        await verify(guessed.username, wrong)  # the fifth in a row locks
    with pytest.raises(Locked) as locked:
        await verify(guessed.username, otp.code(guessed.totp_secret))
    assert locked.value.code == "otp_locked"
    assert locked.value.params["minutes"] >= 1
    await verify(other.username, otp.code(other.totp_secret))  # another member is not locked
    clock.advance(services.OTP_LOCK + timedelta(seconds=1))
    await verify(guessed.username, otp.code(guessed.totp_secret))


async def test_ballots_lock_the_member_who_tries_too_often_not_another(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    async def sign_in(username: str) -> Actor:
        client = quart_app.test_client()
        return Actor(client, await api_login(client, people[username], otp), people[username])

    arranged = await arrange_voting(db)
    motion = await open_motion(await sign_in("secretary"), arranged)
    hasty, calm = await sign_in("member.emp1"), await sign_in("member.wrk1")
    await _count(db, f"vote:user:{hasty.person.id}", 20)  # a minute's attempts
    status, body = await cast(hasty, motion["id"], otp)
    assert status == 429, body
    status, body = await cast(calm, motion["id"], otp)
    assert status == 201, body
    clock.advance(timedelta(minutes=1, seconds=1))
    status, body = await cast(hasty, motion["id"], otp)
    assert status == 201, body
