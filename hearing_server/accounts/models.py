from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hearing_server.clock import utcnow
from hearing_server.db import Base, UTCDateTime, enum_values


class Role(StrEnum):
    ADMIN = "admin"
    SECRETARY = "secretary"
    MEMBER = "member"
    CLERK = "clerk"
    PARTY = "party"


class PartyKind(StrEnum):
    """Who a party account belongs to, as the person said at sign-up."""

    WORKER = "worker"
    EMPLOYER = "employer"  # an employer who is a person
    COMPANY = "company"  # an employer that is a company, signed up by its representative


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    national_id: Mapped[str | None] = mapped_column(String(10), unique=True)
    # A company's account: its national ID (شناسه ملی, 11 digits), and the person who
    # signed it up; full_name is then the company's name.
    legal_id: Mapped[str | None] = mapped_column(String(11), unique=True)
    representative_name: Mapped[str | None] = mapped_column(String(200))
    party_kind: Mapped[PartyKind | None] = mapped_column(
        Enum(
            PartyKind, native_enum=False, length=16, values_callable=enum_values, name="party_kind"
        )
    )
    mobile: Mapped[str | None] = mapped_column(String(11))
    email: Mapped[str | None] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(2), default="fa")
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=enum_values)
    )
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None while an account made for someone else (a worker registered at the counter)
    # waits for its owner to activate it (cases.activation): no password sign-in until then.
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    # The labour office a member of staff works for (secretary, member, clerk's none,
    # an office admin's own); None for parties, clerks and the national admin.
    office_id: Mapped[int | None] = mapped_column(ForeignKey("labour_offices.id"), index=True)
    # The counter office a clerk works at.
    counter_office_id: Mapped[int | None] = mapped_column(
        ForeignKey("counter_offices.id"), index=True
    )

    totp: Mapped[TotpCredential | None] = relationship(back_populates="user", lazy="raise")

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username} {self.role}>"

    @property
    def is_national_admin(self) -> bool:
        """An administrator with no office: manages the offices, sees every office."""
        return self.role == Role.ADMIN and self.office_id is None


class TotpCredential(Base):
    """One authenticator per user. The secret is encrypted with MultiFernet."""

    __tablename__ = "totp_credentials"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[str] = mapped_column(Text)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The newest time-step accepted: a code is accepted only for a later step.
    last_used_step: Mapped[int | None] = mapped_column(Integer)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="totp", lazy="raise")


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SecondFactor(StrEnum):
    """What a sign-in in stage PASSWORD waits for."""

    TOTP = "totp"  # the authenticator's code, or a recovery code
    SMS = "sms"  # a code sent to the account's mobile (parties without an authenticator)


class SessionStage(StrEnum):
    PASSWORD = "password"  # noqa: S105  # a stage name, not a secret: second factor pending
    ENROL = "enrol"  # password checked, no authenticator yet: may only enrol
    FULL = "full"


class LoginSession(Base):
    """A server-side session. The cookie carries a random token; we keep its SHA-256."""

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_user_device", "user_id", "device_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    stage: Mapped[SessionStage] = mapped_column(
        Enum(SessionStage, native_enum=False, length=16, values_callable=enum_values)
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    # The keyed hash of the browser's device cookie (accounts.throttle): a device that
    # completed a sign-in to this account is its owner's way past an account-wide lock.
    device_hash: Mapped[str | None] = mapped_column(String(64))
    # Stage PASSWORD: the factor that completes it (None on sessions older than the column:
    # the authenticator).
    second_factor: Mapped[SecondFactor | None] = mapped_column(
        Enum(SecondFactor, native_enum=False, length=8, values_callable=enum_values)
    )

    user: Mapped[User] = relationship(lazy="joined")


class ThrottleHit(Base):
    """One counted attempt (a failed login, a wrong tracking lookup) under a key."""

    __tablename__ = "throttle_hits"
    __table_args__ = (Index("ix_throttle_hits_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PhoneCode(Base):
    """One code sent to a mobile number for one purpose."""

    __tablename__ = "phone_codes"
    __table_args__ = (Index("ix_phone_codes_purpose_mobile", "purpose", "mobile"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    # Where the code went: a mobile number, or an e-mail address (codes sent by e-mail).
    mobile: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    wrong_count: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the code was accepted, retired by a newer one, or guessed too often.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ActivationCode(Base):
    """The code that lets the owner of an account made for them (a worker registered at the
    counter) take it over: printed on the receipt and sent by SMS. Only a keyed hash is
    kept; a code is used once, and a newer one retires it."""

    __tablename__ = "activation_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the account was activated with it, or a newer code replaced it.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
