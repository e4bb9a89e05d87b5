"""The vote page for phones: open motions of a hearing, each with a ballot form
(choice, optional written opinion, authenticator code); closed motions with their tally."""

from __future__ import annotations

from typing import Any
from typing import cast as type_cast

from quart import Blueprint, Response, make_response, render_template, request

from hearing_server.accounts.models import Role
from hearing_server.cases.models import ClaimKind
from hearing_server.cases.presentation import CLAIM_LABELS
from hearing_server.errors import DomainError, Invalid
from hearing_server.i18n import gettext as _
from hearing_server.scheduling.access import SCHEDULERS
from hearing_server.text import normalize_digits, parse_rials
from hearing_server.voting import access, ballots, motions, queries
from hearing_server.voting.models import Motion
from hearing_server.web.context import (
    db_session,
    login_required,
    mark_persist,
    no_store,
    require_user,
    runtime,
)

blueprint = Blueprint("voting", __name__)


async def _render(
    hearing_id: int,
    *,
    errors: dict[int, dict[str, str]] | None = None,
    cast: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    session = await db_session()
    user = require_user()
    rows: list[Motion] = await queries.list_motions(session, actor=user, hearing_id=hearing_id)
    views = [await queries.motion_view(session, m, viewer=user) for m in rows]
    hearing, standing = await access.access_votes(session, user, hearing_id)
    can_run = standing.may_run_vote
    proposals = await queries.claims_to_vote_on(session, hearing) if can_run else []
    page = await render_template(
        "voting/vote.html",
        hearing=hearing,
        open_motions=[v for v in views if v["state"] == "open"],
        closed_motions=[v for v in views if v["state"] == "closed"],
        user=user,
        can_run=can_run,
        # The rehearing is scheduled by the board's secretary (or an admin) on this form.
        can_schedule=user.role in SCHEDULERS,
        proposals=proposals,
        claim_label=lambda kind: _(CLAIM_LABELS[ClaimKind(kind)]),
        errors=errors or {},
        cast=cast,
        form=form or {},
    )
    response = await make_response(page, status)
    return no_store(type_cast(Response, response))


@blueprint.get("/hearings/<int:hearing_id>/vote")
@login_required(Role.MEMBER, Role.SECRETARY)
async def vote_page(hearing_id: int) -> Any:
    return await _render(hearing_id)


@blueprint.post("/hearings/<int:hearing_id>/vote/<int:motion_id>")
@login_required(Role.MEMBER)
async def cast_ballot(hearing_id: int, motion_id: int) -> Any:
    form = await request.form
    session = await db_session()
    user = require_user()
    motion = await queries.require_motion_for(session, actor=user, motion_id=motion_id)
    if motion.hearing_id != hearing_id:
        return await _render(hearing_id, status=404)
    try:
        result = await ballots.do_cast_ballot(
            session,
            runtime().settings,
            actor=user,
            motion_id=motion_id,
            choice=form.get("choice", ""),
            code=form.get("otp", ""),
            opinion=form.get("opinion") or None,
        )
    except DomainError as exc:
        mark_persist(exc)
        message = _(exc.message, **exc.params)
        return await _render(
            hearing_id,
            errors={motion_id: {exc.field or "_form": message}},
            form={"choice": form.get("choice", ""), "opinion": form.get("opinion", "")},
            status=exc.status,
        )
    return await _render(
        hearing_id,
        cast={"motion_id": motion_id, "receipt": result.ballot.receipt, "closed": result.closed},
    )


@blueprint.post("/hearings/<int:hearing_id>/motions")
@login_required(Role.MEMBER, Role.SECRETARY)
async def open_motion(hearing_id: int) -> Any:
    """The secretary or chair opens a vote on one claim (or a free-text motion)."""
    form = await request.form
    session = await db_session()
    try:
        amount_text = (form.get("amount") or "").strip()
        await motions.do_open_motion(
            session,
            actor=require_user(),
            hearing_id=hearing_id,
            case_id=_int(form.get("case_id")),
            claim_id=_int(form.get("claim_id")) if form.get("claim_id") else None,
            kind=form.get("kind", ""),
            text=form.get("text", ""),
            amount=parse_rials(amount_text) if amount_text else None,
            reasoning=form.get("reasoning") or None,
            legal_basis=form.get("legal_basis") or None,
        )
    except ValueError:
        return await _render(
            hearing_id,
            errors={0: {"_form": _("The amount is not a whole number of rials.")}},
            status=422,
        )
    except DomainError as exc:
        mark_persist(exc)
        return await _render(
            hearing_id, errors={0: {"_form": _(exc.message, **exc.params)}}, status=exc.status
        )
    return await _render(hearing_id)


@blueprint.post("/hearings/<int:hearing_id>/motions/<int:motion_id>/close")
@login_required(Role.MEMBER, Role.SECRETARY)
async def close_motion(hearing_id: int, motion_id: int) -> Any:
    session = await db_session()
    try:
        await motions.do_close_motion(session, actor=require_user(), motion_id=motion_id)
    except DomainError as exc:
        mark_persist(exc)
        return await _render(
            hearing_id,
            errors={motion_id: {"_form": _(exc.message, **exc.params)}},
            status=exc.status,
        )
    return await _render(hearing_id)


def _int(value: str | None) -> int:
    try:
        return int(normalize_digits(value or ""))
    except ValueError:
        raise Invalid("The request is not valid.") from None
