"""Pages for rulings: the party's rulings, the secretary's issue page (with progress),
the member's approval with a code, the public verification page."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, render_template, request, url_for
from sqlalchemy import select

from hearing_server.accounts.models import Role, User
from hearing_server.boards.models import Board
from hearing_server.cases.access import boards_clause
from hearing_server.cases.models import Case
from hearing_server.cases.presentation import CLAIM_LABELS
from hearing_server.clock import utcnow
from hearing_server.errors import DomainError, Invalid
from hearing_server.i18n import get_locale, lazy
from hearing_server.i18n import gettext as _
from hearing_server.issuance import minutes as minutes_service
from hearing_server.issuance import notices
from hearing_server.issuance.api import (
    OUTCOME_LABELS,
    limit_public_rulings,
    parse_filter,
    pdf_response,
    read_upload,
)
from hearing_server.issuance.compose import member_ids, ruling_content
from hearing_server.issuance.files import load_blob
from hearing_server.issuance.minutes import read_minutes_pdf
from hearing_server.issuance.models import Minutes, Objection
from hearing_server.issuance.notices import party_clocks, window_of
from hearing_server.issuance.objections import do_object, objections_of_case
from hearing_server.issuance.progress import IssueProgress
from hearing_server.issuance.public import (
    offices_and_boards,
    provinces,
    require_public,
    search_public,
)
from hearing_server.issuance.queries import (
    access_ruling,
    approvals_of,
    is_staff,
    list_decided_cases,
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
    render_draft_pdf,
    signatures_needed,
)
from hearing_server.issuance.verification import Verdict, check_code, check_pdf
from hearing_server.scheduling.models import Hearing
from hearing_server.web.context import (
    db_session,
    limit_public,
    login_required,
    mark_persist,
    no_store,
    require_user,
    runtime,
    writes,
)
from hearing_server.web.responses import form_errors, redirect

blueprint = Blueprint("issuance", __name__)

# The values the templates show translated as msgids (``_(ruling.state.value)``,
# ``_(verdict.kind)``, ``_(verdict.state)``), written out so that extraction finds them.
SHOWN_VALUES = (
    lazy("draft"),
    lazy("issued"),
    lazy("final"),
    lazy("appealed"),
    lazy("superseded"),
    lazy("ruling"),
    lazy("minutes"),
    lazy("signed"),
    lazy("public_ruling"),
)

# How the secretary may record a notification served outside the system.
NOTIFICATION_METHODS = (
    ("in_person", lazy("In person, signed for")),
    ("post", lazy("Registered post")),
    ("electronic", lazy("Electronic notice (Sana)")),
    ("download", lazy("Downloaded by the party")),
)


@blueprint.get("/rulings")
@login_required()
async def index() -> Any:
    """Parties: their rulings. Members: rulings of their boards. Secretary: the work list."""
    user = require_user()
    session = await db_session()
    rows = await list_rulings(session, user)
    decided = await list_decided_cases(session, user) if is_staff(user) else []
    hearings: list[tuple[Hearing, Minutes | None]] = []
    if is_staff(user):
        held = await session.scalars(
            select(Hearing)
            .where(
                Hearing.status.in_(["held", "in_progress", "failed_quorum"]),
                Hearing.board_id.in_(select(Board.id).where(boards_clause(user))),
            )
            .order_by(Hearing.starts_at.desc())
            .limit(30)
        )
        for hearing in held:
            minutes = await session.scalar(select(Minutes).where(Minutes.hearing_id == hearing.id))
            hearings.append((hearing, minutes))
    return await render_template(
        "issuance/index.html", rows=rows, decided=decided, hearings=hearings
    )


async def _detail(
    ruling_id: int, *, errors: dict[str, str] | None = None, status: int = 200, form: Any = None
) -> Any:
    user = require_user()
    session = await db_session()
    ruling, case = await access_ruling(session, user, ruling_id)
    approvals = await approvals_of(session, ruling.id)
    voter_ids = member_ids(ruling)
    voters = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(voter_ids)))}
    mine = await parties_of(session, user, case.id)
    notification = await notification_of(session, ruling, mine[0]) if mine else None
    clocks = (
        await party_clocks(session, ruling)
        if is_staff(user) and ruling.state.value != "draft"
        else []
    )
    objections = list(
        await session.scalars(select(Objection).where(Objection.ruling_id == ruling.id))
    )
    appeals = {
        o.id: await session.get(Case, o.appeal_case_id) for o in objections if o.appeal_case_id
    }
    answered = {a.member_id: a for a in approvals}
    missing = {m.member_id: m for m in await missing_signatures_of(session, ruling.id)}
    dissenting = {
        i
        for i, m in zip(voter_ids, ruling.content.get("members", []), strict=False)
        if m.get("dissent")
    }
    page = await render_template(
        "issuance/detail.html",
        ruling=ruling,
        case=case,
        content=ruling_content(ruling),
        approvals=approvals,
        answered=answered,
        voters=[voters[i] for i in voter_ids if i in voters],
        missing=missing,
        dissenting=dissenting,
        needed=signatures_needed(ruling),
        approved_count=sum(1 for a in approvals if a.approved),
        accounted_count=sum(
            1 for i in voter_ids if (i in answered and answered[i].approved) or i in missing
        ),
        can_approve=user.role == Role.MEMBER
        and ruling.state.value == "draft"
        and user.id in voter_ids
        and user.id not in answered,
        is_party=bool(mine),
        notification=notification,
        my_window=await window_of(session, ruling, notification),
        clocks=clocks,
        methods=NOTIFICATION_METHODS,
        now=utcnow(),
        objections=objections,
        appeals=appeals,
        errors=errors or {},
        form=form or {},
    )
    return no_store(Response(page, status=status, mimetype="text/html"))


@blueprint.get("/rulings/<int:ruling_id>")
@login_required()
async def detail(ruling_id: int) -> Any:
    return await _detail(ruling_id)


@blueprint.post("/cases/<int:case_id>/ruling/draft")
@login_required()
async def draft(case_id: int) -> Any:
    user = require_user()
    ruling = await do_draft_ruling(
        await db_session(), runtime().settings, actor=user, case_id=case_id
    )
    return redirect(url_for("issuance.detail", ruling_id=ruling.id))


@blueprint.post("/rulings/<int:ruling_id>/approve")
@login_required(Role.MEMBER)
async def approve(ruling_id: int) -> Any:
    user = require_user()
    form = await request.form
    try:
        await do_answer_approval(
            await db_session(),
            runtime().settings,
            actor=user,
            ruling_id=ruling_id,
            otp=form.get("otp", ""),
            approve=form.get("answer", "approve") != "refuse",
            reason=form.get("reason"),
        )
    except DomainError as exc:
        mark_persist(exc)
        return await _detail(ruling_id, errors=form_errors(exc), status=exc.status, form=form)
    return redirect(url_for("issuance.detail", ruling_id=ruling_id))


@blueprint.post("/rulings/<int:ruling_id>/missing-signature")
@login_required(Role.SECRETARY, Role.ADMIN)
async def missing_signature(ruling_id: int) -> Any:
    """The secretary records why a member who voted has not signed."""
    user = require_user()
    form = await request.form
    try:
        member_id = int(form.get("member_id", ""))
    except ValueError:
        member_id = 0
    try:
        await do_record_missing_signature(
            await db_session(),
            actor=user,
            ruling_id=ruling_id,
            member_id=member_id,
            reason=form.get("reason", ""),
        )
    except DomainError as exc:
        mark_persist(exc)
        return await _detail(ruling_id, errors=form_errors(exc), status=exc.status, form=form)
    return redirect(url_for("issuance.detail", ruling_id=ruling_id))


@blueprint.post("/rulings/<int:ruling_id>/issue")
@login_required(Role.SECRETARY, Role.ADMIN)
async def issue(ruling_id: int) -> Any:
    """Without JavaScript: issue in the request, then show the ruling."""
    user = require_user()
    try:
        rt = runtime()
        await issue_ruling(  # its own short transactions; none open while it renders and signs
            rt.db,
            rt.settings,
            actor=user,
            ruling_id=ruling_id,
            progress=IssueProgress(rt.shared),
        )
    except DomainError as exc:
        mark_persist(exc)
        return await _detail(ruling_id, errors=form_errors(exc), status=exc.status)
    return redirect(url_for("issuance.detail", ruling_id=ruling_id))


@blueprint.get("/rulings/<int:ruling_id>/pdf")
@login_required()
@writes
async def download(ruling_id: int) -> Any:
    """The signed PDF; a party's first download is recorded as notification (ابلاغ)."""
    user = require_user()
    ruling, pdf = await read_ruling_pdf(
        await db_session(), runtime().settings, actor=user, ruling_id=ruling_id
    )
    return pdf_response(pdf, f"{ruling.number}.pdf")


