"""A sign-in's argon2 runs before the throttle's write, never inside a write transaction
(#15 item 5): the password is checked with a short read transaction and none open during
argon2; the write transaction then asks the guard again and records the verdict."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, update

from hearing_server.accounts import services, throttle
from hearing_server.accounts.models import User
from hearing_server.accounts.security import hash_password
from hearing_server.audit.models import AuditEvent
from hearing_server.config import Settings
from hearing_server.errors import TooManyRequests, Unauthenticated
from tests.conftest import EVENTUALLY_SECONDS, Person


async def test_the_password_is_checked_while_another_transaction_holds_the_write_lock(
    db: Any, settings: Settings, people: dict[str, Person]
) -> None:
    """Another request holds a write transaction open (on SQLite the database's one write
    lock) for as long as this sign-in's argon2 runs: the check completes regardless,
    because it writes nothing. Only then does the other transaction commit."""
    worker = people["worker"]
    async with db.transaction() as holder:
        await holder.execute(  # the write lock is taken (BEGIN IMMEDIATE on SQLite)
            update(User).where(User.id == worker.id).values(full_name=User.full_name)
        )
        attempt = await asyncio.wait_for(
            services.read_password_attempt(
                db, settings, username=worker.username, password=worker.password, ip="192.0.2.7"
            ),
            EVENTUALLY_SECONDS,
        )
    assert attempt.matches and attempt.user_id == worker.id
    async with db.transaction() as session:
        user = await services.check_password(session, settings, attempt)
    assert user.id == worker.id


async def test_a_failure_recorded_while_argon2_ran_counts_before_the_verdict(
    db: Any, settings: Settings, people: dict[str, Person]
) -> None:
    """The guard is asked again in the write transaction: failures from this client that
    were recorded while the password was being checked refuse it (429), as they would
    have had the attempts come one after the other."""
    worker = people["worker"]
    attempt = await services.read_password_attempt(
        db, settings, username=worker.username, password=worker.password, ip="192.0.2.8"
    )
    guard = services.login_guard(settings)
    async with db.transaction() as session:
        for _ in range(guard.per_client + 1):
            await throttle.do_count_guard_failure(
                session, guard, subject=attempt.username, client=attempt.client
            )
    with pytest.raises(TooManyRequests):
        async with db.transaction() as session:
            await services.check_password(session, settings, attempt)


async def test_a_password_changed_while_it_was_checked_no_longer_opens_the_account(
    db: Any, settings: Settings, people: dict[str, Person]
) -> None:
    worker = people["worker"]

    async def failures() -> int:
        async with db.transaction(write=False) as session:
            found = await session.scalar(
                select(func.count()).where(
                    AuditEvent.action == "login.failed", AuditEvent.actor_id == worker.id
                )
            )
        return int(found or 0)

    before = await failures()
    attempt = await services.read_password_attempt(
        db, settings, username=worker.username, password=worker.password, ip="192.0.2.9"
    )
    assert attempt.matches
    new_hash = await hash_password("a-new-and-long-password")
    async with db.transaction() as session:
        await session.execute(
            update(User).where(User.id == worker.id).values(password_hash=new_hash)
        )
    with pytest.raises(Unauthenticated):
        async with db.transaction() as session:
            try:
                await services.check_password(session, settings, attempt)
            except Unauthenticated as exc:
                assert exc.persist  # the failure is counted and audited
                await session.commit()
                raise
    assert await failures() == before + 1
