from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Enum,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hearing_server.clock import utcnow
from hearing_server.db import Base, UTCDateTime, enum_values
from hearing_server.law.rules import BoardRules, BoardType, SeatGroup


class Province(Base):
    """A province (استان): the labour offices of an installation are grouped by it."""

    __tablename__ = "provinces"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name_fa: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))

    def name(self, locale: str) -> str:
        return self.name_fa if locale == "fa" else self.name_en


class LabourOffice(Base):
    """A labour office (اداره کار): the tenant. Its boards, its staff and its cases are
    seen only by its own people (and the national administrator)."""

    __tablename__ = "labour_offices"

    id: Mapped[int] = mapped_column(primary_key=True)
    province_id: Mapped[int] = mapped_column(ForeignKey("provinces.id"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name_fa: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    # Public statistics may name each board member's attendance rate (off: per board only).
    stats_name_members: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Whether the anonymised public copies of this office's rulings name legal entities
    # (companies) that are parties; natural persons are never named. Default: not.
    publish_entity_names: Mapped[bool] = mapped_column(default=False, server_default=false())

    boards: Mapped[list[Board]] = relationship(back_populates="office", lazy="raise")

    def name(self, locale: str) -> str:
        return self.name_fa if locale == "fa" else self.name_en


counter_office_serves = Table(
    "counter_office_serves",
    Base.metadata,
    Column(
        "counter_office_id",
        ForeignKey("counter_offices.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("office_id", ForeignKey("labour_offices.id", ondelete="CASCADE"), primary_key=True),
)
"""Which labour offices a counter office files complaints for."""


class CounterOffice(Base):
    """A counter office (دفتر پیشخوان): its clerks file complaints on people's behalf, to
    the boards of the labour offices it serves only."""

    __tablename__ = "counter_offices"

    id: Mapped[int] = mapped_column(primary_key=True)
    province_id: Mapped[int] = mapped_column(ForeignKey("provinces.id"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name_fa: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))

    def name(self, locale: str) -> str:
        return self.name_fa if locale == "fa" else self.name_en


class Board(Base):
    __tablename__ = "boards"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("labour_offices.id"), index=True)
    type: Mapped[BoardType] = mapped_column(
        Enum(BoardType, native_enum=False, length=16, values_callable=enum_values)
    )
    name_fa: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))

    office: Mapped[LabourOffice] = relationship(back_populates="boards", lazy="raise")
    seats: Mapped[list[Seat]] = relationship(
        back_populates="board", lazy="raise", order_by="Seat.id"
    )

    def name(self, locale: str) -> str:
        return self.name_fa if locale == "fa" else self.name_en


class BoardRulesVersion(Base):
    """The statutory rules of a board type, versioned: a vote is judged by the version
    in force when it opened, even if an admin edits the rules later."""

    __tablename__ = "board_rules_versions"
    __table_args__ = (UniqueConstraint("board_type", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    board_type: Mapped[BoardType] = mapped_column(
        Enum(BoardType, native_enum=False, length=16, values_callable=enum_values)
    )
    version: Mapped[int] = mapped_column(Integer)
    rules_json: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def rules(self) -> BoardRules:
        return BoardRules.from_dict(self.rules_json)


class Seat(Base):
    __tablename__ = "seats"
    __table_args__ = (UniqueConstraint("board_id", "group", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"), index=True)
    group: Mapped[SeatGroup] = mapped_column(
        Enum(SeatGroup, native_enum=False, length=16, values_callable=enum_values)
    )
    position: Mapped[int] = mapped_column(Integer)
    is_chair: Mapped[bool] = mapped_column(Boolean, default=False)

    board: Mapped[Board] = relationship(back_populates="seats", lazy="raise")
    terms: Mapped[list[SeatTerm]] = relationship(
        back_populates="seat", lazy="raise", order_by="SeatTerm.starts_on"
    )


class SeatTerm(Base):
    """A member holding a seat from ``starts_on`` to ``ends_on`` (open-ended when None)."""

    __tablename__ = "seat_terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    seat_id: Mapped[int] = mapped_column(ForeignKey("seats.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)

    seat: Mapped[Seat] = relationship(back_populates="terms", lazy="raise")

    def covers(self, day: date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)
