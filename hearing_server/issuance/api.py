"""/api/v1 for rulings and minutes: draft, approve, issue (with progress), download,
object, verify. Thin: parse, authorize, call one service, answer."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint, Response, request, url_for
from quart_schema import validate_request, validate_response
from werkzeug.datastructures import MultiDict

from hearing_server.accounts.models import User
from hearing_server.cases.models import Case, CaseParty, ClaimKind
from hearing_server.cases.petition import parse_date
from hearing_server.errors import Invalid, NotFound, TooLarge, UnsupportedType
from hearing_server.i18n import gettext as _
from hearing_server.i18n import lazy
from hearing_server.issuance.compose import member_ids
from hearing_server.issuance.minutes import issue_minutes, read_minutes_pdf
from hearing_server.issuance.models import Minutes, PublicRuling, Ruling, RulingState
from hearing_server.issuance.notices import (
    clock_json,
    jalali_text,
    party_clocks,
    record_notification,
    window_of,
)
from hearing_server.issuance.objections import do_object, objections_of_case
from hearing_server.issuance.progress import ISSUE_STEPS, IssueProgress
from hearing_server.issuance.public import OUTCOMES, PublicFilter, require_public, search_public
from hearing_server.issuance.queries import (
    access_ruling,
    approvals_of,
    is_staff,
    list_rulings,
    missing_signatures_of,
    notification_of,
    parties_of,
)
from hearing_server.issuance.rulings import (
    do_answer_approval,
    do_draft_ruling,
    do_record_missing_signature,
    issue_ruling,
    read_ruling_pdf,
    signatures_needed,
)
from hearing_server.issuance.verification import Verdict, check_code, check_pdf
from hearing_server.web.context import (
    csrf_exempt,
    db_session,
    limit_public,
    login_required,
    no_store,
    require_user,
    runtime,
    writes,
)
from hearing_server.web.responses import file_download
from hearing_server.web.schemas import Out

blueprint = Blueprint("api_issuance", __name__, url_prefix="/api/v1")


class ApprovalRequest(BaseModel):
    otp: str = Field(min_length=1, max_length=32)
    approve: bool = True
    reason: str | None = Field(default=None, max_length=4000)


class MissingSignatureRequest(BaseModel):
    member_id: int
    reason: str = Field(max_length=4000)


class ObjectionRequest(BaseModel):
    text: str = Field(min_length=1, max_length=20000)


class CodeRequest(BaseModel):
    code: str = Field(min_length=1, max_length=64)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class ApprovalOut(Out):
    member_id: int
    approved: bool
    reason: str | None
    at: str | None


class MissingSignatureOut(Out):
    member_id: int
    reason: str | None
    at: str | None


class RulingOut(Out):
    id: int
    number: str | None
    version: int
    state: str
    case_id: int
    case_number: str | None
    verification_code: str | None
    created_at: str | None
    issued_at: str | None
    final_at: str | None
    objection_days: int | None
    objection_deadline: str | None
    pdf_sha256: str | None
    approvals_needed: int
    voters: list[int]
    approvals: list[ApprovalOut]
    missing_signatures: list[MissingSignatureOut]


class SignatureOut(Out):
    signed: bool
    intact: bool
    valid: bool
    trusted: bool
    signer: str | None
    error: str | None


class VerdictOut(Out):
    authentic: bool
    kind: str | None
    # For an anonymised public copy (kind "public_ruling"): the original ruling's code.
    derived_from: str | None = None
    problems: list[str]
    sha256: str | None
    number: str | None
    case_number: str | None
    state: str | None
    issued_at: str | None
    final_at: str | None
    objection_deadline: str | None
    board: str | None
    signature: SignatureOut | None


async def ruling_json(ruling: Ruling, case: Case, user: User) -> dict[str, Any]:
    session = await db_session()
    approvals = await approvals_of(session, ruling.id)
    body: dict[str, Any] = {
        "id": ruling.id,
        "number": ruling.number,
        "version": ruling.version,
        "state": ruling.state.value,
        "case_id": case.id,
        "case_number": case.number,
        "verification_code": ruling.verification_code,
        "created_at": _iso(ruling.created_at),
        "issued_at": _iso(ruling.issued_at),
        "final_at": _iso(ruling.final_at),
        "objection_days": ruling.content.get("objection_days"),
        "objection_deadline": _iso(ruling.objection_deadline),
        "pdf_sha256": ruling.pdf_sha256,
        "approvals_needed": signatures_needed(ruling),
        "voters": member_ids(ruling),
        "approvals": [
            {"member_id": a.member_id, "approved": a.approved, "reason": a.reason, "at": _iso(a.at)}
            for a in approvals
        ],
        "missing_signatures": [
            {"member_id": m.member_id, "reason": m.reason, "at": _iso(m.at)}
            for m in await missing_signatures_of(session, ruling.id)
        ],
    }
    mine: list[CaseParty] = await parties_of(session, user, case.id)
    if mine:
        note = await notification_of(session, ruling, mine[0])
        window = await window_of(session, ruling, note)
        body["notified_at"] = _iso(note.notified_at) if note else None
        body["my_objection_deadline"] = _iso(window.closes_at) if window else None
        body["my_last_day"] = jalali_text(window.last_day) if window else None
    if is_staff(user) and ruling.state != RulingState.DRAFT:
        clocks = await party_clocks(session, ruling)
        body["parties"] = [clock_json(c) for c in clocks]
        body["not_notified"] = [c.party.id for c in clocks if c.notification is None]
    return body


@blueprint.get("/rulings")
@login_required()
async def api_list_rulings() -> Any:
    user = require_user()
    session = await db_session()
    rows = await list_rulings(session, user)
    return {"rulings": [await ruling_json(r, c, user) for r, c in rows]}


@blueprint.post("/cases/<int:case_id>/rulings")
@login_required()
async def api_draft_ruling(case_id: int) -> Any:
    user = require_user()
    session = await db_session()
    ruling = await do_draft_ruling(session, runtime().settings, actor=user, case_id=case_id)
    case = await session.get(Case, ruling.case_id)
    if case is None:
        raise NotFound("The record is missing.")
    return await ruling_json(ruling, case, user), 201


@blueprint.get("/rulings/<int:ruling_id>")
@login_required()
@validate_response(RulingOut)
async def api_get_ruling(ruling_id: int) -> Any:
    user = require_user()
    ruling, case = await access_ruling(await db_session(), user, ruling_id)
    return await ruling_json(ruling, case, user)


@blueprint.post("/rulings/<int:ruling_id>/approvals")
@login_required()
@validate_request(ApprovalRequest)
async def api_approve(ruling_id: int, data: ApprovalRequest) -> Any:
    user = require_user()
    approval = await do_answer_approval(
        await db_session(),
        runtime().settings,
        actor=user,
        ruling_id=ruling_id,
        otp=data.otp,
        approve=data.approve,
        reason=data.reason,
    )
    return {
        "member_id": approval.member_id,
        "approved": approval.approved,
        "at": _iso(approval.at),
    }, 201


@blueprint.post("/rulings/<int:ruling_id>/missing-signatures")
@login_required()
@validate_request(MissingSignatureRequest)
async def api_missing_signature(ruling_id: int, data: MissingSignatureRequest) -> Any:
    """The secretary records why a member who voted has not signed the ruling."""
    user = require_user()
    record = await do_record_missing_signature(
        await db_session(),
        actor=user,
        ruling_id=ruling_id,
        member_id=data.member_id,
        reason=data.reason,
    )
    return {"member_id": record.member_id, "reason": record.reason, "at": _iso(record.at)}, 201


@blueprint.post("/rulings/<int:ruling_id>/issue")
@login_required()
async def api_issue(ruling_id: int) -> Any:
    user = require_user()
    rt = runtime()
    # No request transaction around the issue: it opens its own, short ones, and renders
    # and signs with none open.
    ruling = await issue_ruling(
        rt.db, rt.settings, actor=user, ruling_id=ruling_id, progress=IssueProgress(rt.shared)
    )
    session = await db_session()
    case = await session.get(Case, ruling.case_id)
    if case is None:
        raise NotFound("The record is missing.")
    return await ruling_json(ruling, case, user)


@blueprint.get("/rulings/<int:ruling_id>/progress")
@login_required()
async def api_progress(ruling_id: int) -> Any:
    """Where an issue is: composing, rendering, signing, storing, issued, or failed."""
    user = require_user()
    ruling, _case = await access_ruling(await db_session(), user, ruling_id)
    progress = await IssueProgress(runtime().shared).get(ruling_id)
    if ruling.state.value != "draft":
        step, error = "issued", None
    elif progress is None:
        step, error = "waiting", None
    else:
        step, error = progress
    return {
        "step": step,
        "steps": list(ISSUE_STEPS),
        "error": _(error) if error else None,
        "state": ruling.state.value,
    }


@blueprint.get("/rulings/<int:ruling_id>/pdf")
@login_required()
@writes
async def api_download(ruling_id: int) -> Any:
    """The signed PDF. A party's first download is recorded as notification (ابلاغ)."""
    user = require_user()
    ruling, pdf = await read_ruling_pdf(
        await db_session(), runtime().settings, actor=user, ruling_id=ruling_id
    )
    return pdf_response(pdf, f"{ruling.number}.pdf")


