"""Cases from petition to final ruling (DESIGN.md §4)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hearing_server.clock import utcnow
from hearing_server.db import Base, UTCDateTime, enum_values


class CaseStatus(StrEnum):
    DRAFT = "draft"
    FILED = "filed"
    RETURNED = "returned"
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    IN_HEARING = "in_hearing"
    DECIDED = "decided"
    RULING_ISSUED = "ruling_issued"
    APPEALED = "appealed"
    FINAL = "final"
    WITHDRAWN = "withdrawn"


class PartyRole(StrEnum):
    CLAIMANT = "claimant"  # خواهان, usually the worker
    RESPONDENT = "respondent"  # خوانده, usually the employer


class ClaimKind(StrEnum):
    UNPAID_WAGES = "unpaid_wages"
    OVERTIME = "overtime"
    SEVERANCE = "severance"
    ANNUAL_LEAVE = "annual_leave"
    YEAR_END_BONUS = "year_end_bonus"
    REINSTATEMENT = "reinstatement"
    INSURANCE = "insurance"
    OTHER = "other"


class DocumentVisibility(StrEnum):
    PARTIES = "parties"  # every party of the case and the board
    BOARD = "board"  # the board only


class FiledVia(StrEnum):
    SELF = "self"
    CLERK = "clerk"
    SECRETARY = "secretary"
    APPEAL = "appeal"


def _enum(cls: type[StrEnum], length: int = 24) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=enum_values)


class CaseNumberCounter(Base):
    """Gap-free case numbers per labour office and Jalali year, taken under a row lock."""

    __tablename__ = "case_number_counters"

    office_id: Mapped[int] = mapped_column(ForeignKey("labour_offices.id"), primary_key=True)
    jalali_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_filed", "status", "filed_at"),
        Index("ix_cases_board_status", "board_id", "status"),
        Index("ix_cases_filed_at", "filed_at"),
        Index("ix_cases_board_filed", "board_id", "filed_at"),
        # Each labour office numbers its own cases (1405-000123 in every office).
        UniqueConstraint("office_id", "number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("labour_offices.id"), index=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"))
    number: Mapped[str | None] = mapped_column(String(16))  # e.g. 1405-000123, given on filing
    tracking_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus), default=CaseStatus.DRAFT)
    filed_via: Mapped[FiledVia] = mapped_column(_enum(FiledVia), default=FiledVia.SELF)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The counter office it was filed through (its clerks see it), when a clerk filed it.
    counter_office_id: Mapped[int | None] = mapped_column(
        ForeignKey("counter_offices.id"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Workshop and employment facts from the petition.
    workshop_name: Mapped[str | None] = mapped_column(String(200))
    workshop_address: Mapped[str | None] = mapped_column(Text)
    employment_start: Mapped[date | None] = mapped_column(Date)
    employment_end: Mapped[date | None] = mapped_column(Date)
    last_monthly_wage: Mapped[int | None] = mapped_column(BigInteger)  # rials
    description: Mapped[str | None] = mapped_column(Text)
    return_reason: Mapped[str | None] = mapped_column(Text)
    # An appeal case points at the case whose ruling it objects to.
    appeal_of_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))

    parties: Mapped[list[CaseParty]] = relationship(
        back_populates="case", lazy="raise", order_by="CaseParty.id", cascade="all, delete-orphan"
    )
    claims: Mapped[list[Claim]] = relationship(
        back_populates="case", lazy="raise", order_by="Claim.position", cascade="all, delete-orphan"
    )
    documents: Mapped[list[Document]] = relationship(
        back_populates="case", lazy="raise", order_by="Document.id"
    )


class CaseParty(Base):
    """A party: a registered user or a named person (an employer with no account yet)."""

    __tablename__ = "case_parties"
    __table_args__ = (Index("ix_case_parties_national_id", "national_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    role: Mapped[PartyRole] = mapped_column(_enum(PartyRole))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    national_id: Mapped[str | None] = mapped_column(
        String(11)
    )  # person: 10 digits; company: 11-digit ID
    registration_number: Mapped[str | None] = mapped_column(String(32))
    mobile: Mapped[str | None] = mapped_column(String(11))
    address: Mapped[str | None] = mapped_column(Text)
    representative_name: Mapped[str | None] = mapped_column(String(200))
    representative_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    case: Mapped[Case] = relationship(back_populates="parties", lazy="raise")


class Claim(Base):
    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[ClaimKind] = mapped_column(_enum(ClaimKind))
    title: Mapped[str | None] = mapped_column(String(200))  # for "other"
    amount: Mapped[int | None] = mapped_column(BigInteger)  # rials; None for reinstatement
    period_from: Mapped[date | None] = mapped_column(Date)
    period_to: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="claims", lazy="raise")


class StoredFile(Base):
    """Content-addressed bytes under the file store: stored once, never overwritten."""

    __tablename__ = "stored_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Document(Base):
    """Never deleted: withdrawn with a reason, and the board still sees it, marked."""

    __tablename__ = "documents"
    # The same content is one document of a case (two uploads at once too); once
    # withdrawn, it may be filed again.
    __table_args__ = (
        Index(
            "uq_documents_case_content",
            "case_id",
            "sha256",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_files.sha256"))
    original_sha256: Mapped[str | None] = mapped_column(
        String(64)
    )  # the image before PDF conversion
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(
        String(32)
    )  # evidence, contract, payslip, brief (لایحه), ruling, ...
    visibility: Mapped[DocumentVisibility] = mapped_column(_enum(DocumentVisibility))
    original_filename: Mapped[str | None] = mapped_column(String(255))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    case: Mapped[Case] = relationship(back_populates="documents", lazy="raise")
    file: Mapped[StoredFile] = relationship(lazy="raise")


class CaseTransition(Base):
    __tablename__ = "case_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseAccess(Base):
    """Who may read a case besides its parties and its board: the clerk who filed it."""

    __tablename__ = "case_access"
    __table_args__ = (UniqueConstraint("case_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CaseSearchTerm(Base):
    """One normalised word of a party's name, so the secretary's search by name is a
    prefix range on an index rather than a scan of every party (100,000 cases)."""

    __tablename__ = "case_search_terms"
    __table_args__ = (Index("ix_case_search_terms_term", "term", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    term: Mapped[str] = mapped_column(String(64))
