"""/api/v1/cases: the same services as the pages, as JSON (quart-schema validated)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint, request
from quart_schema import validate_request, validate_response

from hearing_server.accounts.models import Role, User
from hearing_server.cases import activation, files, filing, search, tracking
from hearing_server.cases.access import access_case
from hearing_server.cases.models import (
    Case,
    CaseStatus,
    ClaimKind,
    Document,
    DocumentVisibility,
)
from hearing_server.cases.petition import ClaimInput, PetitionInput, parse_date
from hearing_server.errors import Invalid, TooLarge
from hearing_server.scheduling.queries import next_hearing
from hearing_server.web.context import (
    client_ip,
    csrf_exempt,
    db_session,
    login_required,
    require_user,
    runtime,
    writes,
)
from hearing_server.web.inputs import DbId
from hearing_server.web.responses import file_download
from hearing_server.web.schemas import Out

blueprint = Blueprint("api_cases", __name__, url_prefix="/api/v1")
# The public tracking call carries no session, so there is no cross-site request to forge.

FILERS = (Role.PARTY, Role.CLERK, Role.SECRETARY, Role.ADMIN)


class ClaimIn(BaseModel):
    kind: ClaimKind
    amount: int | str | None = Field(default=None, description="rials")
    period_from: str | None = Field(default=None, max_length=20, description="Jalali or ISO date")
    period_to: str | None = Field(default=None, max_length=20)
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class PetitionIn(BaseModel):
    board_id: DbId | None = None
    claimant_name: str | None = Field(default=None, max_length=200)
    claimant_national_id: str | None = Field(default=None, max_length=32)
    claimant_mobile: str | None = Field(default=None, max_length=32)
    claimant_address: str | None = Field(default=None, max_length=1000)
    employer_name: str | None = Field(default=None, max_length=200)
    workshop_name: str | None = Field(default=None, max_length=200)
    workshop_address: str | None = Field(default=None, max_length=1000)
    employer_national_id: str | None = Field(default=None, max_length=32)
    employer_registration_number: str | None = Field(default=None, max_length=32)
    employer_mobile: str | None = Field(default=None, max_length=32)
    employment_start: str | None = Field(default=None, max_length=20)
    employment_end: str | None = Field(default=None, max_length=20)
    last_monthly_wage: int | str | None = None
    description: str | None = Field(default=None, max_length=5000)
    claims: list[ClaimIn] = Field(default_factory=list, max_length=len(ClaimKind))
    submit: bool = Field(default=False, description="file it now (else: keep as a draft)")

    def to_input(self) -> PetitionInput:
        fields = self.model_dump(exclude={"claims", "submit"})
        return PetitionInput(
            **fields,
            claims=[
                ClaimInput(
                    kind=c.kind.value,
                    amount=c.amount,
                    period_from=c.period_from,
                    period_to=c.period_to,
                    title=c.title,
                    description=c.description,
                )
                for c in self.claims
            ],
        )


class ReasonIn(BaseModel):
    reason: str = Field(max_length=2000)


class TrackIn(BaseModel):
    tracking_code: str = Field(max_length=32)
    national_id: str = Field(max_length=32)


class TimelineOut(Out):
    status: str
    at: str | None


class TrackOut(Out):
    number: str | None
    status: str
    timeline: list[TimelineOut]
    next_hearing: str | None


class CaseRowOut(Out):
    id: int
    number: str | None
    status: str
    board_id: int | None
    filed_at: str | None
    claimant: str | None
    respondent: str | None


class CasePageOut(Out):
    page: int
    per_page: int
    has_next: bool
    cases: list[CaseRowOut]


class PartyOut(Out):
    id: int
    role: str
    full_name: str | None
    national_id: str | None
    registration_number: str | None
    mobile: str | None
    user_id: int | None


class ClaimOut(Out):
    id: int
    kind: str
    amount: int | None
    period_from: str | None
    period_to: str | None
    title: str | None


class CaseOut(Out):
    id: int
    number: str | None
    tracking_code: str | None
    status: str
    board_id: int | None
    filed_via: str
    filed_at: str | None
    created_at: str | None
    return_reason: str | None
    workshop_name: str | None
    workshop_address: str | None
    employment_start: str | None
    employment_end: str | None
    last_monthly_wage: int | None
    description: str | None
    parties: list[PartyOut]
    claims: list[ClaimOut]


class CaseDetailOut(CaseOut):
    timeline: list[TimelineOut]
    next_hearing: str | None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def case_json(case: Case, *, full: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": case.id,
        "number": case.number,
        "tracking_code": case.tracking_code,
        "status": case.status.value,
        "board_id": case.board_id,
        "filed_via": case.filed_via.value,
        "filed_at": _iso(case.filed_at),
        "created_at": _iso(case.created_at),
        "return_reason": case.return_reason if case.status == CaseStatus.RETURNED else None,
    }
    if full:
        body.update(
            workshop_name=case.workshop_name,
            workshop_address=case.workshop_address,
            employment_start=_iso(case.employment_start),
            employment_end=_iso(case.employment_end),
            last_monthly_wage=case.last_monthly_wage,
            description=case.description,
            parties=[
                {
                    "id": p.id,
                    "role": p.role.value,
                    "full_name": p.full_name,
                    "national_id": p.national_id,
                    "registration_number": p.registration_number,
                    "mobile": p.mobile,
                    "user_id": p.user_id,
                }
                for p in case.parties
            ],
            claims=[
                {
                    "id": c.id,
                    "kind": c.kind.value,
                    "amount": c.amount,
                    "period_from": _iso(c.period_from),
                    "period_to": _iso(c.period_to),
                    "title": c.title,
                }
                for c in case.claims
            ],
        )
    return body


def document_json(document: Document) -> dict[str, Any]:
    return {
        "id": document.id,
        "title": document.title,
        "kind": document.kind,
        "visibility": document.visibility.value,
        "sha256": document.sha256,
        "original_sha256": document.original_sha256,
        "uploaded_at": _iso(document.uploaded_at),
        "uploaded_by_id": document.uploaded_by_id,
        "withdrawn": document.withdrawn_at is not None,
        "withdrawn_reason": document.withdrawn_reason,
    }


def _page_json(result: search.CasePage) -> dict[str, Any]:
    return {
        "page": result.page,
        "per_page": result.per_page,
        "has_next": result.has_next,
        "cases": [
            {
                "id": r.id,
                "number": r.number,
                "status": r.status.value,
                "board_id": r.board_id,
                "filed_at": _iso(r.filed_at),
                "claimant": r.claimant,
                "respondent": r.respondent,
            }
            for r in result.rows
        ],
    }


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise Invalid("The request is not valid.", field=name)
    return int(raw)


@blueprint.get("/cases")
@login_required()
@validate_response(CasePageOut)
async def list_cases() -> Any:
    """Cases the caller may read; filters status, board_id, filed_from, filed_to, q, page."""
    args = request.args
    filters = search.CaseFilter(
        page=_int_arg("page", 1),
        per_page=min(_int_arg("per_page", 25), 100),
        q=(args.get("q") or "")[:100] or None,
        include_drafts=args.get("drafts") == "1",
    )
    if args.get("status"):
        try:
            filters.status = CaseStatus(args["status"])
        except ValueError as exc:
            raise Invalid("Choose a status from the list.", field="status") from exc
    if args.get("board_id"):
        filters.board_id = _int_arg("board_id", 0)
    for name in ("filed_from", "filed_to"):
        try:
            setattr(filters, name, parse_date(args.get(name) or None))
        except ValueError as exc:
            raise Invalid("Enter the date as year/month/day, e.g. 1403/05/01.", field=name) from exc
    result = await search.search_cases(await db_session(), actor=require_user(), filters=filters)
    return _page_json(result)


@blueprint.get("/cases/inbox")
@login_required(Role.SECRETARY, Role.ADMIN)
async def inbox() -> Any:
    result = await search.inbox(await db_session(), actor=require_user(), page=_int_arg("page", 1))
    return _page_json(result)


@blueprint.post("/cases")
@login_required(*FILERS)
@validate_request(PetitionIn)
@validate_response(CaseOut, 201)
async def create_case(data: PetitionIn) -> Any:
    """A draft, or (``submit``: true) a filed complaint with its number and tracking code."""
    session = await db_session()
    user = require_user()
    if data.submit:
        case = await filing.do_file(session, actor=user, data=data.to_input())
        await _issue_activation(user, case)
    else:
        case = await filing.do_save_petition(session, actor=user, data=data.to_input())
    return case_json(case), 201


@blueprint.put("/cases/<int:case_id>")
@login_required(*FILERS)
@validate_request(PetitionIn)
async def update_case(case_id: int, data: PetitionIn) -> Any:
    session = await db_session()
    user = require_user()
    case = await filing.do_save_petition(session, actor=user, data=data.to_input(), case_id=case_id)
    if data.submit:
        case = await filing.do_submit(session, actor=user, case_id=case.id)
        await _issue_activation(user, case)
    return case_json(case)


@blueprint.post("/cases/<int:case_id>/submit")
@login_required(*FILERS)
async def submit_case(case_id: int) -> Any:
    case = await filing.do_submit(await db_session(), actor=require_user(), case_id=case_id)
    await _issue_activation(require_user(), case)
    return case_json(case)


async def _issue_activation(user: User, case: Case) -> None:
    """A worker's account made by this filing gets its activation code by SMS (the web
    page also prints it on the receipt)."""
    await activation.do_issue_for_case(
        await db_session(), runtime().settings, actor=user, case=case
    )


@blueprint.get("/cases/<int:case_id>")
@login_required()
@validate_response(CaseDetailOut)
async def get_case(case_id: int) -> Any:
    user = require_user()
    session = await db_session()
    case, _standing = await access_case(session, user, case_id, full=True)
    body = case_json(case)
    body["timeline"] = [
        {"status": e.status.value, "at": _iso(e.at), "reason": e.reason_text}
        for e in await tracking.timeline(session, case.id)
    ]
    body["next_hearing"] = _iso(await next_hearing(session, case.id))
    return body


@blueprint.post("/cases/<int:case_id>/accept")
@login_required()
async def accept(case_id: int) -> Any:
    case = await filing.do_accept(await db_session(), actor=require_user(), case_id=case_id)
    return case_json(case, full=False)


@blueprint.post("/cases/<int:case_id>/return")
@login_required()
@validate_request(ReasonIn)
async def return_case(case_id: int, data: ReasonIn) -> Any:
    case = await filing.do_return(
        await db_session(), actor=require_user(), case_id=case_id, reason=data.reason
    )
    return case_json(case, full=False)


@blueprint.post("/cases/<int:case_id>/refer")
@login_required(Role.SECRETARY, Role.ADMIN)
@validate_request(ReasonIn)
async def refer(case_id: int, data: ReasonIn) -> Any:
    """Refer a case in the diagnosis board's queue to the settlement board, with the reason."""
    case = await filing.do_refer(
        await db_session(), actor=require_user(), case_id=case_id, reason=data.reason
    )
    return case_json(case, full=False)


