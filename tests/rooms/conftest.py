"""Room fixtures: a hearing with a case file of real PDFs (Persian text), people signed in
over HTTP, and Socket.IO clients that record what the server sends them."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from hearing_server.cases.files import file_path
from hearing_server.cases.models import Document, DocumentVisibility, StoredFile
from hearing_server.config import Settings
from tests.conftest import EVENTUALLY_SECONDS, LiveServer, OtpSource, Person
from tests.factories import make_case, make_hearing, user_named

NS = "/hearing"


@cache
def case_pdf(pages: int = 4, title: str = "قرارداد کار") -> bytes:
    """A small PDF with Persian text on every page, made with WeasyPrint."""
    from weasyprint import HTML

    body = "".join(
        f'<section style="page-break-after: always"><h1>{title}</h1>'
        f"<p>صفحهٔ {n} از پروندهٔ کارگر: مطالبات مزد معوق و حق سنوات</p></section>"
        for n in range(1, pages + 1)
    )
    style = "font-family: Vazirmatn, sans-serif; font-size: 28px"
    html = f'<html lang="fa" dir="rtl"><body style="{style}">{body}</body></html>'
    out = io.BytesIO()
    HTML(string=html).write_pdf(out)
    return out.getvalue()


def store_file(settings: Settings, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    path = file_path(Path(settings.files_dir), sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha


@dataclass
class Room:
    hearing_id: int
    case_id: int
    public_doc: int  # visibility parties, 4 pages
    board_doc: int  # board only
    other_case_doc: int  # a document of a case not on this hearing


async def make_room(db: Any, settings: Settings) -> Room:
    data = case_pdf()
    sha = store_file(settings, data)
    secret = case_pdf(2, "گزارش بازرس کار")
    sha2 = store_file(settings, secret)
    async with db.transaction() as session:
        case = await make_case(session)
        other = await make_case(session)
        hearing = await make_hearing(session, cases=[case])
        secretary = await user_named(session, "secretary")
        for digest, size, pages in ((sha, len(data), 4), (sha2, len(secret), 2)):
            if await session.get(StoredFile, digest) is None:
                session.add(
                    StoredFile(sha256=digest, size=size, mime_type="application/pdf", pages=pages)
                )
        await session.flush()
        docs = [
            Document(
                case_id=case.id,
                sha256=sha,
                title="قرارداد کار",
                kind="contract",
                visibility=DocumentVisibility.PARTIES,
                uploaded_by_id=secretary.id,
            ),
            Document(
                case_id=case.id,
                sha256=sha2,
                title="گزارش بازرس کار",
                kind="inspection",
                visibility=DocumentVisibility.BOARD,
                uploaded_by_id=secretary.id,
            ),
            Document(
                case_id=other.id,
                sha256=sha,
                title="پروندهٔ دیگر",
                kind="contract",
                visibility=DocumentVisibility.PARTIES,
                uploaded_by_id=secretary.id,
            ),
        ]
        session.add_all(docs)
        await session.flush()
        return Room(hearing.id, case.id, docs[0].id, docs[1].id, docs[2].id)


@pytest.fixture
async def room(db: Any, settings: Settings) -> Room:
    return await make_room(db, settings)


async def login_cookie(base_url: str, person: Person, otp: OtpSource) -> str:
    """Sign in over HTTP against the live server; the Cookie header value to send."""
    async with httpx.AsyncClient(base_url=base_url, timeout=EVENTUALLY_SECONDS) as http:
        response = await http.post(
            "/api/v1/auth/login",
            json={
                "username": person.username,
                "password": person.password,
                "otp": otp.code(person.totp_secret),
            },
        )
        assert response.status_code == 200, response.text
        token = response.cookies["heyat_session"]
    return f"heyat_session={token}"


@dataclass
class RoomClient:
    """A Socket.IO client in the hearing namespace that keeps every room event it gets."""

    name: str
    sio: socketio.AsyncClient = field(default_factory=lambda: _new_client())
    events: list[dict[str, Any]] = field(default_factory=list)
    removed: list[Any] = field(default_factory=list)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    snapshot: dict[str, Any] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        @self.sio.on("room", namespace=NS)
        async def on_room(data: dict[str, Any]) -> None:
            self.events.append(data)
            self._changed.set()

        @self.sio.on("removed", namespace=NS)
        async def on_removed(data: Any) -> None:
            self.removed.append(data)

        @self.sio.on("disconnect", namespace=NS)
        async def on_disconnect(*_args: Any) -> None:
            self.disconnected.set()

    async def connect(
        self,
        url: str,
        hearing_id: int,
        *,
        cookie: str | None = None,
        origin: str | None = None,
        token: str | None = None,
        wait_timeout: float = EVENTUALLY_SECONDS,
    ) -> None:
        headers = {"Origin": origin or url}
        if cookie:
            headers["Cookie"] = cookie
        auth: dict[str, Any] = {"hearing_id": hearing_id}
        if token:
            auth["token"] = token
        self.disconnected.clear()
        await self.sio.connect(
            url,
            namespaces=[NS],
            transports=["websocket"],
            headers=headers,
            auth=auth,
            wait_timeout=wait_timeout,
        )

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, data, namespace=NS, timeout=EVENTUALLY_SECONDS)

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], *, within: float = EVENTUALLY_SECONDS
    ) -> dict[str, Any]:
        """The first received event matching ``predicate`` (waits for it to arrive)."""

        async def look() -> dict[str, Any]:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(look(), within)

    @property
    def connected(self) -> bool:
        return bool(self.sio.connected) and NS in self.sio.namespaces

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()

    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.events]


def _new_client() -> socketio.AsyncClient:
    return socketio.AsyncClient(reconnection=False)


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[str], RoomClient]]:
    made: list[RoomClient] = []

    def make(name: str) -> RoomClient:
        client = RoomClient(name)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@dataclass
class Signed:
    """Cookies of people signed in to the live server, by username (signed in on demand)."""

    live: LiveServer
    people: dict[str, Person]
    otp: OtpSource
    cookies: dict[str, str] = field(default_factory=dict)

    async def cookie(self, username: str) -> str:
        if username not in self.cookies:
            self.cookies[username] = await login_cookie(
                self.live.url, self.people[username], self.otp
            )
        return self.cookies[username]


@pytest.fixture
def signed(live_server: LiveServer, people: dict[str, Person], otp: OtpSource) -> Signed:
    return Signed(live_server, people, otp)


@pytest.fixture
def join(signed: Signed, room: Room, clients: Callable[[str], RoomClient]) -> Callable[..., Any]:
    """``await join("member.gov1")``: a connected client of that person in the room."""

    async def go(username: str, *, sync: bool = True) -> RoomClient:
        client = clients(username)
        await client.connect(signed.live.url, room.hearing_id, cookie=await signed.cookie(username))
        if sync:
            client.snapshot = (await client.call("sync", {}))["snapshot"]
        return client

    return go
