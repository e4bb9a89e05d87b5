"""Lists and search of cases: the pages of cases a user may read (newest filing first),
the secretary's inbox of filings, and the words party and workshop names are found by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from hearing_server.accounts.models import Role, User
from hearing_server.boards.models import Board
from hearing_server.cases.access import boards_clause, is_staff, readable_clause
from hearing_server.cases.models import Case, CaseParty, CaseSearchTerm, CaseStatus, PartyRole
from hearing_server.cases.numbers import (
    TRACKING_ALPHABET,
    TRACKING_LENGTH,
    normalize_tracking_code,
)
from hearing_server.errors import Forbidden
from hearing_server.text import normalize_digits, normalize_persian
from rulings.persian import TEHRAN


@dataclass
class CaseFilter:
    status: CaseStatus | None = None
    board_id: int | None = None
    filed_from: date | None = None
    filed_to: date | None = None
    q: str | None = None
    page: int = 1
    per_page: int = 25
    include_drafts: bool = False


@dataclass(frozen=True)
class CaseRow:
    id: int
    number: str | None
    status: CaseStatus
    board_id: int
    filed_at: datetime | None
    created_at: datetime
    claimant: str | None
    respondent: str | None


@dataclass(frozen=True)
class CasePage:
    rows: list[CaseRow]
    page: int
    per_page: int
    has_next: bool


def _tehran_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=TEHRAN).astimezone(UTC)


def _prefix(column: InstrumentedAttribute[Any], value: str, dialect: str) -> ColumnElement[bool]:
    """``column`` starts with ``value``, as an index range on SQLite (whose LIKE ignores case
    and so skips the index) and as LIKE on PostgreSQL (whose collation may not sort bytes)."""
    if dialect == "sqlite":
        return and_(column >= value, column < value + "\uffff")
    return column.startswith(value, autoescape=True)


_NUMBER = re.compile(r"^\d{4}-\d{0,6}$")


def _search_condition(q: str, dialect: str) -> ColumnElement[bool] | None:
    text = normalize_persian(normalize_digits(q)).strip()
    if not text:
        return None
    compact = text.replace(" ", "")
    if _NUMBER.match(compact):
        if len(compact) == 11:
            return Case.number == compact
        return _prefix(Case.number, compact, dialect)
    if compact.isascii() and compact.isdigit() and len(compact) in (10, 11):
        return Case.id.in_(select(CaseParty.case_id).where(CaseParty.national_id == compact))
    code = normalize_tracking_code(compact)
    if (
        len(code) == TRACKING_LENGTH
        and code.isascii()
        and all(c in TRACKING_ALPHABET for c in code)
    ):
        return Case.tracking_code == code
    words = sorted(name_terms(text))
    if not words:
        return Case.id.in_(select(CaseParty.case_id).where(CaseParty.full_name == text))
    conditions = [
        Case.id.in_(select(CaseSearchTerm.case_id).where(_prefix(CaseSearchTerm.term, w, dialect)))
        for w in words
    ]
    return and_(*conditions)


def case_query(actor: User, filters: CaseFilter, dialect: str) -> Any:  # a Select of row columns
    query = select(
        Case.id,
        Case.number,
        Case.status,
        Case.board_id,
        Case.filed_at,
        Case.created_at,
    ).where(readable_clause(actor))
    if filters.status is not None:
        query = query.where(Case.status == filters.status)
    elif not filters.include_drafts:
        query = query.where(Case.status != CaseStatus.DRAFT)
    if filters.board_id is not None:
        query = query.where(Case.board_id == filters.board_id)
    if filters.filed_from is not None:
        query = query.where(Case.filed_at >= _tehran_midnight(filters.filed_from))
    if filters.filed_to is not None:
        query = query.where(Case.filed_at < _tehran_midnight(filters.filed_to + timedelta(days=1)))
    if filters.q:
        condition = _search_condition(filters.q, dialect)
        if condition is not None:
            query = query.where(condition)
    return query


async def search_cases(session: AsyncSession, *, actor: User, filters: CaseFilter) -> CasePage:
    """One page of the cases ``actor`` may read, newest filing first; two queries in all
    (the page, then the parties' names of that page), whatever the page size."""
    page = max(1, filters.page)
    per_page = min(max(1, filters.per_page), 100)
    query = case_query(actor, filters, session.get_bind().dialect.name).order_by(
        Case.filed_at.desc(), Case.id.desc()
    )
    return await _page(session, query, page, per_page)


async def inbox(session: AsyncSession, *, actor: User, page: int = 1) -> CasePage:
    """New and resubmitted filings waiting for the secretary, oldest first."""
    if not is_staff(actor):
        raise Forbidden("Only the board secretary has an inbox of filings.")
    query = case_query(
        actor, CaseFilter(status=CaseStatus.FILED), session.get_bind().dialect.name
    ).order_by(Case.filed_at, Case.id)
    return await _page(session, query, max(1, page), 50)


async def _page(session: AsyncSession, query: Any, page: int, per_page: int) -> CasePage:
    """Page ``page`` of ``query`` (an ordered :func:`case_query`), each case with the names
    of its first claimant and respondent."""
    found = (await session.execute(query.limit(per_page + 1).offset((page - 1) * per_page))).all()
    has_next = len(found) > per_page
    found = found[:per_page]
    names: dict[tuple[int, PartyRole], str] = {}
    if found:
        parties = await session.execute(
            select(CaseParty.case_id, CaseParty.role, CaseParty.full_name)
            .where(CaseParty.case_id.in_([r.id for r in found]))
            .order_by(CaseParty.id)
        )
        for case_id, role, name in parties.all():
            names.setdefault((case_id, role), name)
    rows = [
        CaseRow(
            id=r.id,
            number=r.number,
            status=r.status,
            board_id=r.board_id,
            filed_at=r.filed_at,
            created_at=r.created_at,
            claimant=names.get((r.id, PartyRole.CLAIMANT)),
            respondent=names.get((r.id, PartyRole.RESPONDENT)),
        )
        for r in found
    ]
    return CasePage(rows=rows, page=page, per_page=per_page, has_next=has_next)


async def boards_by_id(session: AsyncSession, viewer: User | None = None) -> dict[int, Board]:
    """Boards by id, for labels and the list's board filter: a member of staff's (or a
    member's) are their office's; a party's or a clerk's, every office's (their cases
    may be at any board)."""
    query = select(Board).order_by(Board.id)
    if viewer is not None and viewer.role in (Role.SECRETARY, Role.ADMIN, Role.MEMBER):
        query = query.where(boards_clause(viewer))
    return {b.id: b for b in await session.scalars(query)}


# ---------------------------------------------------------------- search terms


def name_terms(*names: str | None) -> set[str]:
    """The words of ``names`` a search matches by prefix: lower case, two letters or more."""
    terms: set[str] = set()
    for name in names:
        for word in normalize_persian(normalize_digits(name or "")).lower().split():
            word = word.strip("()[]«».,،:;\"'-")
            if len(word) >= 2:
                terms.add(word[:64])
    return terms


async def do_index_search_terms(
    session: AsyncSession, case_id: int, names: list[str | None]
) -> None:
    """Replace the words the secretary's search finds ``case_id`` by (party and workshop names)."""
    await session.execute(delete(CaseSearchTerm).where(CaseSearchTerm.case_id == case_id))
    session.add_all([CaseSearchTerm(case_id=case_id, term=t) for t in sorted(name_terms(*names))])
    await session.flush()


async def do_insert_search_terms(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Bulk insert of search terms (demo data and the benchmark)."""
    if rows:
        await session.execute(insert(CaseSearchTerm), rows)
