"""The public rulings, no sign-in: the search page and the page of one anonymised copy,
its signed PDF, and the same as JSON under /api/v1/public/rulings. Every request counts
against the ``public_rulings`` rate per client address.

The paths are /public/rulings…: /rulings is the signed-in user's own list of rulings.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel
from quart import Blueprint, render_template, request, url_for
from quart_schema import validate_response
from werkzeug.datastructures import MultiDict

from hearing_server.cases.models import ClaimKind
from hearing_server.cases.petition import parse_date
from hearing_server.cases.presentation import CLAIM_LABELS
from hearing_server.errors import Invalid
from hearing_server.i18n import get_locale, lazy
from hearing_server.i18n import gettext as _
from hearing_server.issuance.api import pdf_response
from hearing_server.issuance.files import load_blob
from hearing_server.issuance.models import PublicRuling
from hearing_server.issuance.public import (
    OUTCOMES,
    PublicFilter,
    offices_and_boards,
    require_public,
    search_public,
)
from hearing_server.web.context import db_session, limit_public, runtime
from hearing_server.web.schemas import Out

pages = Blueprint("public_rulings", __name__)
api = Blueprint("api_public_rulings", __name__, url_prefix="/api/v1/public")

OUTCOME_LABELS = {
    "accepted": lazy("Claims accepted"),
    "partly_accepted": lazy("Claims partly accepted"),
    "rejected": lazy("Claims rejected"),
}

DATE_HINT = "Enter the date as year/month/day, e.g. 1403/05/01."


def parse_filter(args: MultiDict[str, str]) -> tuple[PublicFilter, dict[str, str]]:
    """The filter from query arguments, and per field the msgid of what is wrong."""
    errors: dict[str, str] = {}
    filters = PublicFilter(q=(args.get("q") or "").strip()[:200] or None)

    def number(name: str) -> int | None:
        raw = (args.get(name) or "").strip()
        if not raw:
            return None
        if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**31:
            errors[name] = "The request is not valid."
            return None
        return int(raw)

    filters.page = number("page") or 1
    filters.per_page = min(number("per_page") or 20, 100)
    filters.office_id = number("office_id")
    filters.board_id = number("board_id")
    for name in ("date_from", "date_to"):
        try:
            day: date | None = parse_date(args.get(name) or None)
        except ValueError:
            errors[name] = DATE_HINT
            day = None
        setattr(filters, name, day)
    kind = args.get("claim_kind") or ""
    if kind:
        if kind in {k.value for k in ClaimKind}:
            filters.claim_kind = kind
        else:
            errors["claim_kind"] = "Choose a claim type from the list."
    outcome = args.get("outcome") or ""
    if outcome:
        if outcome in OUTCOMES:
            filters.outcome = outcome
        else:
            errors["outcome"] = "Choose an outcome from the list."
    return filters, errors


async def _limit() -> None:
    await limit_public("public_rulings", runtime().settings.public_rulings_rate)


# --------------------------------------------------------------------------- pages


@pages.get("/public/rulings")
async def search_page() -> Any:
    """The search form and one page of results; bad filters are shown beside their field."""
    await _limit()
    session = await db_session()
    filters, problems = parse_filter(request.args)
    errors = {name: _(msgid) for name, msgid in problems.items()}
    result = await search_public(session, filters)
    offices, boards = await offices_and_boards(session)
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    locale = get_locale()
    page = await render_template(
        "issuance/public_search.html",
        result=result,
        args=request.args,
        errors=errors,
        query=query,
        boards={b.id: b for b in boards},
        office_options=[(o.id, o.name(locale)) for o in offices],
        board_options=[(b.id, b.name(locale)) for b in boards],
        claim_options=[(k.value, _(label)) for k, label in CLAIM_LABELS.items()],
        outcome_options=[(k, _(label)) for k, label in OUTCOME_LABELS.items()],
        outcome_labels={k: _(label) for k, label in OUTCOME_LABELS.items()},
    )
    return page, (422 if errors else 200)


@pages.get("/public/rulings/<code>")
async def detail_page(code: str) -> Any:
    await _limit()
    session = await db_session()
    row = await require_public(session, code)
    offices, boards = await offices_and_boards(session)
    return await render_template(
        "issuance/public_detail.html",
        row=row,
        ruling=row.content["ruling"],
        original_code=row.content["original_verification_code"],
        office=next((o for o in offices if o.id == row.office_id), None),
        board=next((b for b in boards if b.id == row.board_id), None),
        claim_labels={k.value: _(label) for k, label in CLAIM_LABELS.items()},
        outcome_labels={k: _(label) for k, label in OUTCOME_LABELS.items()},
    )


@pages.get("/public/rulings/<code>/pdf")
async def pdf_page(code: str) -> Any:
    await _limit()
    row = await require_public(await db_session(), code)
    pdf = await load_blob(runtime().settings.files_dir, row.pdf_sha256)
    return pdf_response(pdf, f"ruling-{row.code}.pdf")


# --------------------------------------------------------------------------- API


class PublicClaimOut(BaseModel):
    kind: str
    title: str
    decision: str
    claimed_rials: int | None
    awarded_rials: int | None


class PublicRulingOut(Out):
    code: str
    derived_from: str
    number: str
    case_number: str
    office_id: int
    board_id: int
    board: str
    labour_office: str
    jalali_date: str
    ruled_on: str
    outcome: str
    claim_kinds: list[str]
    title: str
    claims: list[PublicClaimOut]
    pdf_url: str
    page_url: str
    verify_url: str


class PublicRulingPageOut(Out):
    rulings: list[PublicRulingOut]
    page: int
    per_page: int
    has_next: bool


def public_json(row: PublicRuling) -> dict[str, Any]:
    ruling = row.content["ruling"]
    return {
        "code": row.code,
        "derived_from": str(row.content["original_verification_code"]),
        "number": str(ruling["ruling_number"]),
        "case_number": str(ruling["case_number"]),
        "office_id": row.office_id,
        "board_id": row.board_id,
        "board": str(ruling["board"]["name"]),
        "labour_office": str(ruling["board"]["labour_office"]),
        "jalali_date": row.jalali_date,
        "ruled_on": row.ruled_on.isoformat(),
        "outcome": row.outcome,
        "claim_kinds": [k for k in row.claim_kinds.split("|") if k],
        "title": row.title,
        "claims": [
            {
                "kind": str(c["kind"]),
                "title": str(c["title"]),
                "decision": str(c["decision"]),
                "claimed_rials": c.get("claimed_rials"),
                "awarded_rials": c.get("awarded_rials"),
            }
            for c in ruling["claims"]
        ],
        "pdf_url": url_for("public_rulings.pdf_page", code=row.code),
        "page_url": url_for("public_rulings.detail_page", code=row.code),
        "verify_url": url_for("issuance.verify_code", code=row.code),
    }


@api.get("/rulings")
@validate_response(PublicRulingPageOut)
async def api_search() -> Any:
    """Public: anonymised final rulings, newest first. Query: office_id, board_id,
    date_from, date_to (Jalali ``1405/01/15`` or ISO), claim_kind, outcome, q (Persian
    text, any digits, ي/ك, with or without zero-width non-joiners), page, per_page."""
    await _limit()
    filters, problems = parse_filter(request.args)
    for name, msgid in problems.items():
        raise Invalid(msgid, field=name)
    result = await search_public(await db_session(), filters)
    return {
        "rulings": [public_json(r) for r in result.rows],
        "page": result.page,
        "per_page": result.per_page,
        "has_next": result.has_next,
    }


@api.get("/rulings/<code>")
@validate_response(PublicRulingOut)
async def api_detail(code: str) -> Any:
    await _limit()
    return public_json(await require_public(await db_session(), code))
