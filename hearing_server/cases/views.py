"""Case pages: filing (worker, clerk, secretary), my cases, the secretary's inbox and
list, the case file, receipt (print and PDF) and the public tracking page."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from markupsafe import Markup
from persiantools.jdatetime import JalaliDate
from quart import Blueprint, Response, render_template, request, url_for

from hearing_server import i18n
from hearing_server.accounts.models import Role, User
from hearing_server.boards.models import Board
from hearing_server.cases import (
    activation,
    activation_views,
    files,
    filing,
    numbers,
    presentation,
    search,
    tracking,
)
from hearing_server.cases.access import access_case, is_staff
from hearing_server.cases.models import (
    Case,
    CaseStatus,
    ClaimKind,
    DocumentVisibility,
    PartyRole,
)
from hearing_server.cases.petition import ClaimInput, PetitionInput, parse_date
from hearing_server.errors import DomainError, Invalid, TooLarge
from hearing_server.i18n import gettext as _
from hearing_server.scheduling.queries import next_hearing
from hearing_server.web.context import (
    client_ip,
    db_session,
    login_required,
    mark_persist,
    no_store,
    require_user,
    retry_after_header,
    runtime,
    writes,
)
from hearing_server.web.responses import file_download, form_errors, redirect

blueprint = Blueprint("cases", __name__)

FILERS = (Role.PARTY, Role.CLERK, Role.SECRETARY, Role.ADMIN)
PETITION_FIELDS = (
    "board_id",
    "claimant_name",
    "claimant_national_id",
    "claimant_mobile",
    "claimant_address",
    "employer_name",
    "workshop_name",
    "workshop_address",
    "employer_national_id",
    "employer_registration_number",
    "employer_mobile",
    "employment_start",
    "employment_end",
    "last_monthly_wage",
    "description",
)


def labels() -> dict[str, Any]:
    return {
        "status_label": lambda s: _(presentation.STATUS_LABELS[CaseStatus(s)]),
        "claim_label": lambda k: _(presentation.CLAIM_LABELS[ClaimKind(k)]),
        "doc_kind_label": lambda k: _(presentation.document_kind_label(k)),
        "tracking": numbers.format_tracking_code,
        "rials": _rials,
        "claim_kinds": list(ClaimKind),
        "checklist": presentation.CHECKLIST,
        "common_documents": presentation.COMMON_DOCUMENTS,
        "document_kinds": presentation.DOCUMENT_KINDS,
    }


def _rials(amount: int | None) -> str:
    from hearing_server.i18n import as_locale
    from rulings.persian import format_rials

    return "" if amount is None else format_rials(amount, as_locale())


def _jalali_text(value: date | None) -> str:
    if value is None:
        return ""
    j = JalaliDate(value)  # type: ignore[no-untyped-call]  # persiantools is untyped
    return f"{j.year:04d}/{j.month:02d}/{j.day:02d}"


def petition_from_form(form: Any) -> PetitionInput:
    data = PetitionInput()
    for name in PETITION_FIELDS:
        value = form.get(name)
        if name == "board_id":
            data.board_id = int(value) if value and str(value).isdigit() else None
        else:
            setattr(data, name, value or None)
    for kind in ClaimKind:
        prefix = f"claims.{kind.value}"
        if form.get(prefix):
            data.claims.append(
                ClaimInput(
                    kind=kind.value,
                    amount=form.get(f"{prefix}.amount") or None,
                    period_from=form.get(f"{prefix}.period_from") or None,
                    period_to=form.get(f"{prefix}.period_to") or None,
                    title=form.get(f"{prefix}.title") or None,
                    description=form.get(f"{prefix}.description") or None,
                )
            )
    return data


def values_from_case(case: Case) -> dict[str, str]:
    claimant = next((p for p in case.parties if p.role == PartyRole.CLAIMANT), None)
    employer = next((p for p in case.parties if p.role == PartyRole.RESPONDENT), None)
    values = {
        "board_id": str(case.board_id),
        "claimant_name": claimant.full_name if claimant else "",
        "claimant_national_id": (claimant.national_id or "") if claimant else "",
        "claimant_mobile": (claimant.mobile or "") if claimant else "",
        "claimant_address": (claimant.address or "") if claimant else "",
        "employer_name": employer.full_name if employer else "",
        "workshop_name": case.workshop_name or "",
        "workshop_address": case.workshop_address or "",
        "employer_national_id": (employer.national_id or "") if employer else "",
        "employer_registration_number": (employer.registration_number or "") if employer else "",
        "employer_mobile": (employer.mobile or "") if employer else "",
        "employment_start": _jalali_text(case.employment_start),
        "employment_end": _jalali_text(case.employment_end),
        "last_monthly_wage": str(case.last_monthly_wage or ""),
        "description": case.description or "",
    }
    for claim in case.claims:
        prefix = f"claims.{claim.kind.value}"
        values[prefix] = "on"
        values[f"{prefix}.amount"] = str(claim.amount or "")
        values[f"{prefix}.period_from"] = _jalali_text(claim.period_from)
        values[f"{prefix}.period_to"] = _jalali_text(claim.period_to)
        values[f"{prefix}.title"] = claim.title or ""
    return values


async def _petition_page(
    user: User, values: dict[str, str], errors: dict[str, str], case: Case | None, status: int
) -> Any:
    session = await db_session()
    # A new complaint goes to a diagnosis board the user may file to (the settlement
    # board: appeal or referral); a case being corrected stays at its board.
    choices = await filing.fileable_boards(session, user)
    if case is not None and all(b.id != case.board_id for b in choices):
        at = await session.get(Board, case.board_id)
        choices = [*choices, *([at] if at is not None else [])]
    page = await render_template(
        "cases/file.html",
        values=values,
        errors=errors,
        case=case,
        boards=choices,
        self_filing=user.role == Role.PARTY,
        user=user,
        **labels(),
    )
    return page, status


@blueprint.route("/cases/new", methods=["GET", "POST"])
@blueprint.route("/cases/new-for-worker", methods=["GET", "POST"], endpoint="file_for_worker")
@login_required(*FILERS)
async def new_case() -> Any:
    user = require_user()
    if request.method == "GET":
        values = {}
        if user.role == Role.PARTY:
            values = {"claimant_mobile": user.mobile or ""}
        return await _petition_page(user, values, {}, None, 200)
    form = await request.form
    data = petition_from_form(form)
    session = await db_session()
    try:
        if form.get("action") == "draft":
            case = await filing.do_save_petition(session, actor=user, data=data)
            return redirect(url_for("cases.edit_case", case_id=case.id, saved=1))
        case = await filing.do_file(session, actor=user, data=data)
    except DomainError as exc:
        mark_persist(exc)
        return await _petition_page(user, dict(form), form_errors(exc), None, exc.status)
    return await _to_receipt(user, case)


async def _to_receipt(user: User, case: Case) -> Response:
    """To the receipt of a complaint just filed; a worker's account made by this filing
    gets its activation code (SMS now, and on the receipt this browser prints)."""
    issued = await activation.do_issue_for_case(
        await db_session(), runtime().settings, actor=user, case=case
    )
    response = redirect(url_for("cases.receipt", case_id=case.id))
    activation_views.remember_for_receipt(response, case.id, issued)
    return response


@blueprint.route("/cases/<int:case_id>/edit", methods=["GET", "POST"])
@login_required(*FILERS)
async def edit_case(case_id: int) -> Any:
    user = require_user()
    session = await db_session()
    case = await filing.require_editable_case(session, actor=user, case_id=case_id)
    if request.method == "GET":
        return await _petition_page(user, values_from_case(case), {}, case, 200)
    form = await request.form
    data = petition_from_form(form)
    try:
        await filing.do_save_petition(session, actor=user, data=data, case_id=case.id)
        if form.get("action") == "draft":
            return redirect(url_for("cases.edit_case", case_id=case.id, saved=1))
        filed = await filing.do_submit(session, actor=user, case_id=case.id)
    except DomainError as exc:
        mark_persist(exc)
        return await _petition_page(user, dict(form), form_errors(exc), case, exc.status)
    return await _to_receipt(user, filed)


@blueprint.get("/cases/mine")
@login_required(Role.PARTY, Role.CLERK)
async def my_cases() -> Any:
    user = require_user()
    page = _page_arg()
    result = await search.search_cases(
        await db_session(),
        actor=user,
        filters=search.CaseFilter(page=page, include_drafts=True),
    )
    boards = await search.boards_by_id(await db_session(), require_user())
    return await render_template(
        "cases/mine.html", result=result, boards=boards, user=user, **labels()
    )


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


@blueprint.get("/cases/inbox")
@login_required(Role.SECRETARY, Role.ADMIN)
async def inbox() -> Any:
    session = await db_session()
    result = await search.inbox(session, actor=require_user(), page=_page_arg())
    boards = await search.boards_by_id(session, require_user())
    return await render_template("cases/inbox.html", result=result, boards=boards, **labels())


@blueprint.get("/cases")
@login_required(Role.SECRETARY, Role.ADMIN, Role.MEMBER)
async def case_list() -> Any:
    session = await db_session()
    args = request.args
    errors: dict[str, str] = {}
    filters = search.CaseFilter(page=_page_arg(), q=(args.get("q") or "").strip()[:100] or None)
    status = args.get("status") or ""
    if status:
        try:
            filters.status = CaseStatus(status)
        except ValueError:
            errors["status"] = _("Choose a status from the list.")
    board = args.get("board") or ""
    if board.isdigit():
        filters.board_id = int(board)
    for name in ("filed_from", "filed_to"):
        try:
            setattr(filters, name, parse_date(args.get(name) or None))
        except ValueError:
            errors[name] = _("Enter the date as year/month/day, e.g. 1403/05/01.")
    boards = await search.boards_by_id(session, require_user())
    result = await search.search_cases(session, actor=require_user(), filters=filters)
    query = {k: v for k, v in args.items() if k != "page" and v}
    return await render_template(
        "cases/list.html",
        result=result,
        boards=boards,
        args=args,
        errors=errors,
        query=query,
        statuses=[s for s in CaseStatus if s != CaseStatus.DRAFT],
        **labels(),
    ), (422 if errors else 200)


async def _detail(case_id: int, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    user = require_user()
    session = await db_session()
    case, _standing = await access_case(session, user, case_id, full=True)
    documents = await files.list_documents(session, actor=user, case_id=case.id)
    timeline = await tracking.timeline(session, case.id)
    history = await tracking.history(session, actor=user, case_id=case.id) if is_staff(user) else []
    boards = await search.boards_by_id(session, require_user())
    may_upload = user.role != Role.MEMBER and case.status not in files.CLOSED
    page = await render_template(
        "cases/detail.html",
        case=case,
        documents=documents,
        timeline=timeline,
        history=history,
        board=boards.get(case.board_id),
        next_hearing=await next_hearing(session, case.id),
        staff=is_staff(user),
        may_edit=case.status in (CaseStatus.DRAFT, CaseStatus.RETURNED)
        and (case.created_by_id == user.id or is_staff(user)),
        may_upload=may_upload,
        # The worker's account waits for activation: the filing clerk or staff may re-send.
        activation_waiting=(is_staff(user) or user.role == Role.CLERK)
        and await activation.is_waiting(session, case),
        activation_sent=request.args.get("activation_sent") == "1",
        user=user,
        errors=errors or {},
        visibilities=list(DocumentVisibility),
        **labels(),
    )
    return page, status


case_detail_page = _detail  # for the pages of other parts that answer with the case page


@blueprint.get("/cases/<int:case_id>")
@login_required()
async def case_detail(case_id: int) -> Any:
    return await _detail(case_id)


@blueprint.post("/cases/<int:case_id>/accept")
@login_required()
async def accept(case_id: int) -> Any:
    await filing.do_accept(await db_session(), actor=require_user(), case_id=case_id)
    return redirect(url_for("cases.case_detail", case_id=case_id))


@blueprint.post("/cases/<int:case_id>/return")
@login_required()
async def return_case(case_id: int) -> Any:
    form = await request.form
    try:
        await filing.do_return(
            await db_session(), actor=require_user(), case_id=case_id, reason=form.get("reason", "")
        )
    except Invalid as exc:
        return await _detail(case_id, form_errors(exc), exc.status)
    return redirect(url_for("cases.case_detail", case_id=case_id))


@blueprint.post("/cases/<int:case_id>/documents")
@login_required(Role.PARTY, Role.CLERK, Role.SECRETARY, Role.ADMIN)
async def upload(case_id: int) -> Any:
    user = require_user()
    rt = runtime()
    # Check access in a short read transaction: the write lock is not held while the
    # file is parsed and converted in a thread.
    async with rt.db.transaction(write=False) as check:
        await files.check_may_upload(check, user, case_id)
    try:
        if (request.content_length or 0) > rt.settings.max_upload_bytes + 64 * 1024:
            raise TooLarge(
                "The file is too large: at most {mb} MB is accepted.",
                mb=max(1, rt.settings.max_upload_bytes // (1024 * 1024)),
            )
        form = await request.form
        upload_files = await request.files
        storage = upload_files.get("file")
        if storage is None:
            raise Invalid("Choose a file to upload.", field="file")
        data = storage.read()
        prepared = await files.prepare_upload_async(data, rt.settings)
        visibility = (
            DocumentVisibility.BOARD
            if form.get("visibility") == "board"
            else DocumentVisibility.PARTIES
        )
        await files.add_document(  # the same content again: the document already there
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
    except DomainError as exc:
        errors = form_errors(exc)
        if "_form" in errors:
            errors["file"] = errors.pop("_form")
        return await _detail(case_id, errors, exc.status)
    return redirect(url_for("cases.case_detail", case_id=case_id, _anchor="documents"))


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
async def withdraw(case_id: int, document_id: int) -> Any:
    form = await request.form
    try:
        await files.do_withdraw_document(
            await db_session(),
            actor=require_user(),
            case_id=case_id,
            document_id=document_id,
            reason=form.get("reason", ""),
        )
    except Invalid as exc:
        return await _detail(case_id, {"withdraw": form_errors(exc).popitem()[1]}, exc.status)
    return redirect(url_for("cases.case_detail", case_id=case_id, _anchor="documents"))


async def _receipt_context(case_id: int) -> dict[str, Any]:
    """The receipt's facts: the case, the tracking link and its QR code, and the activation
    code with its link and QR code when this browser filed the case a moment ago."""
    from rulings.render import qr_data_uri

    user = require_user()
    session = await db_session()
    case, _standing = await access_case(session, user, case_id, full=True)
    if case.number is None or case.tracking_code is None:
        raise Invalid("This complaint has not been filed yet: there is no receipt.")
    boards = await search.boards_by_id(session, require_user())
    settings = runtime().settings
    track_url = tracking.tracking_url(settings.base_url, case.tracking_code)
    code = await activation_views.receipt_code(case.id)
    activate_url = activation.activation_url(settings, code) if code else None
    return {
        "case": case,
        "board": boards.get(case.board_id),
        "track_url": track_url,
        "track_qr": qr_data_uri(track_url),
        "activation_code": activation.format_code(code) if code else None,
        "activate_url": activate_url,
        "activate_qr": qr_data_uri(activate_url) if activate_url else None,
        **labels(),
    }


async def _receipt_body(context: dict[str, Any], locale: str) -> Markup:
    with i18n.locale_block(locale):
        return Markup(await render_template("cases/_receipt_body.html", **context))  # noqa: S704  # our own template's output, autoescaped


@blueprint.get("/cases/<int:case_id>/receipt")
@login_required()
async def receipt(case_id: int) -> Any:
    """The worker's receipt: Persian whatever the clerk's language, an English copy below
    when the clerk reads English."""
    context = await _receipt_context(case_id)
    copies = [await _receipt_body(context, "fa")]
    if i18n.get_locale() != "fa":
        copies.append(await _receipt_body(context, i18n.get_locale()))
    page = await render_template("cases/receipt.html", copies=copies, **context)
    return no_store(Response(page))


@blueprint.get("/cases/<int:case_id>/receipt.pdf")
@login_required()
async def receipt_pdf(case_id: int) -> Any:
    from rulings.render import STATIC_DIR, html_to_pdf

    context = await _receipt_context(case_id)
    fonts = STATIC_DIR / "vendor" / "vazirmatn" / "fonts"
    with i18n.locale_block("fa"):  # the worker's receipt is Persian (item 8)
        html = await render_template(
            "cases/receipt_pdf.html",
            font_regular=(fonts / "Vazirmatn-Regular.ttf").as_uri(),
            font_bold=(fonts / "Vazirmatn-Bold.ttf").as_uri(),
            **context,
        )
    pdf = await asyncio.to_thread(html_to_pdf, html)
    number = context["case"].number
    name = f"receipt-{number}.pdf"
    return no_store(file_download(pdf, mimetype="application/pdf", filename=name, fallback=name))


@blueprint.route("/track", methods=["GET", "POST"])
async def track() -> Any:
    errors: dict[str, str] = {}
    result = None
    upcoming = None
    # The receipt's tracking link (and its QR code) carries the code.
    values = {"code": request.args.get("code", "")[:32], "national_id": ""}
    status = 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form
        values = {"code": form.get("code", ""), "national_id": form.get("national_id", "")}
        try:
            session = await db_session()
            result = await tracking.track(
                session, code=values["code"], national_id=values["national_id"], ip=client_ip()
            )
            upcoming = await next_hearing(session, result.case_id)
        except DomainError as exc:
            mark_persist(exc)
            errors = {"_form": _(exc.message, **exc.params)}
            status = exc.status
            headers = retry_after_header(exc)
    page = await render_template(
        "cases/track.html",
        result=result,
        next_hearing=upcoming,
        errors=errors,
        values=values,
        **labels(),
    )
    return no_store(Response(page, status=status, headers=headers))
