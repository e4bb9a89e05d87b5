"""Issue #14 item 6: labour offices as tenants. Two offices of the demo — Tehran (office A)
and Isfahan (office B) — and the people of office A: its secretary, one of its board's
members, and a clerk of a counter office that serves office A only. None of them may
reach office B's cases, documents, hearings, calendars or rooms, over the pages, the
API or the room's socket: each answers 404 as for a missing object (a route's role
gate that reads nothing answers its 403 for any id, as in the access matrix). Lists do
not show office B's items. A counter office files only for the labour offices it serves.

One arrangement per backend (module-scoped), on a live server, as the access matrix.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from hearing_server import clock
from hearing_server.accounts import services as accounts
from hearing_server.accounts.models import Role, User
from hearing_server.app import create_app
from hearing_server.boards.models import CounterOffice, LabourOffice, counter_office_serves
from hearing_server.cases.models import CaseStatus, Document, DocumentVisibility, StoredFile
from hearing_server.db import Database
from hearing_server.demo import demo_summary
from hearing_server.law.rules import BoardType
from hearing_server.migrate import upgrade_async
from hearing_server.notifications.models import OutboxMessage
from rulings.persian import fa_digits
from tests.cases.conftest import petition
from tests.conftest import (
    PG_ADMIN_URL,
    LiveServer,
    OtpSource,
    Person,
    _pg_exec,
    _pg_reachable,
    _pg_url,
    copy_of_demo,
    free_port,
    make_settings,
    require_or_skip,
    serving,
)
from tests.factories import ISFAHAN, TEHRAN, board_of, make_case, make_hearing, user_named
from tests.rooms.conftest import NS, RoomClient, Signed, case_pdf, store_file
from tests.test_access_matrix import make_person

OFFICE_A_PEOPLE = {
    "secretary": "secretary",  # secretary of office A
    "member": "member.gov1",  # chair of office A's diagnosis board
    "clerk": "clerk.thr",  # clerk of a counter office serving office A only
}


@dataclass
class Objects:
    case: int
    document: int
    hearing: int
    board: int
    filed: int  # a new filing, waiting in the office's inbox


@dataclass
class World:
    live: LiveServer
    a: Objects
    b: Objects
    boards: dict[str, int]  # the diagnosis boards of both offices, by office code
    signed: Signed
    http: dict[str, httpx.AsyncClient]


async def _arrange_office(db: Database, settings: Any, office: str, secretary: str) -> Objects:
    """A case of ``office`` on a hearing in its lobby, with a document the parties see,
    and another case filed and waiting in the office's inbox."""
    data = case_pdf()
    sha = store_file(settings, data)
    async with db.transaction() as session:
        case = await make_case(session, office=office)
        hearing = await make_hearing(session, cases=[case], office=office)
        filed = await make_case(session, office=office, status=CaseStatus.FILED)
        if await session.get(StoredFile, sha) is None:
            session.add(
                StoredFile(sha256=sha, size=len(data), mime_type="application/pdf", pages=4)
            )
            await session.flush()
        document = Document(
            case_id=case.id,
            sha256=sha,
            title="قرارداد کار",
            kind="contract",
            visibility=DocumentVisibility.PARTIES,
            uploaded_by_id=(await user_named(session, secretary)).id,
        )
        session.add(document)
        session.add(
            OutboxMessage(
                channel="sms",
                address="09120000000",
                subject=f"outbox-of-{office}",
                body=f"outbox-of-{office}",
                office_id=case.office_id,
            )
        )
        await session.flush()
        return Objects(case.id, document.id, hearing.id, hearing.board_id, filed.id)


