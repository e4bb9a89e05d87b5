"""Voting fixtures: a hearing in the voting phase with members in the room (arranged
directly in the database), and signed-in API clients for the demo people."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from hearing_server.cases.models import CaseStatus, Claim, ClaimKind
from hearing_server.clock import utcnow
from hearing_server.law.rules import BoardType
from hearing_server.rooms.models import Attendance
from hearing_server.scheduling.models import HearingStatus, RoomPhase
from tests.conftest import OtpSource, Person, api_login
from tests.factories import make_case, make_hearing, user_named

DIAGNOSIS = ["member.gov1", "member.wrk1", "member.emp1"]
SETTLEMENT = [
    "member.gov2",
    "member.gov3",
    "member.gov4",
    "member.wrk2",
    "member.wrk3",
    "member.wrk4",
    "member.emp2",
    "member.emp3",
    "member.emp4",
]


@dataclass(frozen=True)
class Arranged:
    hearing_id: int
    case_id: int
    claim_ids: list[int]


async def arrange_voting(
    db: Any,
    *,
    board_type: BoardType = BoardType.DIAGNOSIS,
    present: list[str] | None = None,
    claims: list[tuple[ClaimKind, int | None]] | None = None,
    phase: RoomPhase = RoomPhase.VOTING,
) -> Arranged:
    """A case in hearing on a hearing in ``phase``, with ``present`` members (default: the
    whole panel) and the secretary in the room."""
    if present is None:
        present = DIAGNOSIS if board_type == BoardType.DIAGNOSIS else SETTLEMENT
    async with db.transaction() as session:
        case = await make_case(session, board_type=board_type, claims=claims)
        hearing = await make_hearing(session, cases=[case], board_type=board_type)
        case.status = CaseStatus.IN_HEARING
        hearing.phase = phase
        hearing.status = HearingStatus.IN_PROGRESS
        for username in [*present, "secretary"]:
            user = await user_named(session, username)
            session.add(
                Attendance(
                    hearing_id=hearing.id,
                    user_id=user.id,
                    role="secretary" if username == "secretary" else "member",
                    joined_at=utcnow(),
                    admitted=True,
                )
            )
        await session.flush()
        claim_ids = list(
            await session.scalars(
                select(Claim.id).where(Claim.case_id == case.id).order_by(Claim.position)
            )
        )
        return Arranged(hearing.id, case.id, claim_ids)


@dataclass
class Actor:
    """A signed-in API client of one demo person."""

    client: Any
    csrf: str
    person: Person

    async def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        response = await self.client.post(
            path, json=body or {}, headers={"X-CSRF-Token": self.csrf, "Accept-Language": "en"}
        )
        return response.status_code, await response.get_json()

    async def get(self, path: str) -> tuple[int, Any]:
        response = await self.client.get(path, headers={"Accept-Language": "en"})
        return response.status_code, await response.get_json()


Login = Callable[[str], Awaitable[Actor]]


@pytest.fixture
def login(quart_app: Any, people: dict[str, Person], otp: OtpSource) -> Login:
    async def sign_in(username: str) -> Actor:
        client = quart_app.test_client()
        csrf = await api_login(client, people[username], otp)
        return Actor(client, csrf, people[username])

    return sign_in


async def open_motion(
    secretary: Actor, arranged: Arranged, *, kind: str = "accept", claim: int = 0, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "case_id": arranged.case_id,
        "kind": kind,
        "text": "پذیرش خواسته",
        "reasoning": "مستندات پرداخت نشدن مزد ارائه شده است.",
        "legal_basis": "ماده ۳۷ قانون کار",
    }
    if kind != "free_text":
        body["claim_id"] = arranged.claim_ids[claim]
    body.update(extra)
    status, data = await secretary.post(f"/api/v1/hearings/{arranged.hearing_id}/motions", body)
    assert status == 201, data
    return dict(data)


async def cast(
    actor: Actor,
    motion_id: int,
    otp: OtpSource,
    choice: str = "for",
    *,
    code: str | None = None,
    opinion: str | None = None,
) -> tuple[int, Any]:
    body: dict[str, Any] = {"choice": choice, "otp": code or otp.code(actor.person.totp_secret)}
    if opinion is not None:
        body["opinion"] = opinion
    return await actor.post(f"/api/v1/motions/{motion_id}/ballots", body)
