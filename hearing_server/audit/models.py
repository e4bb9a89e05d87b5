from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hearing_server.db import Base, UTCDateTime


class AuditEvent(Base):
    """An append-only, hash-chained record. ``hash`` covers ``prev_hash`` and this row's
    canonical content, so changing, inserting or deleting any row breaks the chain."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditCheckpoint(Base):
    """The chain's head at a moment, sealed: ``seal`` is a detached CMS signature (with an
    RFC 3161 timestamp when a TSA is configured) over :func:`checkpoint_message`. Deleting
    or rewriting rows up to ``seq`` is caught by comparing the row at ``seq`` with ``hash``."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    seal: Mapped[bytes] = mapped_column(LargeBinary)
    timestamped: Mapped[bool] = mapped_column(Boolean, default=False)
