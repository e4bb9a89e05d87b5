"""Motions and named ballots (DESIGN.md §6)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hearing_server.clock import utcnow
from hearing_server.db import Base, UTCDateTime, enum_values


class MotionState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class MotionKind(StrEnum):
    ACCEPT = "accept"  # accept the claim as asked
    REJECT = "reject"
    PARTLY_ACCEPT = "partly_accept"  # accept with the amount given
    FREE_TEXT = "free_text"


class Motion(Base):
    __tablename__ = "motions"

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    kind: Mapped[MotionKind] = mapped_column(
        Enum(MotionKind, native_enum=False, length=16, values_callable=enum_values)
    )
    text: Mapped[str] = mapped_column(Text)
    amount: Mapped[int | None] = mapped_column(BigInteger)  # rials, for partly_accept / accept
    reasoning: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    rules_version_id: Mapped[int] = mapped_column(ForeignKey("board_rules_versions.id"))
    state: Mapped[MotionState] = mapped_column(
        Enum(MotionState, native_enum=False, length=16, values_callable=enum_values),
        default=MotionState.OPEN,
    )
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Who could vote when it opened: [{"member_id", "group"}]; quorum is judged on these.
    eligible: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(
        String(16)
    )  # passed, failed, no_majority, no_quorum
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the Tally, as data
    chain_head_at_close: Mapped[str | None] = mapped_column(String(64))


class Ballot(Base):
    """Named and final: one per member per motion, enforced by the database."""

    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("motion_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    motion_id: Mapped[int] = mapped_column(ForeignKey("motions.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    choice: Mapped[str] = mapped_column(String(16))  # for, against, abstain
    opinion: Mapped[str | None] = mapped_column(Text)  # dissent or concurrence
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    otp_step: Mapped[int] = mapped_column(Integer)
    audit_seq: Mapped[int | None] = mapped_column(Integer)
    receipt: Mapped[str] = mapped_column(String(64), unique=True)


class Recusal(Base):
    __tablename__ = "recusals"
    __table_args__ = (UniqueConstraint("hearing_id", "case_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
