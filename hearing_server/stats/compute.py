"""Each statistic computed from the database, for the whole installation and per labour
office, as at a moment ``as_of`` (what happened later is left out, so a snapshot can be
recomputed and checked afterwards).

The reads (:func:`load_facts`) gather one row per case, hearing, ruling, objection and
panel seat; the arithmetic (:func:`tabulate`) is pure, so the tests check it against
numbers worked out by hand.

Definitions (the page states them too):

- *petition*: a first-instance case's ``filed_at`` (appeal cases are left out);
- *first hearing*: the earliest hearing that was held with the case on its agenda, counted
  in the Jalali month (Tehran time) it was held;
- *ruling*: the first issued ruling of the case, in the month it was issued;
- durations in days (one decimal); median the middle value (the mean of the two middle
  values for an even count), p90 the nearest rank (the ⌈0.9·n⌉-th smallest);
- hearings by their status, in the month they were (or were to be) held;
- outcomes: each claim of a first-instance case's latest issued ruling, by its decision;
- objection rate: first-instance cases with an issued ruling that a party objected to;
  changed: appeals decided by the settlement board whose decisions (per claim: kind,
  decision, amount) differ from the diagnosis board's ruling objected to;
- attendance: a member's seats on hearings that opened (held or failed for quorum), and
  those the member joined.

Small cells: a count of 1 to 4 is suppressed (``None``), and so is a median, p90 or rate
computed over fewer than 5 cases or from a suppressed count.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property, lru_cache
from typing import Any

from persiantools.jdatetime import JalaliDate
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import User
from hearing_server.boards.models import Board, LabourOffice
from hearing_server.cases.models import Case
from hearing_server.issuance.models import Objection, Ruling, RulingState
from hearing_server.rooms.models import Attendance
from hearing_server.scheduling.models import AgendaItem, Hearing, HearingStatus, PanelSeat
from rulings.persian import TEHRAN

MIN_CELL = 5
"""Cells counting fewer cases than this are suppressed."""

FORMAT_VERSION = 1
DECISIONS = ("accepted", "partly_accepted", "rejected", "no_majority")
OPENED = (HearingStatus.HELD, HearingStatus.FAILED_QUORUM)
ISSUED = (RulingState.ISSUED, RulingState.FINAL, RulingState.APPEALED, RulingState.SUPERSEDED)

# Each table's columns, in order; the first is the row's label.
TABLES: dict[str, tuple[str, ...]] = {
    "time_to_hearing": ("month", "cases", "median_days", "p90_days"),
    "time_to_ruling": ("month", "cases", "median_days", "p90_days"),
    "hearings": ("month", "held", "postponed", "failed_quorum"),
    "outcomes": ("claim_kind", *DECISIONS),
    "appeals": (
        "board",
        "rulings",
        "objected",
        "objection_rate",
        "appeals_decided",
        "changed",
        "change_rate",
    ),
    "attendance": ("board", "seats", "attended", "attendance_rate"),
    "attendance_members": ("member", "board", "seats", "attended", "attendance_rate"),
}


def jalali_month(moment: datetime) -> str:
    """``YYYY-MM`` of the Jalali month ``moment`` falls in, in Tehran."""
    return _month_of_day(moment.astimezone(TEHRAN).date())


@lru_cache(maxsize=8192)
def _month_of_day(day: date) -> str:
    # Cached: 100,000 cases fall on a few hundred days, and the conversion is slow.
    jalali = JalaliDate(day)  # type: ignore[no-untyped-call]  # persiantools is untyped
    return f"{jalali.year:04d}-{jalali.month:02d}"


def days_between(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 86400, 1)


def median(values: Sequence[float]) -> float:
    return round(float(statistics.median(values)), 1)


def p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return round(ordered[math.ceil(0.9 * len(ordered)) - 1], 1)


def count_cell(n: int) -> int | None:
    return None if 0 < n < MIN_CELL else n


def rate_cell(part: int, whole: int) -> float | None:
    """A percentage with one decimal; suppressed over fewer than 5 cases or from a small part."""
    if whole < MIN_CELL or count_cell(part) is None:
        return None
    return round(100 * part / whole, 1)


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class CaseFacts:
    id: int
    office_id: int
    filed_at: datetime
    appeal_of_id: int | None


@dataclass(frozen=True)
class RulingFacts:
    id: int
    case_id: int
    version: int
    issued_at: datetime
    board_id: int  # the board of the hearing that decided it
    claims: tuple[tuple[str, str, int | None], ...]  # (kind, decision, awarded rials)


@dataclass
class Facts:
    """What the statistics are computed from, read once for every scope."""

    as_of: datetime
    offices: dict[int, dict[str, Any]] = field(default_factory=dict)
    boards: dict[int, dict[str, Any]] = field(default_factory=dict)
    cases: dict[int, CaseFacts] = field(default_factory=dict)
    first_hearing: dict[int, datetime] = field(default_factory=dict)
    hearings: list[tuple[int, datetime, str]] = field(default_factory=list)  # board, at, status
    rulings: list[RulingFacts] = field(default_factory=list)
    objected: set[int] = field(default_factory=set)  # ruling ids objected to
    # (board id, member id, member name, attended)
    seats: list[tuple[int, int, str, bool]] = field(default_factory=list)

    @cached_property
    def rulings_of_case(self) -> dict[int, list[RulingFacts]]:
        found: dict[int, list[RulingFacts]] = defaultdict(list)
        for ruling in self.rulings:
            found[ruling.case_id].append(ruling)
        return found

    @cached_property
    def appeal_of_ruling(self) -> dict[int, RulingFacts]:
        """Each appeal case and the ruling objected to (its latest version objected to)."""
        found: dict[int, RulingFacts] = {}
        for appeal in self.cases.values():
            if appeal.appeal_of_id is None:
                continue
            objected = [
                r
                for r in self.rulings_of_case.get(appeal.appeal_of_id, [])
                if r.id in self.objected
            ]
            if objected:
                found[appeal.id] = max(objected, key=lambda r: r.version)
        return found


def _claims_of(content: dict[str, Any]) -> tuple[tuple[str, str, int | None], ...]:
    return tuple(
        (str(c.get("kind")), str(c.get("decision")), c.get("awarded_rials"))
        for c in content.get("claims", [])
    )


async def load_facts(session: AsyncSession, as_of: datetime) -> Facts:
    """Every row the statistics need, as it stood at ``as_of``."""
    facts = Facts(as_of=as_of)
    for office in await session.scalars(select(LabourOffice).order_by(LabourOffice.id)):
        facts.offices[office.id] = {
            "fa": office.name_fa,
            "en": office.name_en,
            "name_members": office.stats_name_members,
        }
    for board in await session.scalars(select(Board).order_by(Board.id)):
        facts.boards[board.id] = {
            "office_id": board.office_id,
            "type": board.type.value,
            "fa": board.name_fa,
            "en": board.name_en,
        }
    rows = await session.execute(
        select(Case.id, Case.office_id, Case.filed_at, Case.appeal_of_id).where(
            Case.filed_at.is_not(None), Case.filed_at <= as_of
        )
    )
    for case_id, office_id, filed_at, appeal_of_id in rows:
        if filed_at is not None:  # the WHERE clause, for the type checker
            facts.cases[case_id] = CaseFacts(case_id, office_id, filed_at, appeal_of_id)
    first = await session.execute(
        select(AgendaItem.case_id, Hearing.starts_at)
        .join(Hearing, Hearing.id == AgendaItem.hearing_id)
        .where(Hearing.status == HearingStatus.HELD, Hearing.starts_at <= as_of)
    )
    for case_id, starts_at in first:
        known = facts.first_hearing.get(case_id)
        if known is None or starts_at < known:
            facts.first_hearing[case_id] = starts_at
    hearings = await session.execute(
        select(Hearing.board_id, Hearing.starts_at, Hearing.status).where(
            Hearing.starts_at <= as_of
        )
    )
    facts.hearings = [(b, at, HearingStatus(s).value) for b, at, s in hearings]
    rulings = await session.execute(
        select(
            Ruling.id,
            Ruling.case_id,
            Ruling.version,
            Ruling.issued_at,
            Hearing.board_id,
            Ruling.content,
        )
        .join(Hearing, Hearing.id == Ruling.hearing_id)
        .where(Ruling.issued_at.is_not(None), Ruling.issued_at <= as_of, Ruling.state.in_(ISSUED))
    )
    facts.rulings = [
        RulingFacts(rid, case_id, version, issued_at, board_id, _claims_of(content or {}))
        for rid, case_id, version, issued_at, board_id, content in rulings
    ]
    facts.objected = set(
        await session.scalars(select(Objection.ruling_id).where(Objection.at <= as_of))
    )
    attended = {
        (h, u)
        for h, u in await session.execute(
            select(Attendance.hearing_id, Attendance.user_id).where(Attendance.joined_at <= as_of)
        )
    }
    seats = await session.execute(
        select(Hearing.id, Hearing.board_id, PanelSeat.member_id, User.full_name)
        .join(PanelSeat, PanelSeat.hearing_id == Hearing.id)
        .join(User, User.id == PanelSeat.member_id)
        .where(Hearing.status.in_(OPENED), Hearing.starts_at <= as_of)
    )
    facts.seats = [(b, m, name, (h, m) in attended) for h, b, m, name in seats]
    return facts


# --------------------------------------------------------------------------- tables


def _durations(pairs: Iterable[tuple[datetime, datetime]]) -> list[dict[str, Any]]:
    by_month: dict[str, list[float]] = defaultdict(list)
    for start, end in pairs:
        by_month[jalali_month(end)].append(days_between(start, end))
    out = []
    for month in sorted(by_month):
        values = by_month[month]
        small = len(values) < MIN_CELL
        out.append(
            {
                "month": month,
                "cases": count_cell(len(values)),
                "median_days": None if small else median(values),
                "p90_days": None if small else p90(values),
            }
        )
    return out


def _board_label(facts: Facts, board_id: int) -> dict[str, str]:
    board = facts.boards[board_id]
    office = facts.offices.get(board["office_id"], {})
    return {
        "fa": f"{board['fa']} — {office.get('fa', '')}",
        "en": f"{board['en']} — {office.get('en', '')}",
    }


def tabulate(facts: Facts, office_id: int | None) -> dict[str, list[dict[str, Any]]]:
    """Every table for one scope: the whole installation (``None``) or one office."""

    def in_scope(case_office: int) -> bool:
        return office_id is None or case_office == office_id

    def board_in_scope(board_id: int) -> bool:
        return in_scope(facts.boards[board_id]["office_id"])

    first_instance = {
        cid: c for cid, c in facts.cases.items() if c.appeal_of_id is None and in_scope(c.office_id)
    }
    latest: dict[int, RulingFacts] = {}
    first_issued: dict[int, datetime] = {}
    for ruling in facts.rulings:
        held = latest.get(ruling.case_id)
        if held is None or ruling.version > held.version:
            latest[ruling.case_id] = ruling
        known = first_issued.get(ruling.case_id)
        if known is None or ruling.issued_at < known:
            first_issued[ruling.case_id] = ruling.issued_at

    tables: dict[str, list[dict[str, Any]]] = {}
    tables["time_to_hearing"] = _durations(
        (c.filed_at, facts.first_hearing[cid])
        for cid, c in first_instance.items()
        if cid in facts.first_hearing
    )
    tables["time_to_ruling"] = _durations(
        (c.filed_at, first_issued[cid]) for cid, c in first_instance.items() if cid in first_issued
    )

    by_month: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for board_id, at, status in facts.hearings:
        if board_in_scope(board_id):
            by_month[jalali_month(at)][status] += 1
    tables["hearings"] = [
        {
            "month": month,
            **{s: count_cell(by_month[month][s]) for s in ("held", "postponed", "failed_quorum")},
        }
        for month in sorted(by_month)
        if any(by_month[month][s] for s in ("held", "postponed", "failed_quorum"))
    ]

    outcomes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for cid in first_instance:
        decided = latest.get(cid)
        if decided is not None:
            for kind, decision, _awarded in decided.claims:
                outcomes[kind][decision] += 1
    tables["outcomes"] = [
        {"claim_kind": kind, **{d: count_cell(outcomes[kind][d]) for d in DECISIONS}}
        for kind in sorted(outcomes)
    ]

    tables["appeals"] = _appeals(facts, first_instance, latest)
    tables["attendance"], tables["attendance_members"] = _attendance(facts, board_in_scope)
    return tables


def _appeals(
    facts: Facts, first_instance: dict[int, CaseFacts], latest: dict[int, RulingFacts]
) -> list[dict[str, Any]]:
    """One row per diagnosis board: its rulings, those objected to, and of the appeals the
    settlement board decided, those that changed the ruling."""
    rulings_of_case = facts.rulings_of_case
    board_of_case: dict[int, int] = {}
    for cid in first_instance:
        first = min(rulings_of_case.get(cid, []), key=lambda r: r.version, default=None)
        if first is not None:
            board_of_case[cid] = first.board_id
    rows: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for cid, board_id in board_of_case.items():
        row = rows[board_id]
        row["rulings"] += 1
        if any(r.id in facts.objected for r in rulings_of_case[cid]):
            row["objected"] += 1
    for appeal_id, original in facts.appeal_of_ruling.items():
        if original.case_id not in board_of_case:
            continue
        decided = latest.get(appeal_id)
        if decided is None:
            continue
        row = rows[board_of_case[original.case_id]]
        row["appeals_decided"] += 1
        if decided.claims != original.claims:
            row["changed"] += 1
    return [
        {
            "board": _board_label(facts, board_id),
            "rulings": count_cell(r["rulings"]),
            "objected": count_cell(r["objected"]),
            "objection_rate": rate_cell(r["objected"], r["rulings"]),
            "appeals_decided": count_cell(r["appeals_decided"]),
            "changed": count_cell(r["changed"]),
            "change_rate": rate_cell(r["changed"], r["appeals_decided"]),
        }
        for board_id, r in sorted(rows.items())
    ]


def _attendance(
    facts: Facts, board_in_scope: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    per_board: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    per_member: dict[tuple[int, int], list[Any]] = {}
    for board_id, member_id, name, attended in facts.seats:
        if not board_in_scope(board_id):
            continue
        per_board[board_id][0] += 1
        per_board[board_id][1] += int(attended)
        if facts.offices.get(facts.boards[board_id]["office_id"], {}).get("name_members"):
            entry = per_member.setdefault((board_id, member_id), [name, 0, 0])
            entry[1] += 1
            entry[2] += int(attended)
    boards = [
        {
            "board": _board_label(facts, board_id),
            "seats": count_cell(seats),
            "attended": count_cell(attended),
            "attendance_rate": rate_cell(attended, seats),
        }
        for board_id, (seats, attended) in sorted(per_board.items())
    ]
    members = [
        {
            "member": name,
            "board": _board_label(facts, board_id),
            "seats": count_cell(seats),
            "attended": count_cell(attended),
            "attendance_rate": rate_cell(attended, seats),
        }
        for (board_id, _member), (name, seats, attended) in sorted(per_member.items())
    ]
    return boards, members


def scopes_of(facts: Facts) -> list[tuple[str, int | None]]:
    return [("all", None), *((f"office:{oid}", oid) for oid in facts.offices)]


def compute_all(facts: Facts) -> dict[str, dict[str, Any]]:
    """Every scope's statistics: ``{"all": {...}, "office:1": {...}}``."""
    out: dict[str, dict[str, Any]] = {}
    for scope, office_id in scopes_of(facts):
        out[scope] = {
            "format": FORMAT_VERSION,
            "scope": scope,
            "office_id": office_id,
            "office": None
            if office_id is None
            else {k: facts.offices[office_id][k] for k in ("fa", "en")},
            "as_of": facts.as_of.isoformat(timespec="microseconds"),
            "min_cell": MIN_CELL,
            "offices": [
                {"id": oid, "fa": o["fa"], "en": o["en"]} for oid, o in facts.offices.items()
            ],
            "tables": tabulate(facts, office_id),
        }
    return out