@blueprint.get("/cases/<int:case_id>/history")
@login_required()
async def history(case_id: int) -> Any:
    user = require_user()
    session = await db_session()
    await access_case(
        session, user, case_id, staff_only="Only the board secretary sees a case's history."
    )
    entries = await tracking.history(session, actor=user, case_id=case_id)
    return {
        "events": [
            {
                "seq": e.seq,
                "at": _iso(e.at),
                "action": e.action,
                "actor": e.actor_name,
                "payload": e.payload,
            }
            for e in entries
        ]
    }


@blueprint.get("/cases/<int:case_id>/documents")
@login_required()
async def documents(case_id: int) -> Any:
    found = await files.list_documents(await db_session(), actor=require_user(), case_id=case_id)
    return {"documents": [document_json(d) for d in found]}


@blueprint.post("/cases/<int:case_id>/documents")
@login_required(*FILERS)
async def upload(case_id: int) -> Any:
    """multipart/form-data: file, title, kind, visibility (parties|board)."""
    user = require_user()
    rt = runtime()
    async with rt.db.transaction(write=False) as check:
        await files.check_may_upload(check, user, case_id)
    if (request.content_length or 0) > rt.settings.max_upload_bytes + 64 * 1024:
        raise TooLarge(
            "The file is too large: at most {mb} MB is accepted.",
            mb=max(1, rt.settings.max_upload_bytes // (1024 * 1024)),
        )
    form = await request.form
    storage = (await request.files).get("file")
    if storage is None:
        raise Invalid("Choose a file to upload.", field="file")
    prepared = await files.prepare_upload_async(storage.read(), rt.settings)
    visibility_raw = form.get("visibility", "parties")
    try:
        visibility = DocumentVisibility(visibility_raw)
    except ValueError as exc:
        raise Invalid("Choose who may see the document.", field="visibility") from exc
    document, created = await files.add_document(
        rt.db,
        rt.settings,
        actor=user,
        case_id=case_id,
        prepared=prepared,
        title=form.get("title", ""),
        kind=form.get("kind", ""),
        visibility=visibility,
        filename=storage.filename,
    )
    # The same content again: the document already in the case file, 200 instead of 201.
    return document_json(document), 201 if created else 200


@blueprint.get("/cases/<int:case_id>/documents/<int:document_id>/file")
@login_required()
@writes
async def download(case_id: int, document_id: int) -> Any:
    user = require_user()
    session = await db_session()
    document = await files.require_document(
        session, actor=user, case_id=case_id, document_id=document_id
    )
    data = await files.read_document_bytes(runtime().settings, document)
    mime = await files.document_mime_type(session, document)
    await files.do_record_download(session, actor=user, document=document)
    return file_download(
        data,
        mimetype=mime,
        filename=files.download_name(document, mime),
        fallback=f"document-{document.id}.{files.EXTENSIONS[mime]}",
    )


@blueprint.post("/cases/<int:case_id>/documents/<int:document_id>/withdraw")
@login_required()
@validate_request(ReasonIn)
async def withdraw(case_id: int, document_id: int, data: ReasonIn) -> Any:
    document = await files.do_withdraw_document(
        await db_session(),
        actor=require_user(),
        case_id=case_id,
        document_id=document_id,
        reason=data.reason,
    )
    return document_json(document)


@blueprint.post("/track")
@csrf_exempt  # public, no session: nothing to forge
@validate_request(TrackIn)
@validate_response(TrackOut)
async def track(data: TrackIn) -> Any:
    """Public: status timeline and next hearing for a tracking code and national ID."""
    session = await db_session()
    result = await tracking.track(
        session, code=data.tracking_code, national_id=data.national_id, ip=client_ip()
    )
    return {
        "number": result.number,
        "status": result.status.value,
        "timeline": [{"status": e.status.value, "at": _iso(e.at)} for e in result.timeline],
        "next_hearing": _iso(await next_hearing(session, result.case_id)),
    }