async def _counter_office_of_tehran(db: Database, clerk: Person) -> None:
    """A counter office in Tehran serving the Tehran labour office only, and its clerk."""
    async with db.transaction() as session:
        tehran = await session.scalar(select(LabourOffice).where(LabourOffice.code == TEHRAN))
        assert tehran is not None
        counter = CounterOffice(
            province_id=tehran.province_id, code="PK-THR", name_fa="پیشخوان تهران", name_en="THR"
        )
        session.add(counter)
        await session.flush()
        await session.execute(
            counter_office_serves.insert().values(counter_office_id=counter.id, office_id=tehran.id)
        )
        await session.execute(
            update(User).where(User.id == clerk.id).values(counter_office_id=counter.id)
        )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def database_url(
    request: pytest.FixtureRequest, tmp_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    if request.param == "postgres":
        require_or_skip(
            _pg_reachable(),
            "PostgreSQL is not reachable on 127.0.0.1:5432",
            env="HEYAT_REQUIRE_POSTGRES",
        )
    async with copy_of_demo(
        request.param, tmp_root, tmp_path_factory.mktemp("tenants"), prefix="heyat_n"
    ) as url:
        yield url


@pytest.fixture(scope="module")
async def world(
    database_url: str, tmp_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    var_dir = tmp_path_factory.mktemp("tenants-var")
    settings = make_settings(database_url, var_dir, pki_dir=tmp_root / "pki", base_url=url)
    app = create_app(settings)
    server = contextlib.AsyncExitStack()
    await server.enter_async_context(serving(app, port))
    live = LiveServer(url, app, settings)
    db: Database = app.runtime.db
    clock.set_frozen(clock.utcnow().replace(microsecond=0))
    try:
        people: dict[str, Person] = {}
        async with db.transaction(write=False) as session:
            for u in (await demo_summary(session, settings))["users"]:
                user = await accounts.get_user_by_username(session, u["username"])
                assert user is not None
                people[user.username] = Person(
                    user.id, user.username, u["password"], u["role"], u["full_name"],
                    u["totp_secret"],
                )  # fmt: skip
        people["clerk.thr"] = await make_person(db, settings, "clerk.thr", "منشی تهران", Role.CLERK)
        await _counter_office_of_tehran(db, people["clerk.thr"])
        a = await _arrange_office(db, settings, TEHRAN, "secretary")
        b = await _arrange_office(db, settings, ISFAHAN, "secretary.isf")
        async with db.transaction(write=False) as session:
            boards = {code: (await board_of(session, office=code)).id for code in (TEHRAN, ISFAHAN)}
        signed = Signed(live, people, OtpSource())
        http: dict[str, httpx.AsyncClient] = {}
        for username in [*OFFICE_A_PEOPLE.values(), "clerk", "secretary.isf", "admin.isf", "admin"]:
            http[username] = httpx.AsyncClient(
                base_url=url,
                headers={"Cookie": await signed.cookie(username), "Accept-Language": "en"},
                timeout=30,
            )
    finally:
        clock.set_frozen(None)
    yield World(live, a, b, boards, signed, http)
    for client in http.values():
        await client.aclose()
    await server.aclose()
    await db.dispose()


# ------------------------------------------------------------------ one object, every surface

SURFACES: dict[str, str] = {
    "case.page": "/cases/{case}",
    "case.api": "/api/v1/cases/{case}",
    "case.api.documents": "/api/v1/cases/{case}/documents",
    "document.page": "/cases/{case}/documents/{document}/file",
    "document.api": "/api/v1/cases/{case}/documents/{document}/file",
    "hearing.page": "/hearings/{hearing}",
    "hearing.api": "/api/v1/hearings/{hearing}",
    "hearing.page.ics": "/hearings/{hearing}/invitation.ics",
    "hearing.api.ics": "/api/v1/hearings/{hearing}/invitation.ics",
    "calendar.page": "/boards/{board}/calendar",
    "calendar.api": "/api/v1/boards/{board}/calendar",
    "room.page": "/hearings/{hearing}/room",
    "room.api.token": "/api/v1/hearings/{hearing}/room/token",
}

CALENDAR_GATE = (
    "board calendars are for staff and members (login_required): a clerk is refused by the "
    "route before any board is read, the same 403 for any id"
)
OWN_OFFICE: dict[tuple[str, str], int] = {
    # What office A's people get for office A's objects: the control that the 404s below
    # are the office rule, not a route that is broken for them anyway.
    **{(surface, "secretary"): 200 for surface in SURFACES},
    **{(surface, "member"): 200 for surface in SURFACES},
    # The clerk filed none of these cases and is summoned to no hearing: the case rule's
    # 404, and the room's reason (403 not summoned) for a hearing of an office it serves.
    **{(surface, "clerk"): 404 for surface in SURFACES},
    ("calendar.page", "clerk"): 403,
    ("calendar.api", "clerk"): 403,
    ("room.page", "clerk"): 403,
    ("room.api.token", "clerk"): 403,
}
OTHER_OFFICE: dict[tuple[str, str], int] = {
    **{(surface, who): 404 for surface in SURFACES for who in OFFICE_A_PEOPLE},
    ("calendar.page", "clerk"): 403,  # CALENDAR_GATE
    ("calendar.api", "clerk"): 403,  # CALENDAR_GATE
}


def _path(surface: str, objects: Objects) -> str:
    return SURFACES[surface].format(
        case=objects.case, document=objects.document, hearing=objects.hearing, board=objects.board
    )


@pytest.mark.parametrize("who", list(OFFICE_A_PEOPLE))
@pytest.mark.parametrize("surface", list(SURFACES))
async def test_office_a_people_do_not_find_office_b_objects(
    world: World, surface: str, who: str
) -> None:
    client = world.http[OFFICE_A_PEOPLE[who]]
    own = await client.get(_path(surface, world.a))
    assert own.status_code == OWN_OFFICE[(surface, who)], (own.status_code, own.text[:300])
    other = await client.get(_path(surface, world.b))
    assert other.status_code == OTHER_OFFICE[(surface, who)], (other.status_code, surface)
    if other.status_code == 404 and surface.endswith((".api", ".api.documents", ".token")):
        assert other.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("surface", list(SURFACES))
async def test_each_office_admin_sees_their_own_office_and_the_national_admin_both(
    world: World, surface: str
) -> None:
    """The office admin of office B reaches office B's objects and not office A's; the
    national admin (no office) reaches both."""
    isf = world.http["admin.isf"]
    assert (await isf.get(_path(surface, world.b))).status_code == 200
    assert (await isf.get(_path(surface, world.a))).status_code == 404
    national = world.http["admin"]
    for objects in (world.a, world.b):
        assert (await national.get(_path(surface, objects))).status_code == 200


async def _socket(world: World, username: str, hearing_id: int) -> str:
    client = RoomClient(username)
    refused: list[Any] = []

    async def on_error(data: Any) -> None:
        refused.append(data)

    client.sio.on("connect_error", on_error, namespace=NS)
    try:
        await client.connect(world.live.url, hearing_id, cookie=await world.signed.cookie(username))
    except socketio.exceptions.ConnectionError:
        assert refused, "refused without a reason"
        return str(refused[0]["data"]["code"])
    try:
        assert client.connected
        return "connects"
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("who", "own", "other"),
    [
        ("secretary", "connects", "not_found"),
        ("member", "connects", "not_found"),
        ("clerk", "not_summoned", "not_found"),
    ],
)
async def test_the_room_socket_of_another_office_is_not_found(
    world: World, who: str, own: str, other: str
) -> None:
    username = OFFICE_A_PEOPLE[who]
    assert await _socket(world, username, world.a.hearing) == own
    assert await _socket(world, username, world.b.hearing) == other


# ------------------------------------------------------------------ lists


def _shown(number: str, html: str) -> bool:
    return number in html or fa_digits(number) in html


def _ids(body: dict[str, Any], key: str) -> set[int]:
    return {int(item["id"]) for item in body[key]}


async def test_lists_show_only_the_office_s_own_items(world: World) -> None:
    a, b = world.a, world.b
    for username, own, other in (("secretary", a, b), ("secretary.isf", b, a)):
        client = world.http[username]
        cases = await client.get("/api/v1/cases", params={"per_page": 100})
        assert cases.status_code == 200, cases.text
        found = _ids(cases.json(), "cases")
        assert {own.case, own.filed} <= found and not {other.case, other.filed} & found
        inbox = await client.get("/api/v1/cases/inbox")
        found = _ids(inbox.json(), "cases")
        assert own.filed in found and other.filed not in found
        hearings = await client.get("/api/v1/hearings")
        found = _ids(hearings.json(), "hearings")
        assert own.hearing in found and other.hearing not in found
        own_number = (await client.get(f"/api/v1/cases/{own.filed}")).json()["number"]
        other_number = (await world.http["admin"].get(f"/api/v1/cases/{other.filed}")).json()[
            "number"
        ]
        for page in ("/cases", "/cases/inbox"):
            html = (await client.get(page)).text
            assert _shown(own_number, html) and not _shown(other_number, html), page
        messages = (await client.get("/messages")).text
        own_code = TEHRAN if own is a else ISFAHAN
        other_code = ISFAHAN if own is a else TEHRAN
        assert f"outbox-of-{own_code}" in messages
        assert f"outbox-of-{other_code}" not in messages
    # A member's hearings are their panels, in their office.
    member = await world.http["member.gov1"].get("/api/v1/hearings")
    assert world.b.hearing not in _ids(member.json(), "hearings")
    national = _ids((await world.http["admin"].get("/api/v1/hearings")).json(), "hearings")
    assert {a.hearing, b.hearing} <= national


async def test_the_calendar_list_offers_only_the_office_s_boards(world: World) -> None:
    page = await world.http["secretary"].get("/calendar", follow_redirects=False)
    text = page.text if page.status_code == 200 else page.headers["location"]
    assert f"/boards/{world.boards[ISFAHAN]}/calendar" not in text


# ------------------------------------------------------------------ filing at the counter


async def _file(world: World, username: str, board_id: int) -> httpx.Response:
    client = world.http[username]
    me = await client.get("/api/v1/me")
    csrf = me.json().get("csrf_token")
    return await client.post(
        "/api/v1/cases",
        json=petition() | {"board_id": board_id, "submit": True},
        headers={"X-CSRF-Token": csrf or ""},
    )


async def test_a_counter_office_files_only_for_the_labour_offices_it_serves(world: World) -> None:
    thr, isf = world.boards[TEHRAN], world.boards[ISFAHAN]
    # The demo's counter office serves both offices; its clerk files to either.
    for board in (thr, isf):
        filed = await _file(world, "clerk", board)
        assert filed.status_code == 201, filed.text
        assert filed.json()["board_id"] == board
    # The Tehran-only counter office: Tehran yes, Isfahan refused with the reason.
    filed = await _file(world, "clerk.thr", thr)
    assert filed.status_code == 201, filed.text
    case_id = filed.json()["id"]
    refused = await _file(world, "clerk.thr", isf)
    assert refused.status_code == 422, refused.text
    # fa: "your counter office does not file complaints for this board's labour office"
    assert "دفتر پیشخوان شما برای" in refused.json()["error"]["fields"]["board_id"]
    # The case the Tehran clerk filed is seen by the counter office, not by Isfahan.
    assert (await world.http["clerk.thr"].get(f"/api/v1/cases/{case_id}")).status_code == 200
    assert (await world.http["secretary.isf"].get(f"/api/v1/cases/{case_id}")).status_code == 404
    # The filing form offers only the boards of the offices served.
    form = (await world.http["clerk.thr"].get("/cases/new-for-worker")).text
    assert f'value="{isf}"' not in form
    # Staff file only to their own office's boards.
    refused = await _file(world, "secretary", isf)
    assert refused.status_code == 422, refused.text
    assert "board_id" in refused.json()["error"]["fields"]


async def test_a_secretary_cannot_act_on_another_office_s_case(world: World) -> None:
    client = world.http["secretary"]
    me = await client.get("/api/v1/me")
    headers = {"X-CSRF-Token": me.json().get("csrf_token") or ""}
    accepted = await client.post(f"/api/v1/cases/{world.b.filed}/accept", headers=headers)
    assert accepted.status_code == 404
    returned = await client.post(
        f"/api/v1/cases/{world.b.filed}/return", json={"reason": "ناقص"}, headers=headers
    )
    assert returned.status_code == 404
    cancelled = await client.post(
        f"/api/v1/hearings/{world.b.hearing}/cancel",
        json={"reason": "جلسه لغو می‌شود"},
        headers=headers,
    )
    assert cancelled.status_code == 404
    # The filing is still waiting in office B's inbox.
    isf = (await world.http["secretary.isf"].get(f"/api/v1/cases/{world.b.filed}")).json()
    assert isf["status"] == "filed"


async def test_settlement_boards_are_per_office(world: World) -> None:
    """Each office has its own boards (the objection goes to the case's office's)."""
    async with world.live.app.runtime.db.transaction(write=False) as session:
        a = await board_of(session, BoardType.SETTLEMENT, TEHRAN)
        b = await board_of(session, BoardType.SETTLEMENT, ISFAHAN)
    assert a.office_id != b.office_id


# ------------------------------------------------------------------ the administrators' pages


async def _csrf(client: httpx.AsyncClient) -> str:
    return str((await client.get("/api/v1/me")).json()["csrf_token"])


async def _user(world: World, username: str) -> User:
    async with world.live.app.runtime.db.transaction(write=False) as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None, username
        return user


async def test_an_office_admin_manages_the_users_of_their_office_only(world: World) -> None:
    isf = world.http["admin.isf"]
    page = await isf.get("/admin/users")
    assert page.status_code == 200
    assert "secretary.isf" in page.text and "member.isf.gov1" in page.text
    assert ">secretary<" not in page.text and "member.gov1" not in page.text
    assert (await isf.get("/admin/offices")).status_code == 403
    csrf = await _csrf(isf)
    other = await _user(world, "member.gov2")
    revoked = await isf.post(
        f"/api/v1/admin/users/{other.id}/sessions/revoke", headers={"X-CSRF-Token": csrf}
    )
    assert revoked.status_code == 404
    # A user the office admin adds joins their office, whatever office was asked for.
    made = await isf.post(
        "/api/v1/admin/users",
        json={
            "username": "secretary.isf2",
            "full_name": "دبیر دوم اصفهان",
            "password": "a-long-enough-password-1405",
            "role": "secretary",
            "office_id": (await _user(world, "secretary")).office_id,  # Tehran: not theirs
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert made.status_code == 201, made.text
    assert (await _user(world, "secretary.isf2")).office_id == (
        await _user(world, "secretary.isf")
    ).office_id
    # An office admin makes no parties or clerks, and no national admin.
    refused = await isf.post(
        "/admin/users/new",
        data={
            "csrf_token": csrf,
            "username": "clerk.isf",
            "full_name": "کارمند",
            "password": "a-long-enough-password-1405",
            "role": "clerk",
        },
    )
    assert refused.status_code == 422
    assert "مدیر اداره فقط دبیر، عضو و مدیر می‌سازد." in refused.text


async def test_the_national_admin_makes_offices_and_places_staff(world: World) -> None:
    national = world.http["admin"]
    csrf = await _csrf(national)
    page = await national.get("/admin/offices")
    assert page.status_code == 200 and "PK-1001" in page.text
    async with world.live.app.runtime.db.transaction(write=False) as session:
        isfahan = await session.scalar(select(LabourOffice).where(LabourOffice.code == ISFAHAN))
        assert isfahan is not None
    made = await national.post(
        "/admin/counter-offices",
        data={
            "csrf_token": csrf,
            "counter_code": "PK-ISF",
            "counter_name_fa": "پیشخوان اصفهان",
            "counter_name_en": "Isfahan counter office",
            "province_id": str(isfahan.province_id),
            "serves": [str(isfahan.id)],
        },
        follow_redirects=False,
    )
    assert made.status_code == 302, made.text
    taken = await national.post(
        "/admin/counter-offices",
        data={
            "csrf_token": csrf,
            "counter_code": "PK-ISF",
            "counter_name_fa": "پیشخوان",
            "counter_name_en": "Again",
            "province_id": str(isfahan.province_id),
            "serves": [str(isfahan.id)],
        },
    )
    assert taken.status_code == 422 and "این کد قبلاً گرفته شده است." in taken.text
    async with world.live.app.runtime.db.transaction(write=False) as session:
        counter = await session.scalar(select(CounterOffice).where(CounterOffice.code == "PK-ISF"))
        assert counter is not None
    clerk = await national.post(
        "/api/v1/admin/users",
        json={
            "username": "clerk.isf",
            "full_name": "کارمند پیشخوان اصفهان",
            "password": "a-long-enough-password-1405",
            "role": "clerk",
            "counter_office_id": counter.id,
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert clerk.status_code == 201, clerk.text
    assert (await _user(world, "clerk.isf")).counter_office_id == counter.id
    # Placing a member of staff in another office.
    moved = await _user(world, "member.isf.emp4")
    placed = await national.post(
        f"/admin/users/{moved.id}/place",
        data={"csrf_token": csrf, "office_id": str((await _user(world, "secretary")).office_id)},
        follow_redirects=False,
    )
    assert placed.status_code == 302, placed.text
    assert (await _user(world, "member.isf.emp4")).office_id == (
        await _user(world, "secretary")
    ).office_id


# ------------------------------------------------------------------ the migration


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'tenants.db'}"
        return
    require_or_skip(_pg_reachable(), "PostgreSQL is not reachable", env="HEYAT_REQUIRE_POSTGRES")
    name = f"heyat_ten_{uuid.uuid4().hex[:10]}"
    await _pg_exec(PG_ADMIN_URL, f"CREATE DATABASE {name}")
    yield _pg_url(PG_ADMIN_URL, name)
    await _pg_exec(PG_ADMIN_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


SEED_0012 = [
    "INSERT INTO labour_offices (id, code, name_fa, name_en) VALUES (7, 'THR', 'تهران', 'Tehran')",
    "INSERT INTO boards (id, office_id, type, name_fa, name_en) "
    "VALUES (3, 7, 'diagnosis', 'تشخیص', 'Diagnosis')",
    "INSERT INTO users (id, username, full_name, locale, role, password_hash, is_active, "
    "created_at) VALUES (1, 'admin', 'a', 'fa', 'admin', 'x', true, :now), "
    "(2, 'secretary', 's', 'fa', 'secretary', 'x', true, :now), "
    "(3, 'member', 'm', 'fa', 'member', 'x', true, :now), "
    "(4, 'clerk', 'c', 'fa', 'clerk', 'x', true, :now), "
    "(5, 'worker', 'w', 'fa', 'party', 'x', true, :now)",
    "INSERT INTO cases (id, office_id, board_id, number, status, filed_via, created_by_id, "
    "created_at) VALUES (1, 7, 3, '1405-000001', 'filed', 'clerk', 4, :now)",
    "INSERT INTO cases (id, office_id, board_id, number, status, filed_via, created_by_id, "
    "created_at) VALUES (2, 7, 3, '1405-000002', 'filed', 'self', 5, :now)",
    "INSERT INTO outbox_messages (channel, address, subject, body, attachments, created_at, "
    "attempts, next_attempt_at, status) "
    "VALUES ('sms', '09120000000', 's', 'b', '[]', :now, 0, :now, 'sent')",
]


async def test_the_migration_puts_existing_data_into_a_default_office(empty_url: str) -> None:
    """An installation of one office, at 0012: after 0014_tenants its office is in the
    default province, its secretaries and members work for it (the admin stays national),
    its clerk works at a default counter office serving it, the clerk's filing is marked
    as filed through that counter office, and its outbox messages are the office's."""
    await upgrade_async(empty_url, "0012_sms")
    engine = create_async_engine(empty_url)
    async with engine.begin() as connection:
        for statement in SEED_0012:
            await connection.execute(text(statement), {"now": clock.utcnow()})
    await engine.dispose()

    await upgrade_async(empty_url)

    engine = create_async_engine(empty_url)
    async with engine.connect() as connection:
        province = (await connection.execute(text("SELECT id, code FROM provinces"))).all()
        assert [code for _id, code in province] == ["default"]
        office = (await connection.execute(text("SELECT province_id FROM labour_offices"))).all()
        assert office == [(province[0][0],)]
        placed = dict(
            (await connection.execute(text("SELECT username, office_id FROM users"))).all()
        )
        assert placed == {"admin": None, "secretary": 7, "member": 7, "clerk": None, "worker": None}
        counter = (await connection.execute(text("SELECT id, code FROM counter_offices"))).all()
        assert [code for _id, code in counter] == ["default"]
        serves = (
            await connection.execute(
                text("SELECT counter_office_id, office_id FROM counter_office_serves")
            )
        ).all()
        assert serves == [(counter[0][0], 7)]
        clerk = (
            await connection.execute(text("SELECT counter_office_id FROM users WHERE id = 4"))
        ).scalar_one()
        assert clerk == counter[0][0]
        filed = dict(
            (await connection.execute(text("SELECT id, counter_office_id FROM cases"))).all()
        )
        assert filed == {1: counter[0][0], 2: None}
        outbox = (await connection.execute(text("SELECT office_id FROM outbox_messages"))).all()
        assert outbox == [(7,)]
    await engine.dispose()
    # Each office numbers its own cases: another office may have a 1405-000001 too.
    engine = create_async_engine(empty_url)
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO labour_offices (id, code, name_fa, name_en, province_id) "
                 "VALUES (8, 'ISF', 'اصفهان', 'Isfahan', :p)"),
            {"p": province[0][0]},
        )  # fmt: skip
        await connection.execute(
            text(
                "INSERT INTO cases (id, office_id, board_id, number, status, filed_via, "
                "created_by_id, created_at) "
                "VALUES (3, 8, 3, '1405-000001', 'filed', 'self', 5, :now)"
            ),
            {"now": clock.utcnow()},
        )
    await engine.dispose()
