"""The access matrix: every role against every object, over every surface that shows it.

One arrangement per backend (module-scoped), then one cheap request per cell:

- a diagnosis-board case in the lobby of a scheduled hearing (``make_room``), with a
  document the parties may see and a board-only one;
- a decided case of the same board, parties and panel (``make_decided_case``) whose held
  hearing has closed motions, signed minutes, and an issued ruling; another with a draft;
- a hearing per room phase, for the room's phase table.

Allowed is 200 over HTTP and a socket that connects; refused is 404 over HTTP (hidden and
missing alike) and a socket refused with the reason in the table — except the cells listed
in ``FORBIDDEN``, each with why it is 403 (a route's role gate that reads nothing, or the
room telling a signed-in person why they cannot enter).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import socketio
from sqlalchemy import select

from hearing_server import clock
from hearing_server.accounts import services as accounts
from hearing_server.accounts.models import Role, TotpCredential
from hearing_server.accounts.security import SecretBox
from hearing_server.app import create_app
from hearing_server.boards.models import Seat, SeatTerm
from hearing_server.cases.models import CaseStatus
from hearing_server.config import Settings
from hearing_server.db import Database
from hearing_server.demo import DEMO_PASSWORD, demo_summary
from hearing_server.law.rules import SeatGroup
from hearing_server.scheduling.models import HearingStatus, RoomPhase
from hearing_server.voting.models import Motion
from tests.conftest import (
    EVENTUALLY_SECONDS,
    LiveServer,
    OtpSource,
    Person,
    _pg_reachable,
    copy_of_demo,
    free_port,
    make_settings,
    require_or_skip,
    serving,
)
from tests.factories import board_of, make_case, make_hearing
from tests.issuance.conftest import draft_and_approve, login_as, make_decided_case
from tests.rooms.conftest import NS, RoomClient, Signed, make_room

# ------------------------------------------------------------------ the matrix

ROLES: dict[str, str] = {
    "party": "worker",  # claimant of this case, summoned to its hearings
    "other_party": "party.other",  # claimant of another case, on no hearing here
    "clerk": "clerk",  # counter clerk, no CaseAccess to these cases
    "secretary": "secretary",
    "panel_member": "member.wrk1",  # on this hearing's panel (not its chair)
    "other_board": "member.gov2",  # seated on the settlement board
    "former_member": "member.former",  # held a diagnosis seat until 2025-03-20
    "admin": "admin",
    # Beyond the issue's eight: seated on this board today, not on this panel.
    "board_member": "member.alternate",
}


def row(marks: str) -> dict[str, bool]:
    """``"Y N …"``, one mark per role in the order of ``ROLES``: allowed or refused."""
    return dict(zip(ROLES, [mark == "Y" for mark in marks.split()], strict=True))


EXPECTED: dict[str, dict[str, bool]] = {
    #                      party other clerk secr. panel other former admin board
    #                            party             member board member       member
    "case": row(          "Y     N     N     Y     Y     N     N      Y     Y"),
    "document": row(      "Y     N     N     Y     Y     N     N      Y     Y"),
    "board_document": row("N     N     N     Y     Y     N     N      Y     Y"),
    "hearing": row(       "Y     N     N     Y     Y     N     N      Y     Y"),
    "room": row(          "Y     N     N     Y     Y     N     N      Y     N"),
    "motion": row(        "N     N     N     Y     Y     N     N      N     N"),
    "ruling": row(        "Y     N     N     Y     Y     N     N      Y     Y"),
    "draft_ruling": row(  "N     N     N     Y     Y     N     N      Y     Y"),
    "minutes": row(       "Y     N     N     Y     Y     N     N      Y     Y"),
    "history": row(       "N     N     N     Y     N     N     N      Y     N"),
}  # fmt: skip
"""Who may see what. The case rule (case, documents, ruling): staff, parties, members
seated today on the case's board; a draft ruling only to staff and those members. The
hearing rule (hearing, room, minutes): staff, the panel, members seated today on the
board (not into the room), summoned parties. Votes (motion): staff and the panel.
Board-only documents: staff and the board. Votes are the secretary's and the panel's:
the administrator runs the installation, not the board's votes."""

