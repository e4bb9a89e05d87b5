"""The media servers Heyat spreads hearings over, and which one holds each hearing's room."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from hearing_server.clock import utcnow
from hearing_server.db import Base, UTCDateTime


class MediaServer(Base):
    """A Janus server. Its API secret is never stored: ``secret_ref`` names the environment
    variable that holds it (empty: the installation's ``HEYAT_MEDIA_API_SECRET``). Every
    server of an installation shares the token secret and the VideoRoom admin key
    (``heyat media render-config`` writes both), so one room token works on any of them."""

    __tablename__ = "media_servers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # The HTTP API Heyat controls it by (with the API secret).
    url: Mapped[str] = mapped_column(String(500))
    # The URL browsers use (a proxy's); empty: ``url``.
    public_url: Mapped[str] = mapped_column(String(500), default="")
    secret_ref: Mapped[str] = mapped_column(String(100), default="")
    healthy: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Health checks failed in a row (reset by one that answers).
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_checked: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MediaRoom(Base):
    """A hearing's video room and the server it is pinned to (from the room's opening to
    its close, or until that server dies and the room moves)."""

    __tablename__ = "media_rooms"

    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), primary_key=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("media_servers.id"), index=True)
    pinned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
