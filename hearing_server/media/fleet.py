"""The table of media servers: which exist, which answer, which holds each hearing's room.

Every hearing's video room lives on one server, pinned when the room opens (the least
loaded healthy server: fewest pinned rooms) and kept until the room closes, or until that
server stops answering its health checks — then :class:`~.service.MediaService` moves the
room to another healthy server. The local Janus that ``heyat serve`` supervises is the
server named ``local`` (registered by the app from its settings); more are added with
``heyat media add``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.clock import utcnow
from hearing_server.db import dialect_insert
from hearing_server.errors import Conflict, Invalid, NotFound
from hearing_server.media.models import MediaRoom, MediaServer
from hearing_server.rooms.events import BOARD_ROLES
from hearing_server.rooms.log import PUBLIC_PHASES
from hearing_server.rooms.models import Attendance
from hearing_server.scheduling.models import RoomPhase

LOCAL = "local"
# Health checks failed in a row before a server is marked down (one lost request is not
# a dead server).
FAILURES_BEFORE_DOWN = 2


@dataclass(frozen=True)
class Server:
    """A media server as the service uses it (a detached copy of the row)."""

    id: int
    name: str
    url: str
    public_url: str
    secret_ref: str
    healthy: bool

    @classmethod
    def of(cls, row: MediaServer) -> Server:
        return cls(
            row.id, row.name, row.url, row.public_url or row.url, row.secret_ref, row.healthy
        )


@dataclass(frozen=True)
class ServerLoad:
    server: Server
    rooms: int
    last_checked: datetime | None


def check_url(url: str, field: str = "url") -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid(
            "{name} must be an http:// or https:// address of a Janus HTTP API.",
            name=field,
            field=field,
            code="bad_url",
        )
    return url.strip().rstrip("/")


# --------------------------------------------------------------------------- the table


async def do_register_local(session: AsyncSession, url: str, public_url: str) -> Server:
    """The server ``heyat serve`` runs (or ``HEYAT_MEDIA_JANUS_URL`` names), as ``local``:
    made on first start, its addresses kept up to date with the settings."""
    insert = dialect_insert(session)
    await session.execute(
        insert(MediaServer)
        .values(
            name=LOCAL,
            url=url,
            public_url=public_url,
            secret_ref="",
            healthy=True,
            failures=0,
            created_at=utcnow(),
        )
        .on_conflict_do_update(
            index_elements=[MediaServer.name], set_={"url": url, "public_url": public_url}
        )
    )
    row = await session.scalar(select(MediaServer).where(MediaServer.name == LOCAL))
    if row is None:  # the upsert above made it
        raise NotFound("No media server named {name}.", name=LOCAL)
    return Server.of(row)


async def do_add_server(
    session: AsyncSession, *, name: str, url: str, public_url: str = "", secret_ref: str = ""
) -> Server:
    name = name.strip()
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
        raise Invalid(
            "A media server's name is 1 to 64 letters, digits, '-' or '_'.", code="bad_name"
        )
    if secret_ref and not secret_ref.replace("_", "").isalnum():
        raise Invalid(
            "The secret reference is the name of an environment variable.", code="bad_secret_ref"
        )
    row = MediaServer(
        name=name,
        url=check_url(url),
        public_url=check_url(public_url, "public_url") if public_url else "",
        secret_ref=secret_ref,
        healthy=True,
        failures=0,
    )
    if await session.scalar(select(MediaServer.id).where(MediaServer.name == name)):
        raise Conflict("There is already a media server named {name}.", name=name, code="exists")
    session.add(row)
    await session.flush()
    return Server.of(row)


async def do_remove_server(session: AsyncSession, name: str) -> None:
    """Refused while a hearing's room is pinned to it (it moves when the server is down)."""
    row = await session.scalar(select(MediaServer).where(MediaServer.name == name))
    if row is None:
        raise NotFound("No media server named {name}.", name=name)
    pinned = await session.scalar(
        select(func.count()).select_from(MediaRoom).where(MediaRoom.server_id == row.id)
    )
    if pinned:
        raise Conflict(
            "Media server {name} holds {count} open rooms; it can be removed once they close.",
            name=name,
            count=pinned,
            code="in_use",
        )
    await session.delete(row)
    await session.flush()


async def list_servers(session: AsyncSession) -> list[ServerLoad]:
    rooms = (
        select(MediaRoom.server_id, func.count().label("n"))
        .group_by(MediaRoom.server_id)
        .subquery()
    )
    rows = await session.execute(
        select(MediaServer, func.coalesce(rooms.c.n, 0))
        .outerjoin(rooms, rooms.c.server_id == MediaServer.id)
        .order_by(MediaServer.id)
    )
    return [ServerLoad(Server.of(row), int(n), row.last_checked) for row, n in rows]


