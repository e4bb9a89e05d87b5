"""The ``vote.cast`` room handler called directly: the same service as the HTTP POST,
refused for a motion of another hearing and for a socket that is not a panel member's.
(Over a live socket: test_voting_room_socket.py.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from hearing_server.accounts.models import User
from hearing_server.config import Settings
from hearing_server.errors import Forbidden, NotFound
from hearing_server.voting.models import Ballot
from hearing_server.voting.room_actions import cast
from tests.conftest import OtpSource, Person
from tests.voting.conftest import Login, arrange_voting, open_motion


async def on_cast(session: Any, ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """The room action as the namespace runs it: parse, then perform."""
    return await cast.perform(session, ctx, cast.parse(payload))


@dataclass
class Ctx:
    user: User
    hearing_id: int
    settings: Settings
    role: str = "member"


async def test_room_cast_records_the_ballot_and_refuses_other_hearings(
    db: Any, login: Login, otp: OtpSource, people: dict[str, Person], settings: Settings
) -> None:
    arranged = await arrange_voting(db)
    other = await arrange_voting(db)
    motion = await open_motion(await login("secretary"), arranged)
    member = people["member.wrk1"]
    async with db.transaction() as session:
        user = await session.get_one(User, member.id)
        with pytest.raises(NotFound):
            await on_cast(
                session,
                Ctx(user, other.hearing_id, settings),
                {"motion_id": motion["id"], "choice": "for", "otp": "123456"},
            )
        with pytest.raises(Forbidden):
            await on_cast(
                session,
                Ctx(user, arranged.hearing_id, settings, role="claimant"),
                {"motion_id": motion["id"], "choice": "for", "otp": "123456"},
            )
        ack = await on_cast(
            session,
            Ctx(user, arranged.hearing_id, settings),
            {"motion_id": motion["id"], "choice": "for", "otp": otp.code(member.totp_secret)},
        )
    assert len(ack["receipt"]) == 64 and ack["closed"] is False
    async with db.transaction(write=False) as session:
        stored = await session.scalar(select(Ballot).where(Ballot.receipt == ack["receipt"]))
    assert stored is not None and stored.member_id == member.id and stored.choice == "for"