SURFACES: dict[str, dict[str, str]] = {
    "case": {
        "page": "/cases/{case}",
        "page.receipt": "/cases/{case}/receipt",
        "api": "/api/v1/cases/{case}",
        "api.documents": "/api/v1/cases/{case}/documents",
        "page.objections": "/cases/{case}/objections",
        "api.objections": "/api/v1/cases/{case}/objections",
    },
    "document": {
        "page.file": "/cases/{case}/documents/{document}/file",
        "api.file": "/api/v1/cases/{case}/documents/{document}/file",
        "room.pdf": "/hearings/{hearing}/room/documents/{document}.pdf",
    },
    "board_document": {
        "page.file": "/cases/{case}/documents/{board_document}/file",
        "api.file": "/api/v1/cases/{case}/documents/{board_document}/file",
        "room.pdf": "/hearings/{hearing}/room/documents/{board_document}.pdf",
    },
    "hearing": {
        "page": "/hearings/{hearing}",
        "page.ics": "/hearings/{hearing}/invitation.ics",
        "api": "/api/v1/hearings/{hearing}",
        "api.ics": "/api/v1/hearings/{hearing}/invitation.ics",
    },
    "room": {
        "page": "/hearings/{hearing}/room",
        "api.token": "/api/v1/hearings/{hearing}/room/token",
        "socket": "",
    },
    "motion": {
        "page.vote": "/hearings/{held}/vote",
        "api.list": "/api/v1/hearings/{held}/motions",
        "api": "/api/v1/motions/{motion}",
    },
    "ruling": {
        "page": "/rulings/{ruling}",
        "page.pdf": "/rulings/{ruling}/pdf",
        "api": "/api/v1/rulings/{ruling}",
        "api.pdf": "/api/v1/rulings/{ruling}/pdf",
        "api.progress": "/api/v1/rulings/{ruling}/progress",
    },
    "draft_ruling": {
        "page": "/rulings/{draft_ruling}",
        "page.draft_pdf": "/rulings/{draft_ruling}/draft.pdf",
        "api": "/api/v1/rulings/{draft_ruling}",
    },
    "minutes": {
        "page.pdf": "/minutes/{minutes}/pdf",
        "api.pdf": "/api/v1/minutes/{minutes}/pdf",
    },
    "history": {
        "api": "/api/v1/cases/{case}/history",
    },
}

IN = "connects"
PHASES = ("lobby", "hearing", "deliberation", "voting", "closed")
ROOM_BY_PHASE: dict[str, tuple[str, ...]] = {
    # role:          lobby  hearing  deliberation    voting          closed
    "party":         (IN,   IN,      "deliberation", "deliberation", "room_closed"),
    "other_party":   ("not_summoned",) * 5,
    "clerk":         ("not_summoned",) * 5,
    "secretary":     (IN,) * 5,
    "panel_member":  (IN,) * 5,
    "other_board":   ("not_summoned",) * 5,
    "former_member": ("not_summoned",) * 5,
    "admin":         (IN,) * 5,
    "board_member":  ("not_summoned",) * 5,
}  # fmt: skip
"""The room's socket by phase: staff and the panel at any time, summoned parties only
while the hearing is public; everyone else is not summoned."""

THROUGH_ROOM = {"room.pdf"}
"""Surfaces reached through the room: allowed when both the object and the room are."""

NO_STANDING = ("other_party", "clerk", "other_board", "former_member", "board_member")
ROOM_REASON = (
    "the room tells a signed-in person why they cannot enter (403 not_summoned) rather than "
    "hiding a hearing that exists (a missing hearing is 404)"
)
VOTES_GATE = (
    "the voting routes are for members and the secretary (login_required): everyone else "
    "is refused by the route before any hearing is read, the same 403 for any id"
)
DRAFT_GATE = (
    "/rulings/<id>/draft.pdf is for the board's side (login_required): a party or a clerk "
    "is refused by the route before any ruling is read, the same 403 for any id"
)
HISTORY_REASON = (
    "a case's history is the secretary's: someone who may read the case is told so (403); "
    "anyone else gets the 404 of a missing case"
)
FORBIDDEN: dict[tuple[str, str, str], str] = {
    **{
        (obj, surface, role): ROOM_REASON
        for obj, surface in (
            ("document", "room.pdf"),
            ("board_document", "room.pdf"),
            ("room", "page"),
            ("room", "api.token"),
        )
        for role in NO_STANDING
    },
    **{
        ("motion", surface, role): VOTES_GATE
        for surface in SURFACES["motion"]
        for role in ("party", "other_party", "clerk", "admin")
    },
    **{
        ("draft_ruling", "page.draft_pdf", role): DRAFT_GATE
        for role in ("party", "other_party", "clerk")
    },
    **{
        ("history", "api", role): HISTORY_REASON
        for role in ("party", "panel_member", "board_member")
    },
}
"""Refused cells answered 403 (refused by a role gate that reads nothing, or with a reason)
rather than 404; every other refused cell is 404, hidden and missing alike."""


