"""What the statistics pages and downloads call each table, column and row, and how a
cell reads (the same text in the page's table and in the CSV)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hearing_server.cases.models import ClaimKind
from hearing_server.cases.presentation import CLAIM_LABELS
from hearing_server.i18n import digits, gettext, lazy
from hearing_server.stats.compute import TABLES

SUPPRESSED = "—"
SUPPRESSED_NOTE = lazy(
    "— : fewer than 5 cases; not shown, so that no party can be recognised from the numbers."
)

TITLES: dict[str, str] = {
    "time_to_hearing": lazy("Days from petition to the first hearing"),
    "time_to_ruling": lazy("Days from petition to the ruling"),
    "hearings": lazy("Hearings held, postponed and failed for lack of quorum"),
    "outcomes": lazy("Outcomes by claim type"),
    "appeals": lazy("Objections, and rulings the settlement board changed"),
    "attendance": lazy("Members' attendance per board"),
    "attendance_members": lazy("Attendance of each member"),
}

DESCRIPTIONS: dict[str, str] = {
    "time_to_hearing": lazy(
        "First-instance cases by the Jalali month of their first hearing that was held: "
        "the median and the 90th percentile of the days since the petition was filed."
    ),
    "time_to_ruling": lazy(
        "First-instance cases by the Jalali month their first ruling was issued: the median "
        "and the 90th percentile of the days since the petition was filed."
    ),
    "hearings": lazy("Hearings by the Jalali month they were set for, by what became of them."),
    "outcomes": lazy(
        "Each claim decided by the latest issued ruling of a first-instance case, by decision."
    ),
    "appeals": lazy(
        "Per diagnosis board: cases with an issued ruling, those a party objected to, and of "
        "the appeals the settlement board decided, those whose decisions differ from the "
        "diagnosis board's."
    ),
    "attendance": lazy(
        "Seats on the panels of hearings that opened (held or failed for lack of quorum), "
        "and how many the members took."
    ),
    "attendance_members": lazy("Shown because the labour office publishes members' names."),
}

COLUMNS: dict[str, str] = {
    "month": lazy("Month"),
    "cases": lazy("Cases"),
    "median_days": lazy("Median (days)"),
    "p90_days": lazy("90th percentile (days)"),
    "held": lazy("Held"),
    "postponed": lazy("Postponed"),
    "failed_quorum": lazy("Failed for lack of quorum"),
    "claim_kind": lazy("Claim type"),
    "accepted": lazy("Accepted"),
    "partly_accepted": lazy("Partly accepted"),
    "rejected": lazy("Rejected"),
    "no_majority": lazy("No majority"),
    "board": lazy("Board"),
    "rulings": lazy("Rulings"),
    "objected": lazy("Objected to"),
    "objection_rate": lazy("Objection rate (%)"),
    "appeals_decided": lazy("Appeals decided"),
    "changed": lazy("Changed"),
    "change_rate": lazy("Change rate (%)"),
    "seats": lazy("Seats"),
    "attended": lazy("Attended"),
    "attendance_rate": lazy("Attendance rate (%)"),
    "member": lazy("Member"),
}

# The columns each chart draws (the row label on the other axis), and whether stacked.
CHARTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "time_to_hearing": (("median_days", "p90_days"), False),
    "time_to_ruling": (("median_days", "p90_days"), False),
    "hearings": (("held", "postponed", "failed_quorum"), True),
    "outcomes": (("accepted", "partly_accepted", "rejected", "no_majority"), True),
    "appeals": (("objection_rate", "change_rate"), False),
    "attendance": (("attendance_rate",), False),
}


def label(column: str, value: Any, locale: str) -> str:
    """A row's label: a board's name in the page's language, a claim type's name."""
    if isinstance(value, dict):
        return str(value.get(locale) or value.get("en") or "")
    if column == "claim_kind":
        try:
            return gettext(CLAIM_LABELS[ClaimKind(value)], locale)
        except ValueError:
            return str(value)
    return digits(value, locale) if column == "month" else str(value)


def cell(value: Any, locale: str) -> str:
    """A number as the table shows it (and the CSV, in English digits)."""
    if value is None:
        return SUPPRESSED
    return digits(value, locale)


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    description: str
    columns: list[tuple[str, str]]  # (id, heading)
    rows: list[list[str]]  # the first is the row's label
    chart: dict[str, Any] | None


def tables_of(data: dict[str, Any], locale: str) -> list[Table]:
    """The snapshot's tables as the page shows them, each with its chart's data."""
    out = []
    for table_id, columns in TABLES.items():
        raw = data.get("tables", {}).get(table_id, [])
        if table_id == "attendance_members" and not raw:
            continue
        rows = [
            [label(columns[0], r.get(columns[0]), locale)]
            + [
                label(c, r.get(c), locale) if c == "board" else cell(r.get(c), locale)
                for c in columns[1:]
            ]
            for r in raw
        ]
        chart = None
        if table_id in CHARTS and raw:
            series, stacked = CHARTS[table_id]
            chart = {
                "labels": [label(columns[0], r.get(columns[0]), locale) for r in raw],
                "stacked": stacked,
                "series": [
                    {
                        "key": s,
                        "label": gettext(COLUMNS[s], locale),
                        "data": [r.get(s) for r in raw],
                    }
                    for s in series
                ],
            }
        out.append(
            Table(
                table_id,
                gettext(TITLES[table_id], locale),
                gettext(DESCRIPTIONS[table_id], locale),
                [(c, gettext(COLUMNS[c], locale)) for c in columns],
                rows,
                chart,
            )
        )
    return out