@blueprint.post("/rulings/<int:ruling_id>/objections")
@login_required()
@validate_request(ObjectionRequest)
async def api_object(ruling_id: int, data: ObjectionRequest) -> Any:
    user = require_user()
    session = await db_session()
    objection = await do_object(
        session, runtime().settings, actor=user, ruling_id=ruling_id, text=data.text
    )
    appeal = await session.get(Case, objection.appeal_case_id)
    if appeal is None:
        raise NotFound("The record is missing.")
    return {
        "objection_id": objection.id,
        "appeal_case": {
            "id": appeal.id,
            "number": appeal.number,
            "tracking_code": appeal.tracking_code,
            "board_id": appeal.board_id,
            "status": appeal.status.value,
        },
    }, 201


@blueprint.post("/rulings/<int:ruling_id>/notifications")
@login_required()
async def api_record_notification(ruling_id: int) -> Any:
    """The secretary records a party's notification served outside the system: multipart
    ``party_id``, ``date`` (Jalali), ``method`` (in_person, post, electronic), ``file``."""
    user = require_user()
    form = await request.form
    files = await request.files
    try:
        party_id = int(form.get("party_id", ""))
    except ValueError:
        raise Invalid("Choose the party who was notified.", field="party_id") from None
    upload = files.get("file")
    limit = runtime().settings.max_upload_bytes
    evidence = upload.read(limit + 1) if upload is not None and upload.filename else None
    note, window = await record_notification(
        runtime().db,
        runtime().settings,
        actor=user,
        ruling_id=ruling_id,
        party_id=party_id,
        date_text=form.get("date", ""),
        method=form.get("method", ""),
        evidence=evidence,
    )
    return {
        "party_id": note.party_id,
        "method": note.method.value,
        "notified_at": _iso(note.notified_at),
        "last_day": jalali_text(window.last_day),
        "closes_at": _iso(window.closes_at),
    }, 201


