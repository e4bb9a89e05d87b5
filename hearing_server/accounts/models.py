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


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    national_id: Mapped[str | None] = mapped_column(String(10), unique=True)
    mobile: Mapped[str | None] = mapped_column(String(11))
    email: Mapped[str | None] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(2), default="fa")
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=enum_values)
    )
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
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

    user: Mapped[User] = relationship(lazy="joined")


class ThrottleHit(Base):
    """One counted attempt (a failed login, a wrong tracking lookup) under a key."""

    __tablename__ = "throttle_hits"
    __table_args__ = (Index("ix_throttle_hits_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
