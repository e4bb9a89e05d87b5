"""Hearings (sessions of a board), their agenda, panel and summonses (DESIGN.md §3)."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hearing_server.clock import utcnow
from hearing_server.db import Base, UTCDateTime, enum_values
from hearing_server.law.rules import SeatGroup


def _enum(cls: type[StrEnum], length: int = 24) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=enum_values)


class HearingStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    HELD = "held"
    FAILED_QUORUM = "failed_quorum"
    POSTPONED = "postponed"
    CANCELLED = "cancelled"
    MISSED = "missed"  # never opened: its cases went back to the queue


# A hearing that still takes (or is taking) place: it books its panel and parties.
ACTIVE = (HearingStatus.SCHEDULED, HearingStatus.IN_PROGRESS)


class RoomPhase(StrEnum):
    LOBBY = "lobby"
    HEARING = "hearing"
    DELIBERATION = "deliberation"
    VOTING = "voting"
    CLOSED = "closed"


class Hearing(Base):
    __tablename__ = "hearings"
    __table_args__ = (Index("ix_hearings_board_starts", "board_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[HearingStatus] = mapped_column(
        _enum(HearingStatus), default=HearingStatus.SCHEDULED
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    rules_version_id: Mapped[int] = mapped_column(ForeignKey("board_rules_versions.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The live room's state: persisted, so a restart loses nothing.
    phase: Mapped[RoomPhase] = mapped_column(_enum(RoomPhase), default=RoomPhase.LOBBY)
    room_seq: Mapped[int] = mapped_column(Integer, default=0)
    presenter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    current_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    # What the presenter shows: {"document_id", "page", "zoom"}.
    view_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    view_page: Mapped[int] = mapped_column(Integer, default=1)
    view_zoom: Mapped[int] = mapped_column(Integer, default=100)  # percent
    floor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rescheduled_from_id: Mapped[int | None] = mapped_column(ForeignKey("hearings.id"))

    agenda: Mapped[list[AgendaItem]] = relationship(
        back_populates="hearing",
        lazy="raise",
        order_by="AgendaItem.position",
        cascade="all, delete-orphan",
    )
    panel: Mapped[list[PanelSeat]] = relationship(
        back_populates="hearing",
        lazy="raise",
        order_by="PanelSeat.id",
        cascade="all, delete-orphan",
    )


class AgendaItem(Base):
    __tablename__ = "agenda_items"
    __table_args__ = (UniqueConstraint("hearing_id", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(
        ForeignKey("hearings.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    minutes: Mapped[int] = mapped_column(Integer)

    hearing: Mapped[Hearing] = relationship(back_populates="agenda", lazy="raise")


class PanelAnswer(StrEnum):
    PENDING = "pending"
    ATTENDING = "attending"
    NOT_ATTENDING = "not_attending"


class PanelSeat(Base):
    """A seat of the board filled for one hearing by a member."""

    __tablename__ = "panel_seats"
    __table_args__ = (
        UniqueConstraint("hearing_id", "seat_id"),
        UniqueConstraint("hearing_id", "member_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(
        ForeignKey("hearings.id", ondelete="CASCADE"), index=True
    )
    seat_id: Mapped[int] = mapped_column(ForeignKey("seats.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    group: Mapped[SeatGroup] = mapped_column(_enum(SeatGroup))
    is_chair: Mapped[bool] = mapped_column(Boolean, default=False)
    answer: Mapped[PanelAnswer] = mapped_column(_enum(PanelAnswer), default=PanelAnswer.PENDING)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    hearing: Mapped[Hearing] = relationship(back_populates="panel", lazy="raise")


class Summons(Base):
    """A summons to a party (or a member) for a hearing; sent through the outbox."""

    __tablename__ = "summonses"
    __table_args__ = (Index("ix_summonses_hearing_user", "hearing_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    party_id: Mapped[int | None] = mapped_column(ForeignKey("case_parties.id"))
    role: Mapped[str] = mapped_column(String(24))  # claimant, respondent, representative, member
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attended: Mapped[bool | None] = mapped_column(Boolean)  # recorded after the session


class Reminder(Base):
    """A due reminder, persisted so a restart neither loses nor repeats it."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("hearing_id", "user_id", "kind"),
        Index("ix_reminders_due", "sent_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(8))  # "24h", "1h"
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Holiday(Base):
    """A row of the office's own calendar: a day off (a local holiday, a confirmed public
    holiday, or the new date of a moved one, ``moved_from`` its date in the public
    calendar) or, with ``working``, a public holiday's old date, now a working day."""

    __tablename__ = "holidays"

    day: Mapped[date] = mapped_column(
        Date, primary_key=True
    )  # Gregorian date of the holiday in Tehran
    name_fa: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    working: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    moved_from: Mapped[date | None] = mapped_column(Date)


class WorkingHoursRow(Base):
    """The board's working hours as the administrator set them (one row, id 1); without
    it the settings' ``scheduling_work_*`` apply."""

    __tablename__ = "working_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    start: Mapped[time] = mapped_column(Time)
    end: Mapped[time] = mapped_column(Time)
    days: Mapped[str] = mapped_column(String(40))  # "sat,sun,mon,tue,wed,thu"
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