def expected(obj: str, surface: str, role: str) -> bool:
    allowed = EXPECTED[obj][role]
    if surface in THROUGH_ROOM:
        allowed = allowed and EXPECTED["room"][role]
    return allowed


def cells() -> list[Any]:
    found = []
    for obj, by_role in EXPECTED.items():
        for surface in SURFACES[obj]:
            for role in by_role:
                found.append(
                    pytest.param(
                        obj,
                        surface,
                        role,
                        expected(obj, surface, role),
                        id=f"{obj}-{surface}-{role}",
                    )
                )
    return found


# ------------------------------------------------------------------ the arrangement


@dataclass
class World:
    live: LiveServer
    ids: dict[str, int]
    phase_hearings: dict[str, int]
    signed: Signed
    http: dict[str, httpx.AsyncClient]


async def make_person(
    db: Database, settings: Settings, username: str, full_name: str, role: Role
) -> Person:
    """A user who signs in like the demo's people (demo password, an authenticator)."""
    secret = pyotp.random_base32()
    async with db.transaction() as session:
        user = await accounts.do_create_user(
            session, username=username, full_name=full_name, password=DEMO_PASSWORD, role=role
        )
        session.add(
            TotpCredential(
                user_id=user.id,
                secret_encrypted=SecretBox(settings.totp_keys).seal(secret),
                activated_at=clock.utcnow(),
            )
        )
        await session.flush()
        return Person(user.id, username, DEMO_PASSWORD, role.value, full_name, secret)


async def seat_members(db: Database, former: Person, alternate: Person) -> None:
    """After the hearings are made (their panels are the seats' first terms): a former
    holder of the diagnosis worker seat, and a member on a second worker seat today."""
    async with db.transaction() as session:
        board = await board_of(session)
        worker_seat = next(s for s in board.seats if s.group == SeatGroup.WORKER)
        session.add(
            SeatTerm(
                seat_id=worker_seat.id,
                member_id=former.id,
                starts_on=date(2024, 3, 20),
                ends_on=date(2025, 3, 20),
            )
        )
        extra = Seat(board_id=board.id, group=SeatGroup.WORKER, position=2, is_chair=False)
        session.add(extra)
        await session.flush()
        session.add(SeatTerm(seat_id=extra.id, member_id=alternate.id, starts_on=date(2025, 3, 21)))


async def make_phase_hearings(db: Database) -> dict[str, int]:
    """One hearing of a fresh case (worker against employer) in each room phase."""
    status = {
        RoomPhase.LOBBY: HearingStatus.SCHEDULED,
        RoomPhase.CLOSED: HearingStatus.HELD,
    }
    made: dict[str, int] = {}
    async with db.transaction() as session:
        for phase in PHASES:
            case = await make_case(session)
            hearing = await make_hearing(session, cases=[case])
            hearing.phase = RoomPhase(phase)
            hearing.status = status.get(hearing.phase, HearingStatus.IN_PROGRESS)
            if hearing.status == HearingStatus.IN_PROGRESS:
                case.status = CaseStatus.IN_HEARING
            made[phase] = hearing.id
    return made


