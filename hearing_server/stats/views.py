"""Public statistics pages and their open-data downloads (no sign-in). They read the
published snapshot only, never the case tables, and are rate limited per client."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from quart import Blueprint, Response, current_app, render_template, request, url_for
from sqlalchemy import select

from hearing_server.errors import Invalid, NotFound
from hearing_server.i18n import get_locale
from hearing_server.i18n import gettext as _
from hearing_server.stats.compute import TABLES
from hearing_server.stats.models import StatsSnapshot
from hearing_server.stats.presentation import (
    COLUMNS,
    SUPPRESSED_NOTE,
    Table,
    cell,
    label,
    tables_of,
)
from hearing_server.web.context import db_session, limit_public, runtime

blueprint = Blueprint("stats", __name__)


@dataclass
class Published:
    """A published snapshot as the pages use it, kept per process until a newer one is
    published (each request then only asks the database for the scope's newest id)."""

    snapshot: StatsSnapshot
    tables: dict[str, list[Table]] = field(default_factory=dict)  # per locale

    def tables_in(self, locale: str) -> list[Table]:
        if locale not in self.tables:
            self.tables[locale] = tables_of(self.snapshot.data, locale)
        return self.tables[locale]


async def _published(office_id: int | None) -> Published:
    await limit_public("stats", runtime().settings.public_stats_rate)
    scope = "all" if office_id is None else f"office:{office_id}"
    session = await db_session()
    newest = await session.scalar(
        select(StatsSnapshot.id)
        .where(StatsSnapshot.scope == scope)
        .order_by(StatsSnapshot.id.desc())
        .limit(1)
    )
    if newest is None:
        if office_id is not None:
            raise NotFound("No statistics are published for this labour office.")
        raise NotFound("The statistics have not been computed yet; try again in a few minutes.")
    cache: dict[str, Published] = current_app.extensions.setdefault("heyat_stats", {})
    held = cache.get(scope)
    if held is None or held.snapshot.id != newest:
        snapshot = await session.get(StatsSnapshot, newest)
        if snapshot is None:  # pruned between the two reads: a newer one is published
            raise NotFound("The statistics have not been computed yet; try again in a few minutes.")
        session.expunge(snapshot)
        held = cache[scope] = Published(snapshot)
    return held


def checkpoint_of(snapshot: StatsSnapshot) -> dict[str, Any]:
    return {
        "seq": snapshot.checkpoint_seq,
        "hash": snapshot.checkpoint_hash,
        "at": snapshot.checkpoint_at.isoformat() if snapshot.checkpoint_at else None,
        "sealed": snapshot.sealed,
    }


def _downloads(office_id: int | None) -> dict[str, str]:
    if office_id is None:
        return {"json": url_for("stats.overall_json"), "csv": url_for("stats.overall_csv")}
    return {
        "json": url_for("stats.office_json", office_id=office_id),
        "csv": url_for("stats.office_csv", office_id=office_id),
    }


async def _page(office_id: int | None) -> Any:
    published = await _published(office_id)
    snapshot = published.snapshot
    locale = get_locale()
    offices = snapshot.data.get("offices", [])
    office = snapshot.data.get("office")
    return await render_template(
        "stats/index.html",
        snapshot=snapshot,
        office_name=(office or {}).get(locale) if office else None,
        office_id=office_id,
        offices=[(o["id"], o.get(locale) or o["en"]) for o in offices],
        tables=published.tables_in(locale),
        checkpoint=checkpoint_of(snapshot),
        downloads=_downloads(office_id),
        suppressed_note=_(SUPPRESSED_NOTE),
    )


def _json(snapshot: StatsSnapshot) -> dict[str, Any]:
    return {
        "scope": snapshot.scope,
        "office": snapshot.data.get("office"),
        "computed_at": snapshot.computed_at.isoformat(),
        "checkpoint": checkpoint_of(snapshot),
        "min_cell": snapshot.data.get("min_cell"),
        "suppressed": "null: fewer than 5 cases (not shown)",
        "tables": snapshot.data.get("tables", {}),
    }


def _csv(snapshot: StatsSnapshot, office_id: int | None) -> Response:
    """One table (``?table=``) as the page shows it, in English digits, with the audit
    head on every row; or every table in long form (table, row, column, value)."""
    locale = get_locale()
    table = request.args.get("table")
    seq, head = str(snapshot.checkpoint_seq), snapshot.checkpoint_hash
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    tables = snapshot.data.get("tables", {})
    if table:
        if table not in TABLES:
            raise Invalid("There is no such table.", field="table")
        columns = TABLES[table]
        writer.writerow([*(_(COLUMNS[c]) for c in columns), "audit_seq", "audit_hash"])
        for row in tables.get(table, []):
            writer.writerow(
                [
                    label(columns[0], row.get(columns[0]), locale).translate(_ASCII),
                    *(
                        label(c, row.get(c), locale) if c == "board" else cell(row.get(c), "en")
                        for c in columns[1:]
                    ),
                    seq,
                    head,
                ]
            )
    else:
        writer.writerow(["table", "row", "column", "value", "audit_seq", "audit_hash"])
        for table_id, columns in TABLES.items():
            for row in tables.get(table_id, []):
                name = label(columns[0], row.get(columns[0]), "en")
                for c in columns[1:]:
                    value = row.get(c)
                    shown = label(c, value, "en") if c == "board" else cell(value, "en")
                    writer.writerow([table_id, name, c, shown, seq, head])
    scope = "all" if office_id is None else f"office-{office_id}"
    name = f"heyat-stats-{scope}{'-' + table if table else ''}-seq{seq}.csv"
    return Response(
        out.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


_ASCII = str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")


@blueprint.get("/stats")
async def overall() -> Any:
    """Public: the boards' statistics across every labour office."""
    return await _page(None)


@blueprint.get("/stats/office/<int:office_id>")
async def office(office_id: int) -> Any:
    """Public: one labour office's statistics."""
    return await _page(office_id)


@blueprint.get("/stats.json")
async def overall_json() -> Any:
    return _json((await _published(None)).snapshot)


@blueprint.get("/stats.csv")
async def overall_csv() -> Any:
    return _csv((await _published(None)).snapshot, None)


@blueprint.get("/stats/office/<int:office_id>.json")
async def office_json(office_id: int) -> Any:
    return _json((await _published(office_id)).snapshot)


@blueprint.get("/stats/office/<int:office_id>.csv")
async def office_csv(office_id: int) -> Any:
    return _csv((await _published(office_id)).snapshot, office_id)
