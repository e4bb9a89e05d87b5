"""Cached statistics: what the public pages read (never the raw tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hearing_server.db import Base, UTCDateTime


class StatsSnapshot(Base):
    """The statistics of one scope (``all`` or ``office:<id>``) as computed at
    ``computed_at``, with the audit chain's head then (``checkpoint_seq``/``_hash``/``_at``;
    ``sealed`` when a sealed checkpoint names that head). Appended, never updated: the
    newest row of a scope is the published one."""

    __tablename__ = "stats_snapshots"
    __table_args__ = (Index("ix_stats_snapshots_scope_id", "scope", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(32))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checkpoint_seq: Mapped[int] = mapped_column(Integer)
    checkpoint_hash: Mapped[str] = mapped_column(String(64))
    checkpoint_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sealed: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
