"""Reading the anonymised public rulings: search and the page of one copy. Anyone may
ask, signed in or not; only copies whose ruling is still final are found.

Search filters by office, board, a Jalali date range (on the day of issue), claim kind
and outcome, and matches every word of the text query inside the redacted text, folded
the same way on both sides (:func:`~hearing_server.issuance.publication.search_fold`:
digits, ي/ك, zero-width non-joiners, case). A province filters by the offices in it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import literal_column, select, table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hearing_server.boards.models import Board, LabourOffice, Province
from hearing_server.cases.models import ClaimKind
from hearing_server.errors import NotFound
from hearing_server.issuance.codes import normalize_code
from hearing_server.issuance.models import PublicRuling, Ruling, RulingState
from hearing_server.issuance.publication import search_fold
from hearing_server.issuance.search_index import FTS_TABLE, fts_match

OUTCOMES = ("accepted", "partly_accepted", "rejected")
CLAIM_KINDS = tuple(k.value for k in ClaimKind)
MAX_WORDS = 8
# A text query first reads the newest rows the other filters allow, this many at most, and
# matches the words there: enough when a word is common (a trigram index then returns a
# large part of the table, in no useful order); otherwise the index answers.
RECENT_WINDOW = 1000


@dataclass
class PublicFilter:
    province_id: int | None = None
    office_id: int | None = None
    board_id: int | None = None
    date_from: date | None = None  # Gregorian days (the forms take Jalali dates)
    date_to: date | None = None
    claim_kind: str | None = None
    outcome: str | None = None
    q: str | None = None
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True)
class PublicPage:
    rows: list[PublicRuling]
    page: int
    per_page: int
    has_next: bool


def query_words(q: str | None) -> list[str]:
    """The folded words of a query, longest first, at most :data:`MAX_WORDS`."""
    words = {w.strip("()[]«».,،:;\"'") for w in search_fold(q or "").split()}
    return sorted((w for w in words if w), key=len, reverse=True)[:MAX_WORDS]


def public_query(filters: PublicFilter, dialect: str = "") -> Any:  # a Select of PublicRuling
    """Final rulings' copies matching the filter. On SQLite (``dialect``), the words narrow
    the rows through the trigram index first (:mod:`~hearing_server.issuance.search_index`);
    the ``LIKE`` of each word keeps the meaning exact on every database."""
    query = (
        select(PublicRuling)
        .join(Ruling, Ruling.id == PublicRuling.ruling_id)
        .where(Ruling.state == RulingState.FINAL)
    )
    if filters.office_id is not None:
        query = query.where(PublicRuling.office_id == filters.office_id)
    if filters.province_id is not None:
        query = query.where(
            PublicRuling.office_id.in_(
                select(LabourOffice.id).where(LabourOffice.province_id == filters.province_id)
            )
        )
    if filters.board_id is not None:
        query = query.where(PublicRuling.board_id == filters.board_id)
    if filters.date_from is not None:
        query = query.where(PublicRuling.ruled_on >= filters.date_from)
    if filters.date_to is not None:
        query = query.where(PublicRuling.ruled_on <= filters.date_to)
    if filters.claim_kind:
        query = query.where(
            PublicRuling.claim_kinds.contains(f"|{filters.claim_kind}|", autoescape=True)
        )
    if filters.outcome:
        query = query.where(PublicRuling.outcome == filters.outcome)
    words = query_words(filters.q)
    match = fts_match(words) if dialect == "sqlite" else None
    if match is not None:
        fts = table(FTS_TABLE)
        query = query.where(
            PublicRuling.id.in_(
                select(literal_column("rowid"))
                .select_from(fts)
                .where(literal_column(FTS_TABLE).op("MATCH")(match))
            )
        )
    for word in words:
        query = query.where(PublicRuling.search_text.contains(word, autoescape=True))
    return query


def page_bounds(filters: PublicFilter) -> tuple[int, int]:
    """The page (from 1) and the rows per page (1–100) the filter asks for."""
    return max(1, filters.page), min(max(1, filters.per_page), 100)


def search_statement(filters: PublicFilter, dialect: str = "") -> Any:  # a Select
    """The page's query: one row more than the page holds tells whether a next page exists
    (no count of every match is ever made)."""
    page, per_page = page_bounds(filters)
    return (
        public_query(filters, dialect)
        .order_by(PublicRuling.ruled_on.desc(), PublicRuling.id.desc())
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    )


def recent_statement(filters: PublicFilter) -> Any | None:  # a Select, or None
    """For a text query, the page among the newest :data:`RECENT_WINDOW` rows that the other
    filters allow. When it finds a whole page and one row more, those are the page's rows
    (the window is the start of the same order); otherwise :func:`search_statement` is run.
    None without words or past the window."""
    page, per_page = page_bounds(filters)
    words = query_words(filters.q)
    if not words or page * per_page + 1 > RECENT_WINDOW:
        return None
    window = (
        public_query(replace(filters, q=None))
        .order_by(PublicRuling.ruled_on.desc(), PublicRuling.id.desc())
        .limit(RECENT_WINDOW)
        .subquery()
    )
    recent = aliased(PublicRuling, window)
    query = select(recent)
    for word in words:
        query = query.where(recent.search_text.contains(word, autoescape=True))
    return (
        query.order_by(recent.ruled_on.desc(), recent.id.desc())
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    )


async def search_public(session: AsyncSession, filters: PublicFilter) -> PublicPage:
    """One page of public rulings, newest ruling first."""
    page, per_page = page_bounds(filters)
    rows: list[PublicRuling] = []
    recent = recent_statement(filters)
    if recent is not None:
        rows = list(await session.scalars(recent))
    if len(rows) <= per_page:
        dialect = session.get_bind().dialect.name
        rows = list(await session.scalars(search_statement(filters, dialect)))
    return PublicPage(rows[:per_page], page, per_page, len(rows) > per_page)


async def require_public(session: AsyncSession, code: str) -> PublicRuling:
    """The public copy with this verification code, while its ruling is final; else 404
    (a ruling that was never final has no copy, so it is the same answer)."""
    normal = normalize_code(code)
    row: PublicRuling | None = None
    if normal is not None:
        row = await session.scalar(public_query(PublicFilter()).where(PublicRuling.code == normal))
    if row is None:
        raise NotFound("No public ruling has this code.")
    return row


async def offices_and_boards(
    session: AsyncSession,
) -> tuple[list[LabourOffice], list[Board]]:
    """The search form's choices."""
    offices = list(await session.scalars(select(LabourOffice).order_by(LabourOffice.id)))
    boards = list(await session.scalars(select(Board).order_by(Board.id)))
    return offices, boards


async def provinces(session: AsyncSession) -> list[Province]:
    """The provinces that have a labour office, for the search form."""
    return list(
        await session.scalars(
            select(Province)
            .where(Province.id.in_(select(LabourOffice.province_id)))
            .order_by(Province.id)
        )
    )