@blueprint.get("/rulings/<int:ruling_id>/draft.pdf")
@login_required(Role.SECRETARY, Role.ADMIN, Role.MEMBER)
async def draft_pdf(ruling_id: int) -> Any:
    user = require_user()
    ruling, pdf = await render_draft_pdf(await db_session(), actor=user, ruling_id=ruling_id)
    return pdf_response(pdf, f"{ruling.number}-draft.pdf")


@blueprint.post("/rulings/<int:ruling_id>/objection")
@login_required(Role.PARTY)
async def object_(ruling_id: int) -> Any:
    user = require_user()
    form = await request.form
    try:
        await do_object(
            await db_session(),
            runtime().settings,
            actor=user,
            ruling_id=ruling_id,
            text=form.get("text", ""),
        )
    except DomainError as exc:
        mark_persist(exc)
        return await _detail(ruling_id, errors=form_errors(exc), status=exc.status, form=form)
    return redirect(url_for("issuance.detail", ruling_id=ruling_id))


@blueprint.post("/rulings/<int:ruling_id>/notifications")
@login_required(Role.SECRETARY, Role.ADMIN)
async def record_notification(ruling_id: int) -> Any:
    """The secretary records a party's notification (date, method, evidence file)."""
    user = require_user()
    form = await request.form
    files = await request.files
    upload = files.get("file")
    limit = runtime().settings.max_upload_bytes
    try:
        try:
            party_id = int(form.get("party_id", ""))
        except ValueError:
            raise Invalid("Choose the party who was notified.", field="party_id") from None
        await notices.record_notification(
            runtime().db,
            runtime().settings,
            actor=user,
            ruling_id=ruling_id,
            party_id=party_id,
            date_text=form.get("date", ""),
            method=form.get("method", ""),
            evidence=upload.read(limit + 1) if upload is not None and upload.filename else None,
        )
    except DomainError as exc:
        mark_persist(exc)
        return await _detail(ruling_id, errors=form_errors(exc), status=exc.status, form=form)
    return redirect(url_for("issuance.detail", ruling_id=ruling_id))


