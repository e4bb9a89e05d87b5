"""The administrators' pages of the tenants: /admin/offices (the national admin: provinces,
labour offices, counter offices and which offices each serves) and the forms of
/admin/users that add a user and place staff in offices."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, render_template, request, url_for
from sqlalchemy import select

from hearing_server.accounts import security, sessions, tenancy, users
from hearing_server.accounts.models import Role, User
from hearing_server.boards import offices
from hearing_server.boards.models import (
    CounterOffice,
    LabourOffice,
    Province,
    counter_office_serves,
)
from hearing_server.errors import DomainError, ValidationErrors
from hearing_server.web.context import db_session, login_required, no_store, require_user
from hearing_server.web.responses import form_errors, redirect

blueprint = Blueprint("offices", __name__)


def _int(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


async def _directory(session: Any) -> dict[str, Any]:
    provinces = list(await session.scalars(select(Province).order_by(Province.code)))
    labour = list(await session.scalars(select(LabourOffice).order_by(LabourOffice.code)))
    counters = list(await session.scalars(select(CounterOffice).order_by(CounterOffice.code)))
    serves: dict[int, list[int]] = {}
    for counter_id, office_id in (await session.execute(select(counter_office_serves))).all():
        serves.setdefault(counter_id, []).append(office_id)
    return {
        "provinces": provinces,
        "province_by_id": {p.id: p for p in provinces},
        "labour_offices": labour,
        "office_by_id": {o.id: o for o in labour},
        "counter_offices": counters,
        "counter_by_id": {c.id: c for c in counters},
        "serves": serves,
    }


async def admin_users_page(values: dict[str, str], errors: dict[str, str], status: int) -> Any:
    actor = require_user()
    session = await db_session()
    rows = list(
        await session.scalars(
            select(User)
            .where(tenancy.manageable_users_clause(actor))
            .order_by(User.role, User.username)
        )
    )
    page = await render_template(
        "accounts/admin_users.html",
        users=rows,
        national=actor.is_national_admin,
        own_office=await session.get(LabourOffice, actor.office_id) if actor.office_id else None,
        roles=[r for r in Role if actor.is_national_admin or r in tenancy.STAFF_ROLES],
        values=values,
        errors=errors,
        **await _directory(session),
    )
    return no_store(Response(page, status=status))


@blueprint.get("/admin/users")
@login_required(Role.ADMIN)
async def admin_users() -> Any:
    """The users the admin manages (an office admin: their office's), with the forms to
    add one and (the national admin) to place staff in offices."""
    return await admin_users_page({}, {}, 200)


@blueprint.post("/admin/users/<int:user_id>/revoke")
@login_required(Role.ADMIN)
async def admin_revoke(user_id: int) -> Any:
    actor = require_user()
    session = await db_session()
    await tenancy.require_manageable_user(session, actor, user_id)
    await sessions.do_revoke_sessions(session, actor=actor, user_id=user_id)
    return redirect(url_for("offices.admin_users"))


@blueprint.post("/admin/users/new")
@login_required(Role.ADMIN)
async def create_user() -> Any:
    actor = require_user()
    form = await request.form
    values = {k: form.get(k, "") for k in ("username", "full_name", "role", "office_id")}
    values["counter_office_id"] = form.get("counter_office_id", "")
    # argon2 before the request's write transaction opens (its first statement below);
    # do_create_user still checks the password's rules.
    password_hash = await security.hash_password(form.get("password", ""))
    session = await db_session()
    try:
        try:
            role = Role(values["role"])
        except ValueError:
            raise ValidationErrors({"role": ("Choose a role from the list.", {})}) from None
        office_id, counter_office_id = await tenancy.placement_for_new_user(
            session, actor, role, _int(values["office_id"]), _int(values["counter_office_id"])
        )
        await users.do_create_user(
            session,
            username=values["username"],
            full_name=values["full_name"],
            password=form.get("password", ""),
            password_hash=password_hash,
            role=role,
            actor_id=actor.id,
            office_id=office_id,
            counter_office_id=counter_office_id,
        )
    except DomainError as exc:
        return await admin_users_page(values, form_errors(exc), exc.status)
    return redirect(url_for("offices.admin_users"))


@blueprint.post("/admin/users/<int:user_id>/place")
@login_required(Role.ADMIN)
async def place_user(user_id: int) -> Any:
    form = await request.form
    session = await db_session()
    try:
        await offices.do_assign_user(
            session,
            actor=require_user(),
            user_id=user_id,
            office_id=_int(form.get("office_id")),
            counter_office_id=_int(form.get("counter_office_id")),
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await admin_users_page(
            {}, {"_form": " ".join(form_errors(exc).values())}, exc.status
        )
    return redirect(url_for("offices.admin_users"))


# ---------------------------------------------------------------- /admin/offices


async def _offices_page(values: dict[str, str], errors: dict[str, str], status: int) -> Any:
    tenancy.check_national_admin(require_user())
    session = await db_session()
    page = await render_template(
        "boards/offices.html", values=values, errors=errors, **await _directory(session)
    )
    return no_store(Response(page, status=status))


@blueprint.get("/admin/offices")
@login_required(Role.ADMIN)
async def offices_page() -> Any:
    return await _offices_page({}, {}, 200)


async def _named(prefix: str) -> tuple[dict[str, str], offices.NamedInput]:
    form = await request.form
    values = {
        f"{prefix}_{k}": form.get(f"{prefix}_{k}", "") for k in ("code", "name_fa", "name_en")
    }
    data = offices.NamedInput(
        values[f"{prefix}_code"], values[f"{prefix}_name_fa"], values[f"{prefix}_name_en"]
    )
    return values, data


def _prefixed(prefix: str, errors: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}_{k}" if k != "_form" else k: v for k, v in errors.items()}


@blueprint.post("/admin/provinces")
@login_required(Role.ADMIN)
async def create_province() -> Any:
    values, data = await _named("province")
    session = await db_session()
    try:
        await offices.do_create_province(session, actor=require_user(), data=data)
    except DomainError as exc:
        return await _offices_page(values, _prefixed("province", form_errors(exc)), exc.status)
    return redirect(url_for("offices.offices_page"))


@blueprint.post("/admin/offices")
@login_required(Role.ADMIN)
async def create_office() -> Any:
    values, data = await _named("office")
    form = await request.form
    session = await db_session()
    try:
        await offices.do_create_office(
            session,
            actor=require_user(),
            province_id=_int(form.get("province_id")),
            data=data,
        )
    except DomainError as exc:
        return await _offices_page(values, _prefixed("office", form_errors(exc)), exc.status)
    return redirect(url_for("offices.offices_page"))


@blueprint.post("/admin/counter-offices")
@login_required(Role.ADMIN)
async def create_counter_office() -> Any:
    values, data = await _named("counter")
    form = await request.form
    session = await db_session()
    serves = [n for n in (_int(v) for v in form.getlist("serves")) if n is not None]
    try:
        await offices.do_create_counter_office(
            session,
            actor=require_user(),
            province_id=_int(form.get("province_id")),
            data=data,
            serves=serves,
        )
    except DomainError as exc:
        return await _offices_page(values, _prefixed("counter", form_errors(exc)), exc.status)
    return redirect(url_for("offices.offices_page"))


@blueprint.post("/admin/counter-offices/<int:counter_office_id>/serves")
@login_required(Role.ADMIN)
async def set_serves(counter_office_id: int) -> Any:
    form = await request.form
    session = await db_session()
    serves = [n for n in (_int(v) for v in form.getlist("serves")) if n is not None]
    try:
        await offices.do_set_serves(
            session, actor=require_user(), counter_office_id=counter_office_id, serves=serves
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await _offices_page({}, _prefixed("counter", form_errors(exc)), exc.status)
    return redirect(url_for("offices.offices_page"))
