"""``vote.cast`` over a real socket: uvicorn on a port, ``socketio.AsyncClient`` on the
websocket transport, members signed in over HTTP and joined to the hearing room, codes
from `oathtool`.

What a broken implementation would get wrong: an ack before the commit (the ballot not
yet readable from another connection), a progress event that gives a choice away while
the vote is open, a replayed code accepted (or the socket dropped on the refusal), a
party's socket reaching the ballot box.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import socketio
from sqlalchemy import select

from hearing_server.accounts.models import TotpCredential
from hearing_server.audit.models import AuditEvent
from hearing_server.audit.services import verify_chain
from hearing_server.cases.models import ClaimKind
from hearing_server.scheduling.models import Hearing, RoomPhase
from hearing_server.voting import motions
from hearing_server.voting.models import Ballot, Motion, MotionKind, MotionState
from tests.conftest import LiveServer, OtpSource, Person
from tests.factories import user_named
from tests.rooms.conftest import RoomClient, login_cookie
from tests.voting.conftest import DIAGNOSIS, Arranged, Login, arrange_voting, open_motion

TWO_CLAIMS = [(ClaimKind.UNPAID_WAGES, 120_000_000), (ClaimKind.OTHER, 5_000_000)]


def vote_event(op: str, motion_id: int) -> Callable[[dict[str, Any]], bool]:
    def match(event: dict[str, Any]) -> bool:
        return (
            event["type"] == "vote"
            and event["op"] == op
            and event["payload"].get("motion_id") == motion_id
        )

    return match


Joiner = Callable[[str, int], Any]


@pytest.fixture
async def joiner(
    live_server: LiveServer, people: dict[str, Person], otp: OtpSource
) -> AsyncIterator[Joiner]:
    """``await join(username, hearing_id)``: that person signed in over HTTP and connected."""
    made: list[RoomClient] = []

    async def join(username: str, hearing_id: int) -> RoomClient:
        cookie = await login_cookie(live_server.url, people[username], otp)
        client = RoomClient(username)
        made.append(client)
        await client.connect(live_server.url, hearing_id, cookie=cookie)
        return client

    yield join
    for client in made:
        await client.close()


async def ballot_by_receipt(db: Any, receipt: str) -> Ballot | None:
    async with db.transaction(write=False) as session:
        return await session.scalar(select(Ballot).where(Ballot.receipt == receipt))


async def test_members_cast_over_the_socket_room_sees_progress_then_the_tally(
    db: Any, joiner: Joiner, login: Login, otp: OtpSource, people: dict[str, Person]
) -> None:
    arranged = await arrange_voting(db, present=[], claims=TWO_CLAIMS)
    members = {name: await joiner(name, arranged.hearing_id) for name in DIAGNOSIS}
    secretary_socket = await joiner("secretary", arranged.hearing_id)
    first = await open_motion(await login("secretary"), arranged, claim=0)
    second = await open_motion(await login("secretary"), arranged, claim=1)
    for client in [*members.values(), secretary_socket]:
        await client.wait_for(vote_event("opened", first["id"]))

    wrk1 = members["member.wrk1"]
    code = otp.code(people["member.wrk1"].totp_secret)
    ack = await wrk1.call(
        "vote.cast", {"motion_id": first["id"], "choice": "for", "otp": code, "opinion": "موافقم"}
    )
    assert "error" not in ack, ack
    assert len(ack["receipt"]) == 64 and ack["closed"] is False and ack["outcome"] is None
    # The ack came after the commit: another connection reads the ballot at once.
    stored = await ballot_by_receipt(db, ack["receipt"])
    assert stored is not None
    assert (stored.member_id, stored.choice, stored.id) == (
        people["member.wrk1"].id,
        "for",
        ack["ballot_id"],
    )

    # Everyone in the room learns who has voted, never how.
    for client in [*members.values(), secretary_socket]:
        progress = await client.wait_for(vote_event("progress", first["id"]))
        assert progress["payload"]["voted"] == [people["member.wrk1"].id]
        assert set(progress["payload"]["not_voted"]) == {
            people["member.gov1"].id,
            people["member.emp1"].id,
        }
        body = json.dumps(progress, ensure_ascii=False)
        assert '"choice"' not in body and "for" not in json.dumps(progress["payload"])
        assert ack["receipt"] not in body and "موافقم" not in body

    # A replayed code (same member, same time-step, the other motion) is refused with an
    # error ack; the socket stays up and the next fresh code goes through.
    replay = await wrk1.call("vote.cast", {"motion_id": second["id"], "choice": "for", "otp": code})
    assert replay["error"]["code"] == "otp_reused", replay
    await asyncio.sleep(0.2)  # a wrongly closed socket would be gone by now
    assert wrk1.connected
    fresh = await wrk1.call(
        "vote.cast",
        {
            "motion_id": second["id"],
            "choice": "against",
            "otp": otp.code(people["member.wrk1"].totp_secret),
        },
    )
    assert "error" not in fresh, fresh

    # The last two members close the first motion; the room gets the tally.
    gov1 = await members["member.gov1"].call(
        "vote.cast",
        {
            "motion_id": first["id"],
            "choice": "for",
            "otp": otp.code(people["member.gov1"].totp_secret),
        },
    )
    assert gov1["closed"] is False, gov1
    last = await members["member.emp1"].call(
        "vote.cast",
        {
            "motion_id": first["id"],
            "choice": "against",
            "otp": otp.code(people["member.emp1"].totp_secret),
        },
    )
    assert last["closed"] is True and last["outcome"] == "passed", last
    for client in [*members.values(), secretary_socket]:
        closed = await client.wait_for(vote_event("closed", first["id"]))
        payload = closed["payload"]
        assert payload["outcome"] == "passed"
        assert (payload["result"]["votes_for"], payload["result"]["votes_against"]) == (2, 1)
        named = {b["member_id"]: b["choice"] for b in payload["ballots"]}
        assert named == {
            people["member.wrk1"].id: "for",
            people["member.gov1"].id: "for",
            people["member.emp1"].id: "against",
        }
        # Progress came before the close, in the room's order.
        seqs = [e["seq"] for e in client.events if vote_event("progress", first["id"])(e)]
        assert seqs and max(seqs) < closed["seq"]

    async with db.transaction(write=False) as session:
        motion = await session.get_one(Motion, first["id"])
        assert motion.state == MotionState.CLOSED and motion.outcome == "passed"
        ballots = list(await session.scalars(select(Ballot).where(Ballot.motion_id == first["id"])))
        assert len(ballots) == 3 and all(b.audit_seq is not None for b in ballots)
        replayed = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "otp.replayed")
        )
        assert replayed is not None and replayed.actor_id == people["member.wrk1"].id
        assert (await verify_chain(session)).ok


async def test_a_party_socket_cannot_cast(
    db: Any, joiner: Joiner, otp: OtpSource, people: dict[str, Person], live_server: LiveServer
) -> None:
    """A party is let in while the hearing is public. Even if their socket were still up when
    a vote opens (a missed disconnect), a cast from it is refused before the code is
    looked at, and nothing reaches the room. In the voting phase a party cannot even join."""
    arranged = await arrange_voting(db, phase=RoomPhase.HEARING)
    worker = await joiner("worker", arranged.hearing_id)
    board = await joiner("member.gov1", arranged.hearing_id)
    motion_id = await _open_behind_the_rooms_back(db, arranged)

    ack = await worker.call(
        "vote.cast",
        {"motion_id": motion_id, "choice": "for", "otp": otp.code(people["worker"].totp_secret)},
    )
    assert "error" in ack and "receipt" not in ack, ack
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(Ballot.id).where(Ballot.motion_id == motion_id)) is None
        cred = await session.get_one(TotpCredential, people["worker"].id)
        assert cred.last_used_step is None or cred.last_used_step < _step_of(otp, "worker", people)
    await asyncio.sleep(0.2)
    assert not any(vote_event("progress", motion_id)(e) for e in board.events)

    late = RoomClient("worker-late")
    cookie = await login_cookie(live_server.url, people["worker"], otp)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await late.connect(live_server.url, arranged.hearing_id, cookie=cookie)
    await late.close()


def _step_of(otp: OtpSource, username: str, people: dict[str, Person]) -> int:
    """The time-step of the worker's last code handed out by the test's OTP source."""
    return otp.used[people[username].totp_secret]


async def _open_behind_the_rooms_back(db: Any, arranged: Arranged) -> int:
    """Voting phase and an open motion written straight to the database, so the room does
    not disconnect the party's socket first."""
    async with db.transaction() as session:
        hearing = await session.get_one(Hearing, arranged.hearing_id)
        hearing.phase = RoomPhase.VOTING
        await session.flush()
        motion = await motions.do_open_motion(
            session,
            actor=await user_named(session, "secretary"),
            hearing_id=arranged.hearing_id,
            case_id=arranged.case_id,
            kind=MotionKind.ACCEPT,
            claim_id=arranged.claim_ids[0],
            text="پذیرش خواسته",
        )
        return motion.id
