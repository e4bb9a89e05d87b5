"""The demo's ballots are recorded by the voting part itself (#15 item 6): each has a real
receipt that its member can check, linked in the audit chain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hearing_server.accounts.models import User
from hearing_server.voting.ballots import check_receipt
from hearing_server.voting.models import Ballot


async def test_every_demo_ballot_has_a_receipt_that_checks_in_the_chain(db: Any) -> None:
    async with db.transaction(write=False) as session:
        ballots = list(await session.scalars(select(Ballot).order_by(Ballot.id)))
        assert len(ballots) >= 9  # three motions of three members in the ruled demo case
        for ballot in ballots:
            member = await session.get(User, ballot.member_id)
            assert member is not None
            checked = await check_receipt(session, actor=member, receipt=ballot.receipt)
            assert checked.in_chain, ballot.id
