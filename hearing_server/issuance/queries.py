"""Look-ups shared by the issuance services and pages: who may read a ruling, which
parties a user speaks for, the secretary's work lists, approvals and notifications."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import Role, User
from hearing_server.cases import access
from hearing_server.cases.models import Case, CaseParty, CaseStatus
from hearing_server.errors import Forbidden, NotFound
from hearing_server.issuance.models import (
    Approval,
    MissingSignature,
    Notification,
    Ruling,
    RulingState,
)


def is_staff(user: User) -> bool:
    return user.role in (Role.SECRETARY, Role.ADMIN)


def require_staff(user: User) -> None:
    if not is_staff(user):
        raise Forbidden("Only the board secretary may do this.")


async def lock_ruling(session: AsyncSession, ruling_id: int) -> Ruling:
    """The ruling, locked for update and re-read from the database."""
    ruling = await session.scalar(
        select(Ruling)
        .where(Ruling.id == ruling_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if ruling is None:
        raise NotFound("No such ruling.")
    return ruling


async def access_ruling(session: AsyncSession, actor: User, ruling_id: int) -> tuple[Ruling, Case]:
    """The ruling and its case if ``actor`` may read them; parties never see drafts."""
    ruling = await session.get(Ruling, ruling_id)
    if ruling is None:
        raise NotFound("No such ruling.")
    case, _standing = await access.access_case(session, actor, ruling.case_id, full=True)
    if ruling.state == RulingState.DRAFT and actor.role not in (
        Role.SECRETARY,
        Role.ADMIN,
        Role.MEMBER,
    ):
        raise NotFound("No such ruling.")
    return ruling, case


async def parties_of(session: AsyncSession, actor: User, case_id: int) -> list[CaseParty]:
    """The case parties ``actor`` is, or represents."""
    rows = await session.scalars(
        select(CaseParty).where(
            CaseParty.case_id == case_id,
            or_(CaseParty.user_id == actor.id, CaseParty.representative_user_id == actor.id),
        )
    )
    return list(rows)


async def list_rulings(session: AsyncSession, actor: User) -> list[tuple[Ruling, Case]]:
    """Rulings ``actor`` may read, newest first; parties see only issued ones."""
    query = (
        select(Ruling, Case)
        .join(Case, Case.id == Ruling.case_id)
        .where(access.readable_clause(actor))
        .order_by(Ruling.created_at.desc(), Ruling.id.desc())
        .limit(200)
    )
    if actor.role in (Role.PARTY, Role.CLERK):
        query = query.where(Ruling.state != RulingState.DRAFT)
    return [(r, c) for r, c in (await session.execute(query)).all()]


async def list_decided_cases(session: AsyncSession, actor: User) -> list[Case]:
    """Cases waiting for a ruling (decided, no draft yet) — the secretary's work list."""
    require_staff(actor)
    has_draft = select(Ruling.id).where(
        Ruling.case_id == Case.id, Ruling.state == RulingState.DRAFT
    )
    rows = await session.scalars(
        select(Case)
        .where(
            Case.status == CaseStatus.DECIDED, ~has_draft.exists(), access.readable_clause(actor)
        )
        .order_by(Case.id)
        .limit(200)
    )
    return list(rows)


async def approvals_of(session: AsyncSession, ruling_id: int) -> list[Approval]:
    return list(
        await session.scalars(
            select(Approval).where(Approval.ruling_id == ruling_id).order_by(Approval.id)
        )
    )


async def missing_signatures_of(session: AsyncSession, ruling_id: int) -> list[MissingSignature]:
    """The secretary's records of why members who voted did not sign ``ruling_id``."""
    return list(
        await session.scalars(
            select(MissingSignature)
            .where(MissingSignature.ruling_id == ruling_id)
            .order_by(MissingSignature.id)
        )
    )


async def notification_of(
    session: AsyncSession, ruling: Ruling, party: CaseParty
) -> Notification | None:
    result: Notification | None = await session.scalar(
        select(Notification).where(
            Notification.ruling_id == ruling.id, Notification.party_id == party.id
        )
    )
    return result
