"""The office calendar page (the administrator): the public holidays of this and the next
Jalali year — lunar ones estimated until confirmed, or moved to their announced date —
the office's own holidays, and the board's working hours, which scheduling and the
objection deadlines read (:mod:`hearing_server.scheduling.worktime`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from quart import Blueprint, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from hearing_server.accounts.models import Role
from hearing_server.clock import utcnow
from hearing_server.errors import DomainError, Invalid
from hearing_server.i18n import gettext as _
from hearing_server.i18n import lazy
from hearing_server.scheduling import calendar as jcal
from hearing_server.scheduling.worktime import (
    DAY_CODES_IN_ORDER,
    calendar_of_year,
    do_add_holiday,
    do_confirm_holiday,
    do_move_holiday,
    do_remove_holiday,
    do_set_working_hours,
    parse_clock,
    parse_jalali,
    working_hours,
)
from hearing_server.web.context import db_session, login_required, require_user, runtime
from hearing_server.web.responses import redirect

blueprint = Blueprint("calendar_admin", __name__)

DAY_NAMES = dict(zip(DAY_CODES_IN_ORDER, jcal.WEEKDAY_NAMES_EN, strict=True))
DONE = {
    "hours": lazy("The working hours are saved."),
    "added": lazy("The holiday is added."),
    "confirmed": lazy("The holiday is confirmed."),
    "moved": lazy("The holiday is moved; its old date is a working day."),
    "removed": lazy("The holiday is removed from the office's calendar."),
}


def jalali_text(day: date) -> str:
    j = jcal.to_jalali(day)
    return f"{j.year:04d}/{j.month:02d}/{j.day:02d}"


async def _page(
    errors: dict[str, str] | None = None, form: MultiDict[str, str] | None = None, status: int = 200
) -> Any:
    session = await db_session()
    this_year = int(jcal.to_jalali(jcal.local_date(utcnow())).year)
    years = [(y, await calendar_of_year(session, y)) for y in (this_year, this_year + 1)]
    hours = await working_hours(session, runtime().settings)
    done = DONE.get(request.args.get("done", ""))
    page = await render_template(
        "scheduling/admin_calendar.html",
        years=years,
        hours=hours,
        day_names=DAY_NAMES,
        errors=errors or {},
        form=form or MultiDict(),
        done=done,
        jalali_text=jalali_text,
    )
    return page, status


def _day(text: str | None) -> date:
    """A date the page itself put in a hidden field (ISO); tampered input is refused."""
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise Invalid("This Jalali date does not exist.", field="date") from None


async def _act(slot: str, done: str, action: Any) -> Any:
    """Run one form's change; on a refusal the page again, the message at the form."""
    form = await request.form
    try:
        await action(form)
    except DomainError as exc:
        return await _page({slot: _(exc.message, **exc.params)}, form, exc.status)
    return redirect(url_for("calendar_admin.calendar_page", done=done))


@blueprint.get("/admin/calendar")
@login_required(Role.ADMIN)
async def calendar_page() -> Any:
    return await _page()


@blueprint.post("/admin/calendar/hours")
@login_required(Role.ADMIN)
async def set_hours() -> Any:
    async def action(form: MultiDict[str, str]) -> None:
        start = parse_clock(form.get("start", ""))
        end = parse_clock(form.get("end", ""))
        await do_set_working_hours(
            await db_session(),
            actor=require_user(),
            start=start,
            end=end,
            day_codes=form.getlist("days"),
        )

    return await _act("hours", "hours", action)


@blueprint.post("/admin/calendar/holidays")
@login_required(Role.ADMIN)
async def add_holiday() -> Any:
    async def action(form: MultiDict[str, str]) -> None:
        day = parse_jalali(form.get("date", ""))
        reason = form.get("reason", "").strip()
        if not reason:
            raise Invalid("Enter the reason for the holiday.", field="reason")
        await do_add_holiday(
            await db_session(),
            actor=require_user(),
            day=day,
            name_fa=reason,
            name_en=form.get("reason_en", "").strip() or reason,
        )

    return await _act("local", "added", action)


@blueprint.post("/admin/calendar/confirm")
@login_required(Role.ADMIN)
async def confirm_holiday() -> Any:
    async def action(form: MultiDict[str, str]) -> None:
        await do_confirm_holiday(
            await db_session(), actor=require_user(), day=_day(form.get("day"))
        )

    return await _act("list", "confirmed", action)


@blueprint.post("/admin/calendar/move")
@login_required(Role.ADMIN)
async def move_holiday() -> Any:
    async def action(form: MultiDict[str, str]) -> None:
        day = _day(form.get("day"))
        await do_move_holiday(
            await db_session(), actor=require_user(), day=day, to=parse_jalali(form.get("to", ""))
        )

    form = await request.form
    return await _act(f"move-{form.get('day', '')}", "moved", action)


@blueprint.post("/admin/calendar/remove")
@login_required(Role.ADMIN)
async def remove_holiday() -> Any:
    async def action(form: MultiDict[str, str]) -> None:
        await do_remove_holiday(await db_session(), actor=require_user(), day=_day(form.get("day")))

    return await _act("list", "removed", action)