async def issue_ruling_and_minutes(
    app: Any, people: dict[str, Person], otp: OtpSource, decided: Any
) -> tuple[int, int]:
    secretary, csrf, ruling_id = await draft_and_approve(
        app, people, otp, decided, approvers=["member.gov1", "member.wrk1", "member.emp1"]
    )
    issued = await secretary.post(
        f"/api/v1/rulings/{ruling_id}/issue", headers={"X-CSRF-Token": csrf}
    )
    assert issued.status_code == 200, await issued.get_json()
    secretary, csrf = await login_as(app, people["secretary"], otp)
    minutes = await secretary.post(
        f"/api/v1/hearings/{decided.hearing_id}/minutes", headers={"X-CSRF-Token": csrf}
    )
    body = await minutes.get_json()
    assert minutes.status_code == 201, body
    return ruling_id, int(body["id"])


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def database_url(
    request: pytest.FixtureRequest, tmp_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The seeded demo database, copied once for this module on each backend."""
    if request.param == "postgres":
        require_or_skip(
            _pg_reachable(),
            "PostgreSQL is not reachable on 127.0.0.1:5432",
            env="HEYAT_REQUIRE_POSTGRES",
        )
    async with copy_of_demo(
        request.param, tmp_root, tmp_path_factory.mktemp("matrix"), prefix="heyat_m"
    ) as url:
        yield url


@pytest.fixture(scope="module")
async def world(
    database_url: str, tmp_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """The live server on the arranged database, and every role signed in to it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    var_dir = tmp_path_factory.mktemp("matrix-var")
    settings = make_settings(database_url, var_dir, pki_dir=tmp_root / "pki", base_url=url)
    app = create_app(settings)
    server = contextlib.AsyncExitStack()
    await server.enter_async_context(serving(app, port))
    live = LiveServer(url, app, settings)
    db: Database = app.runtime.db
    otp = OtpSource()
    clock.set_frozen(clock.utcnow().replace(microsecond=0))
    try:
        people: dict[str, Person] = {}
        async with db.transaction(write=False) as session:
            for u in (await demo_summary(session, settings))["users"]:
                user = await accounts.get_user_by_username(session, u["username"])
                assert user is not None
                people[user.username] = Person(
                    user.id,
                    user.username,
                    u["password"],
                    u["role"],
                    u["full_name"],
                    u["totp_secret"],
                )
        for username, full_name, kind in (
            ("party.other", "کارگر پروندهٔ دیگر", Role.PARTY),
            ("member.former", "عضو پیشین", Role.MEMBER),
            ("member.alternate", "عضو علی‌البدل", Role.MEMBER),
        ):
            people[username] = await make_person(db, settings, username, full_name, kind)
        room = await make_room(db, settings)
        decided = await make_decided_case(db)
        ruling_id, minutes_id = await issue_ruling_and_minutes(app.quart_app, people, otp, decided)
        drafted = await make_decided_case(db)
        _client, _csrf, draft_id = await draft_and_approve(
            app.quart_app, people, otp, drafted, approvers=[]
        )
        phase_hearings = await make_phase_hearings(db)
        async with db.transaction() as session:
            await make_case(session, claimant="party.other", respondent=None)
            motion_id = await session.scalar(
                select(Motion.id).where(Motion.hearing_id == decided.hearing_id).order_by(Motion.id)
            )
            assert motion_id is not None
        await seat_members(db, people["member.former"], people["member.alternate"])
        signed = Signed(live, people, otp)
        http: dict[str, httpx.AsyncClient] = {}
        for role, username in ROLES.items():
            cookie = await signed.cookie(username)
            http[role] = httpx.AsyncClient(
                timeout=EVENTUALLY_SECONDS,
                base_url=url,
                headers={"Cookie": cookie, "Accept-Language": "en"},
            )
    finally:
        clock.set_frozen(None)
    ids = {
        "case": room.case_id,
        "document": room.public_doc,
        "board_document": room.board_doc,
        "hearing": room.hearing_id,
        "held": decided.hearing_id,
        "motion": motion_id,
        "ruling": ruling_id,
        "draft_ruling": draft_id,
        "minutes": minutes_id,
    }
    yield World(live, ids, phase_hearings, signed, http)
    for client in http.values():
        await client.aclose()
    await server.aclose()
    await db.dispose()


async def connect(world: World, role: str, hearing_id: int) -> str:
    """``IN`` when ``role``'s socket gets into the room, else the refusal's code."""
    client = RoomClient(role)
    refused: list[Any] = []

    async def on_error(data: Any) -> None:
        refused.append(data)

    client.sio.on("connect_error", on_error, namespace=NS)
    try:
        await client.connect(
            world.live.url, hearing_id, cookie=await world.signed.cookie(ROLES[role])
        )
    except socketio.exceptions.ConnectionError:
        assert refused, "refused without a reason"
        return str(refused[0]["data"]["code"])
    try:
        assert client.connected
        return IN
    finally:
        await client.close()


# ------------------------------------------------------------------ the checks


@pytest.mark.parametrize(("obj", "surface", "role", "allowed"), cells())
async def test_access(world: World, obj: str, surface: str, role: str, allowed: bool) -> None:
    if surface == "socket":
        outcome = await connect(world, role, world.ids["hearing"])
        assert outcome == (IN if allowed else "not_summoned")
        return
    path = SURFACES[obj][surface].format(**world.ids)
    response = await world.http[role].get(path)
    refused = 403 if (obj, surface, role) in FORBIDDEN else 404
    assert response.status_code == (200 if allowed else refused), f"{response.status_code} {path}"


@pytest.mark.parametrize(
    ("phase", "role", "expected"),
    [
        pytest.param(phase, role, outcomes[i], id=f"{phase}-{role}")
        for role, outcomes in ROOM_BY_PHASE.items()
        for i, phase in enumerate(PHASES)
    ],
)
async def test_room_socket_by_phase(world: World, phase: str, role: str, expected: str) -> None:
    assert await connect(world, role, world.phase_hearings[phase]) == expected
