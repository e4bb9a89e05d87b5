"""What one running app holds: settings, the database and the Socket.IO server."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hearing_server.config import Settings
from hearing_server.db import Database, sqlite_file
from hearing_server.group_commit import GroupCommit
from hearing_server.rooms.registry import RoomWiring
from hearing_server.shared import SharedState
from hearing_server.web.ratelimit import PublicLimits

if TYPE_CHECKING:
    import socketio

# How many of the room's write transactions (joins, leaves, events) may hold a database
# connection at once. On SQLite they run one at a time anyway (one writer), so one at a
# time here: the others wait in the event loop, holding nothing. With more (4), the others
# waited inside SQLite's busy handler, which sleeps 25 to 100 ms between tries whatever the
# lock's holder does: at 200 rooms a page turn's p95 was 46 to 950 ms from run to run
# (bench/room_scale.py); with 15 (the pool), a burst of joins or leaves took every pooled
# connection and the heartbeat failed with "QueuePool limit reached".
# PostgreSQL locks rows (rooms write in parallel); its pool has 30.
ROOM_WRITERS_SQLITE = 1
ROOM_WRITERS_POSTGRES = 16


@dataclass
class Runtime:
    settings: Settings
    db: Database
    sio: socketio.AsyncServer
    # State every process of the installation shares (Redis, or the database).
    shared: SharedState
    # This server process among the installation's (hearing_server.instances).
    instance_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    background: list[Any] = field(default_factory=list)
    # This app's menu (web.nav) and the endpoints it exempts from the CSRF check
    # (web.context): per app, so two apps in one process never share them.
    nav: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    csrf_exempt: set[str] = field(default_factory=set)
    # The hearing rooms' actions, their delivery to this app's sockets and the hooks of
    # parts above rooms (voting), all filled in create_app.
    rooms: RoomWiring = field(default_factory=RoomWiring)
    # Rate limits of the public endpoints (set from the settings in create_app).
    limits: PublicLimits = field(default_factory=lambda: PublicLimits.for_settings(None))
    # The origin of the media server browsers use ("http://host:port"), when audio/video
    # is configured: the room's pages may connect to it (CSP connect-src).
    media_origin: str = ""
    # The room's write transactions under way at once (ROOM_WRITERS_*).
    room_writers: asyncio.Semaphore = field(init=False)
    # The page turn's group commit (hearing_server.group_commit), on a SQLite file only.
    group_commit: GroupCommit | None = field(init=False)

    def __post_init__(self) -> None:
        self.room_writers = asyncio.Semaphore(
            ROOM_WRITERS_SQLITE if self.db.is_sqlite else ROOM_WRITERS_POSTGRES
        )
        path = sqlite_file(self.db.url)
        self.group_commit = (
            GroupCommit(path, synchronous=self.db.synchronous, writers=self.room_writers)
            if path is not None
            else None
        )