async def do_record_check(session: AsyncSession, server_id: int, ok: bool) -> bool:
    """Note a health check; True when the server has just been marked down."""
    row = await session.get(MediaServer, server_id, with_for_update=True)
    if row is None:
        return False
    row.last_checked = utcnow()
    was = row.healthy
    if ok:
        row.failures = 0
        row.healthy = True
    else:
        row.failures += 1
        if row.failures >= FAILURES_BEFORE_DOWN:
            row.healthy = False
    await session.flush()
    return was and not row.healthy


async def do_mark_down(session: AsyncSession, server_id: int) -> None:
    """A request to it failed outright (the server did not answer a join): down now."""
    await session.execute(
        update(MediaServer)
        .where(MediaServer.id == server_id)
        .values(
            healthy=False,
            failures=FAILURES_BEFORE_DOWN,
            last_checked=utcnow(),
        )
    )


# --------------------------------------------------------------------------- pins


async def get_pin(session: AsyncSession, hearing_id: int) -> Server | None:
    row = await session.scalar(
        select(MediaServer)
        .join(MediaRoom, MediaRoom.server_id == MediaServer.id)
        .where(MediaRoom.hearing_id == hearing_id)
        .execution_options(populate_existing=True)
    )
    return None if row is None else Server.of(row)


async def choose_server(session: AsyncSession, *, exclude: int | None = None) -> Server | None:
    """The healthy server holding the fewest rooms (the oldest on a tie); None if none."""
    load = (
        select(func.count())
        .select_from(MediaRoom)
        .where(MediaRoom.server_id == MediaServer.id)
        .scalar_subquery()
    )
    query = select(MediaServer).where(MediaServer.healthy.is_(True))
    if exclude is not None:
        query = query.where(MediaServer.id != exclude)
    row = await session.scalar(query.order_by(load, MediaServer.id).limit(1))
    return None if row is None else Server.of(row)


async def do_pin(session: AsyncSession, hearing_id: int, server_id: int) -> Server:
    """Pin the hearing's room to ``server_id`` unless another process pinned it first;
    the server it is pinned to."""
    insert = dialect_insert(session)
    await session.execute(
        insert(MediaRoom)
        .values(hearing_id=hearing_id, server_id=server_id, pinned_at=utcnow())
        .on_conflict_do_nothing(index_elements=[MediaRoom.hearing_id])
    )
    pinned = await get_pin(session, hearing_id)
    if pinned is None:  # the insert above made it, or another's
        raise NotFound("No such hearing.")
    return pinned


async def do_repin(session: AsyncSession, hearing_id: int, from_id: int, to_id: int) -> bool:
    """Move the pin from ``from_id`` to ``to_id``; False when it no longer was on
    ``from_id`` (another process moved the room, or it closed)."""
    result = await session.execute(
        update(MediaRoom)
        .where(MediaRoom.hearing_id == hearing_id, MediaRoom.server_id == from_id)
        .values(server_id=to_id, pinned_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def do_unpin(session: AsyncSession, hearing_id: int) -> None:
    await session.execute(delete(MediaRoom).where(MediaRoom.hearing_id == hearing_id))


async def pinned_hearings(session: AsyncSession, server_id: int) -> list[int]:
    rows = await session.scalars(
        select(MediaRoom.hearing_id).where(MediaRoom.server_id == server_id)
    )
    return list(rows)


async def servers_down_with_rooms(session: AsyncSession) -> list[Server]:
    rows = await session.scalars(
        select(MediaServer)
        .where(
            MediaServer.healthy.is_(False),
            MediaServer.id.in_(select(MediaRoom.server_id)),
        )
        .order_by(MediaServer.id)
    )
    return [Server.of(row) for row in rows]


async def media_admitted_users(
    session: AsyncSession, hearing_id: int, phase: RoomPhase
) -> list[int]:
    """Who is in the room now and may have audio/video in ``phase`` (the board; admitted
    parties in the public phases) — the room's ``allowed`` list when it is made again
    elsewhere. Those the chair removed are taken out by the caller."""
    rows = await session.execute(
        select(Attendance.user_id, Attendance.role, Attendance.admitted).where(
            Attendance.hearing_id == hearing_id, Attendance.left_at.is_(None)
        )
    )
    users = set()
    for user_id, role, admitted in rows:
        if role in BOARD_ROLES or (admitted and phase in PUBLIC_PHASES):
            users.add(int(user_id))
    return sorted(users)
