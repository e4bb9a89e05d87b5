"""The live room's persisted state and replay log (DESIGN.md §5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from hearing_server.clock import utcnow
from hearing_server.db import Base, UTCDateTime


class RoomEvent(Base):
    """Every event a room sends, numbered per hearing: the replay log for reconnects.
    ``audience`` limits who receives it: "all", "board" (members/secretary) or "user:<id>"."""

    __tablename__ = "room_events"
    __table_args__ = (UniqueConstraint("hearing_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    op: Mapped[str] = mapped_column(String(32))
    audience: Mapped[str] = mapped_column(String(32), default="all")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attendance(Base):
    __tablename__ = "attendances"
    __table_args__ = (Index("ix_attendances_hearing_user", "hearing_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(
        String(24)
    )  # member, secretary, claimant, respondent, representative
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sid: Mapped[str | None] = mapped_column(String(64))
    admitted: Mapped[bool] = mapped_column(
        default=False
    )  # parties wait in the lobby until admitted
    # The server instance holding the socket (hearing_server.instances): when it dies, its
    # open rows are closed so that quorum counts only people really present.
    instance_id: Mapped[str | None] = mapped_column(String(36), index=True)


class Highlight(Base):
    __tablename__ = "highlights"

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    page: Mapped[int] = mapped_column(Integer)
    rect: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"x","y","w","h"} in page fractions
    note: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "all" when made while the parties may be in the room, "board" in deliberation and
    # voting: a party called back never sees the board's highlights and their notes.
    audience: Mapped[str] = mapped_column(String(16), default="all", server_default="all")


class PrivateNote(Base):
    __tablename__ = "private_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    page: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PageView(Base):
    """The reading log: who looked at which page of which document, for how long."""

    __tablename__ = "page_views"
    __table_args__ = (
        Index("ix_page_views_user_doc", "user_id", "document_id"),
        # One row per person and page of a hearing: readings add up (an upsert).
        UniqueConstraint("hearing_id", "user_id", "document_id", "page"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int | None] = mapped_column(ForeignKey("hearings.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    page: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Statement(Base):
    """Chat messages and statements made in the room. The minutes (which the parties read)
    hold the statements of the hearing of the parties: ``kind`` "statement", or said with
    the floor (``with_floor``); never ordinary chat, never the board's own talk
    (``audience`` "board", ``phase`` deliberation or voting)."""

    __tablename__ = "statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))  # chat, statement
    audience: Mapped[str] = mapped_column(String(16), default="all")  # all, board (deliberation)
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    phase: Mapped[str | None] = mapped_column(String(16))  # the room's phase when said
    with_floor: Mapped[bool] = mapped_column(default=False, server_default=false())


class RaisedHand(Base):
    """A hand raised in the room, kept until lowered or given the floor (survives restarts)."""

    __tablename__ = "raised_hands"
    __table_args__ = (UniqueConstraint("hearing_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