@blueprint.get("/cases/<int:case_id>/objections")
@login_required()
async def api_case_objections(case_id: int) -> Any:
    """The objections an appeal case hears (every party's), oldest first."""
    user = require_user()
    rows = await objections_of_case(await db_session(), user, case_id)
    return {
        "objections": [
            {
                "id": o.id,
                "ruling": r.number,
                "party_id": p.id,
                "role": p.role.value,
                "name": p.full_name,
                "text": o.text,
                "at": _iso(o.at),
                "appeal_case_id": o.appeal_case_id,
            }
            for o, p, r in rows
        ]
    }


@blueprint.post("/hearings/<int:hearing_id>/minutes")
@login_required()
async def api_issue_minutes(hearing_id: int) -> Any:
    user = require_user()
    rt = runtime()  # its own short transactions; none open while it renders and signs
    minutes = await issue_minutes(rt.db, rt.settings, actor=user, hearing_id=hearing_id)
    return minutes_json(minutes), 201


@blueprint.get("/minutes/<int:minutes_id>/pdf")
@login_required()
async def api_minutes_pdf(minutes_id: int) -> Any:
    user = require_user()
    minutes, pdf = await read_minutes_pdf(
        await db_session(), runtime().settings, actor=user, minutes_id=minutes_id
    )
    return pdf_response(pdf, f"minutes-H{minutes.hearing_id}.pdf")