@blueprint.get("/cases/<int:case_id>/objections")
@login_required()
async def case_objections(case_id: int) -> Any:
    """The objections an appeal case hears, every party's, with their grounds."""
    user = require_user()
    session = await db_session()
    rows = await objections_of_case(session, user, case_id)
    case = await session.get(Case, case_id)
    page = await render_template("issuance/objections.html", case=case, rows=rows)
    return no_store(Response(page, mimetype="text/html"))


@blueprint.post("/hearings/<int:hearing_id>/minutes")
@login_required(Role.SECRETARY, Role.ADMIN)
async def issue_minutes(hearing_id: int) -> Any:
    user = require_user()
    rt = runtime()  # its own short transactions; none open while it renders and signs
    await minutes_service.issue_minutes(rt.db, rt.settings, actor=user, hearing_id=hearing_id)
    return redirect(url_for("issuance.index"))


@blueprint.get("/minutes/<int:minutes_id>/pdf")
@login_required()
async def minutes_pdf(minutes_id: int) -> Any:
    user = require_user()
    minutes, pdf = await read_minutes_pdf(
        await db_session(), runtime().settings, actor=user, minutes_id=minutes_id
    )
    return pdf_response(pdf, f"minutes-H{minutes.hearing_id}.pdf")


@blueprint.route("/verify", methods=["GET", "POST"])
async def verify() -> Any:
    """Public: a verification code, or an uploaded PDF, checked against what was issued."""
    verdict: Verdict | None = None
    errors: dict[str, str] = {}
    status = 200
    code = request.args.get("code", "")
    session = await db_session()
    if request.method == "POST":
        await limit_public("verify", runtime().settings.public_verify_rate)
        form = await request.form
        files = await request.files
        code = form.get("code", "")
        try:
            if files.get("file") is not None and files["file"].filename:
                verdict = await check_pdf(session, runtime().settings, await read_upload())
            elif code.strip():
                verdict = await check_code(session, code)
            else:
                errors["_form"] = _("Enter a verification code or choose the PDF file.")
                status = 422
        except DomainError as exc:
            errors = form_errors(exc)
            status = exc.status
    elif code:
        verdict = await check_code(session, code)
    page = await render_template("issuance/verify.html", verdict=verdict, errors=errors, code=code)
    return page, status


@blueprint.get("/verify/<code>")
async def verify_code(code: str) -> Any:
    """Where the QR code on a ruling leads."""
    await limit_public("verify", runtime().settings.public_verify_rate)
    verdict = await check_code(await db_session(), code)
    page = await render_template("issuance/verify.html", verdict=verdict, errors={}, code=code)
    return page, 200 if verdict.kind else 404


# --------------------------------------------------------------------------- public rulings


@blueprint.get("/public/rulings")
async def public_search() -> Any:
    """The search form and one page of results; bad filters are shown beside their field."""
    await limit_public_rulings()
    session = await db_session()
    filters, problems = parse_filter(request.args)
    errors = {name: _(msgid) for name, msgid in problems.items()}
    result = await search_public(session, filters)
    offices, boards = await offices_and_boards(session)
    regions = await provinces(session)
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    locale = get_locale()
    page = await render_template(
        "issuance/public_search.html",
        result=result,
        args=request.args,
        errors=errors,
        query=query,
        boards={b.id: b for b in boards},
        province_options=[(p.id, p.name(locale)) for p in regions],
        office_options=[(o.id, o.name(locale)) for o in offices],
        board_options=[(b.id, b.name(locale)) for b in boards],
        claim_options=[(k.value, _(label)) for k, label in CLAIM_LABELS.items()],
        outcome_options=[(k, _(label)) for k, label in OUTCOME_LABELS.items()],
        outcome_labels={k: _(label) for k, label in OUTCOME_LABELS.items()},
    )
    return page, (422 if errors else 200)


@blueprint.get("/public/rulings/<code>")
async def public_detail(code: str) -> Any:
    await limit_public_rulings()
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


@blueprint.get("/public/rulings/<code>/pdf")
async def public_pdf(code: str) -> Any:
    await limit_public_rulings()
    row = await require_public(await db_session(), code)
    pdf = await load_blob(runtime().settings.files_dir, row.pdf_sha256)
    return pdf_response(pdf, f"ruling-{row.code}.pdf")