def minutes_json(minutes: Minutes) -> dict[str, Any]:
    return {
        "id": minutes.id,
        "hearing_id": minutes.hearing_id,
        "verification_code": minutes.verification_code,
        "pdf_sha256": minutes.pdf_sha256,
        "signed_at": _iso(minutes.signed_at),
    }


@blueprint.post("/verify")
@csrf_exempt  # public, no session: nothing to forge
@validate_response(VerdictOut)
async def api_verify() -> Any:
    """Public: a PDF (multipart field ``file`` or an ``application/pdf`` body) or
    ``{"code": ...}``. Answers ``authentic`` and why not, in the caller's language."""
    await limit_public("verify", runtime().settings.public_verify_rate)
    session = await db_session()
    if request.mimetype == "application/json":
        body = await request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("code"), str):
            raise Invalid("Give a verification code or a PDF file.")
        return verdict_json(await check_code(session, body["code"]))
    data = await read_upload()
    return verdict_json(await check_pdf(session, runtime().settings, data))


@blueprint.get("/verify/<code>")
@validate_response(VerdictOut)
async def api_verify_code(code: str) -> Any:
    await limit_public("verify", runtime().settings.public_verify_rate)
    return verdict_json(await check_code(await db_session(), code))


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """The verdict as the API answers it, its problems in the caller's language."""
    signature = verdict.signature
    return {
        "authentic": verdict.authentic,
        "kind": verdict.kind,
        "derived_from": verdict.details.get("original_code"),
        "problems": [_(p) for p in verdict.problems],
        "sha256": verdict.sha256,
        "number": verdict.number,
        "case_number": verdict.case_number,
        "state": verdict.state,
        "issued_at": _iso(verdict.issued_at),
        "final_at": _iso(verdict.final_at),
        "objection_deadline": _iso(verdict.objection_deadline),
        "board": verdict.board,
        "signature": None
        if signature is None
        else {
            "signed": signature.signed,
            "intact": signature.intact,
            "valid": signature.valid,
            "trusted": signature.trusted,
            "signer": signature.signer_subject,
            "error": signature.error,
        },
    }


async def read_upload() -> bytes:
    """The uploaded PDF from a form (field ``file``) or a raw ``application/pdf`` body."""
    limit = runtime().settings.max_upload_bytes
    if request.mimetype == "application/pdf":
        data = await request.get_data(cache=False)
        raw = data if isinstance(data, bytes) else data.encode()
    else:
        files = await request.files
        upload = files.get("file")
        if upload is None or not upload.filename:
            raise Invalid("Choose the PDF file to check.", field="file")
        raw = upload.read(limit + 1)
    if len(raw) > limit:
        raise TooLarge("The file is too large.")
    if not raw.startswith(b"%PDF-"):
        raise UnsupportedType("This is not a PDF file. Upload the ruling as a PDF.", field="file")
    return raw


def pdf_response(pdf: bytes, filename: str) -> Response:
    # The ASCII name is made from the full one (Persian digits become "_").
    return no_store(
        file_download(pdf, mimetype="application/pdf", filename=filename, fallback=filename)
    )


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
    filters.province_id = number("province_id")
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


async def limit_public_rulings() -> None:
    await limit_public("public_rulings", runtime().settings.public_rulings_rate)


# --------------------------------------------------------------------------- public rulings


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
        "pdf_url": url_for("issuance.public_pdf", code=row.code),
        "page_url": url_for("issuance.public_detail", code=row.code),
        "verify_url": url_for("issuance.verify_code", code=row.code),
    }


@blueprint.get("/public/rulings")
@validate_response(PublicRulingPageOut)
async def api_search() -> Any:
    """Public: anonymised final rulings, newest first. Query: province_id, office_id, board_id,
    date_from, date_to (Jalali ``1405/01/15`` or ISO), claim_kind, outcome, q (Persian
    text, any digits, ي/ك, with or without zero-width non-joiners), page, per_page."""
    await limit_public_rulings()
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


@blueprint.get("/public/rulings/<code>")
@validate_response(PublicRulingOut)
async def api_detail(code: str) -> Any:
    await limit_public_rulings()
    return public_json(await require_public(await db_session(), code))
