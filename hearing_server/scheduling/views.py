"""Scheduling pages: board calendars (week and month, Jalali, Saturday first), my
hearings, the scheduling form, one hearing with its panel, answers and actions."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from quart import Blueprint, render_template, request, url_for

from hearing_server.accounts.models import Role
from hearing_server.clock import utcnow
from hearing_server.errors import DomainError, Invalid, ValidationErrors
from hearing_server.i18n import get_locale
from hearing_server.i18n import gettext as _
from hearing_server.scheduling import calendar as jcal
from hearing_server.scheduling.access import SCHEDULERS
from hearing_server.scheduling.changes import (
    do_cancel_hearing,
    do_postpone_hearing,
    do_record_session,
    do_reschedule_hearing,
    do_swap_member,
)
from hearing_server.scheduling.forecast import FORECAST_GROUPS, forecast_text
from hearing_server.scheduling.ics import room_url
from hearing_server.scheduling.planning import (
    AgendaEntry,
    HearingPlan,
    PanelChoice,
    do_schedule_hearing,
)
from hearing_server.scheduling.presentation import label_msgid
from hearing_server.scheduling.queries import (
    boards_for,
    hearing_details,
    invitation_for,
    list_board_hearings,
    list_my_hearings,
    schedulable,
)
from hearing_server.scheduling.summons import do_answer_summons
from hearing_server.scheduling.worktime import (
    days_off,
    parse_clock,
    parse_jalali,
    working_hours,
)
from hearing_server.web.context import (
    db_session,
    login_required,
    mark_persist,
    require_user,
    runtime,
)
from hearing_server.web.responses import file_download, redirect
from rulings.persian import TEHRAN

blueprint = Blueprint("scheduling", __name__)


@blueprint.app_template_filter("sched_label")
def sched_label(value: Any) -> str:
    """A hearing status, panel answer, seat group or summons role in the reader's language."""
    return _(label_msgid(value))


def _messages(exc: DomainError) -> list[str]:
    if isinstance(exc, ValidationErrors):
        return [_(msg, **params) for msg, params in exc.errors.values()]
    return [_(exc.message, **exc.params)]


def _jalali_text(day: date) -> str:
    j = jcal.to_jalali(day)
    return f"{j.year:04d}/{j.month:02d}/{j.day:02d}"


def _parse_day(raw: str | None) -> date:
    if not raw:
        return jcal.local_date(utcnow())
    try:
        return parse_jalali(raw)
    except Invalid:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise Invalid("Enter the date in the Jalali calendar, e.g. 1405/01/15.") from None


@blueprint.get("/calendar")
@login_required(Role.SECRETARY, Role.ADMIN, Role.MEMBER)
async def calendars() -> Any:
    boards = await boards_for(await db_session(), require_user())
    if len(boards) == 1:
        return redirect(url_for("scheduling.board_calendar", board_id=boards[0].id))
    return await render_template("scheduling/boards.html", boards=boards)


@blueprint.get("/boards/<int:board_id>/calendar")
@login_required(Role.SECRETARY, Role.ADMIN, Role.MEMBER)
async def board_calendar(board_id: int) -> Any:
    view = request.args.get("view", "week")
    if view not in ("week", "month"):
        view = "week"
    day = _parse_day(request.args.get("date"))
    if view == "week":
        weeks = [jcal.week_days(day)]
        first = weeks[0][0].day
        prev_day, next_day = first - timedelta(days=7), first + timedelta(days=7)
    else:
        year, month = jcal.month_of(day)
        weeks = jcal.month_weeks(year, month)
        py, pm = jcal.shift_month(year, month, -1)
        ny, nm = jcal.shift_month(year, month, 1)
        prev_day, next_day = jcal.from_jalali(py, pm, 1), jcal.from_jalali(ny, nm, 1)
    first, last = weeks[0][0].day, weeks[-1][-1].day
    session = await db_session()
    board, hearings = await list_board_hearings(
        session, actor=require_user(), board_id=board_id, first=first, last=last
    )
    lookup = await days_off(session, first, last)
    cells = [cell for week in weeks for cell in week]
    names = {
        c.day: off.name(get_locale())
        for c in cells
        if (off := lookup(c.day)) is not None and off.kind != "friday"
    }
    jcal.mark_holidays(cells, names)
    jcal.place(cells, hearings)
    today = jcal.local_date(utcnow())
    return await render_template(
        "scheduling/calendar.html",
        board=board,
        view=view,
        weeks=weeks,
        title_day=day,
        today=today,
        prev_date=_jalali_text(prev_day),
        next_date=_jalali_text(next_day),
        weekday_names=jcal.WEEKDAY_NAMES_EN,
        month_names=jcal.MONTH_NAMES_EN,
        jalali_text=_jalali_text,
        tehran=TEHRAN,
    )


@blueprint.get("/hearings")
@login_required()
async def my_hearings() -> Any:
    user = require_user()
    session = await db_session()
    hearings = await list_my_hearings(session, actor=user)
    details = [await hearing_details(session, actor=user, hearing_id=h.id) for h in hearings]
    return await render_template(
        "scheduling/my_hearings.html",
        details=details,
        boards=await boards_for(session, user),
        base_url=runtime().settings.base_url,
        room_url=room_url,
        tehran=TEHRAN,
    )


async def _form_page(board_id: int, form: dict[str, Any], errors: list[str], status: int) -> Any:
    session = await db_session()
    try:
        day = parse_jalali(form.get("date", "")) if form.get("date") else None
    except Invalid:
        day = None
    day = day or jcal.local_date(utcnow()) + timedelta(days=7)
    board, rules, cases, seats = await schedulable(
        session, actor=require_user(), board_id=board_id, day=day
    )
    page = await render_template(
        "scheduling/schedule.html",
        board=board,
        rules=rules,
        cases=cases,
        seats=seats,
        form=form,
        errors=errors,
        hours=await working_hours(session, runtime().settings),
    )
    return page, status


@blueprint.get("/boards/<int:board_id>/hearings/new")
@login_required(Role.SECRETARY, Role.ADMIN)
async def schedule_form(board_id: int) -> Any:
    default_day = _jalali_text(jcal.local_date(utcnow()) + timedelta(days=7))
    return await _form_page(
        board_id,
        {"date": request.args.get("date", default_day), "time": "09:00", "duration": "90"},
        [],
        200,
    )


def _int(value: str | None) -> int | None:
    from hearing_server.text import normalize_digits

    text = normalize_digits((value or "").strip())
    return int(text) if text.isdigit() else None


@blueprint.post("/boards/<int:board_id>/hearings/new")
@login_required(Role.SECRETARY, Role.ADMIN)
async def schedule_submit(board_id: int) -> Any:
    form = await request.form
    values: dict[str, Any] = dict(form)
    values["cases"] = form.getlist("case")
    try:
        agenda = []
        for raw in form.getlist("case"):
            case_id = _int(raw)
            if case_id is None:
                continue
            order = _int(form.get(f"order_{case_id}")) or 999
            agenda.append((order, AgendaEntry(case_id, _int(form.get(f"minutes_{case_id}")))))
        agenda.sort(key=lambda pair: pair[0])
        panel = []
        for key, raw in form.items():
            if key.startswith("seat_") and raw:
                seat_id, member_id = _int(key[5:]), _int(raw)
                if seat_id is not None and member_id is not None:
                    panel.append(PanelChoice(seat_id, member_id))
        duration = _int(form.get("duration"))
        if duration is None:
            raise Invalid("Enter the length of the session in minutes.", field="duration")
        plan = HearingPlan(
            board_id=board_id,
            day=parse_jalali(form.get("date", "")),
            start=parse_clock(form.get("time", "")),
            duration_minutes=duration,
            agenda=[entry for _order, entry in agenda],
            panel=panel,
        )
        hearing = await do_schedule_hearing(
            await db_session(), actor=require_user(), settings=runtime().settings, plan=plan
        )
    except DomainError as exc:
        mark_persist(exc)
        return await _form_page(board_id, values, _messages(exc), exc.status)
    return redirect(url_for("scheduling.hearing", hearing_id=hearing.id, done="scheduled"))


async def _hearing_page(hearing_id: int, errors: list[str], status: int) -> Any:
    session = await db_session()
    user = require_user()
    details = await hearing_details(session, actor=user, hearing_id=hearing_id)
    swap_options: dict[int, list[Any]] = {}
    if user.role in SCHEDULERS:
        day = jcal.local_date(details.hearing.starts_at)
        _b, _r, _c, seats = await schedulable(
            session, actor=user, board_id=details.board.id, day=day
        )
        on_panel = {seat.member_id for seat, _m in details.panel}
        for seat, _member in details.panel:
            swap_options[seat.id] = [
                holder
                for option in seats
                if option.seat.group is seat.group
                for holder in option.holders
                if holder.id not in on_panel
            ]
    page = await render_template(
        "scheduling/hearing.html",
        d=details,
        errors=errors,
        done=request.args.get("done"),
        swap_options=swap_options,
        room=room_url(runtime().settings.base_url, hearing_id),
        forecast_text=forecast_text,
        group_labels=FORECAST_GROUPS,
        tehran=TEHRAN,
        is_scheduler=user.role in SCHEDULERS,
        now=utcnow(),
    )
    return page, status


@blueprint.get("/hearings/<int:hearing_id>")
@login_required()
async def hearing(hearing_id: int) -> Any:
    return await _hearing_page(hearing_id, [], 200)


@blueprint.get("/hearings/<int:hearing_id>/invitation.ics")
@login_required()
async def invitation(hearing_id: int) -> Any:
    text = await invitation_for(
        await db_session(), actor=require_user(), settings=runtime().settings, hearing_id=hearing_id
    )
    name = f"hearing-{hearing_id}.ics"
    return file_download(text, mimetype="text/calendar", filename=name, fallback=name)


async def _act(hearing_id: int, done: str, work: Any) -> Any:
    try:
        result = await work(await db_session())
    except DomainError as exc:
        mark_persist(exc)
        return await _hearing_page(hearing_id, _messages(exc), exc.status)
    target = getattr(result, "id", hearing_id) if done == "rescheduled" else hearing_id
    return redirect(url_for("scheduling.hearing", hearing_id=target, done=done))


@blueprint.post("/hearings/<int:hearing_id>/answer")
@login_required(Role.MEMBER)
async def answer(hearing_id: int) -> Any:
    form = await request.form
    attending = form.get("attending") == "yes"
    return await _act(
        hearing_id,
        "answered",
        lambda s: do_answer_summons(
            s,
            actor=require_user(),
            settings=runtime().settings,
            hearing_id=hearing_id,
            attending=attending,
        ),
    )


@blueprint.post("/hearings/<int:hearing_id>/swap")
@login_required(Role.SECRETARY, Role.ADMIN)
async def swap(hearing_id: int) -> Any:
    form = await request.form
    panel_seat_id, member_id = _int(form.get("panel_seat_id")), _int(form.get("member_id"))
    if panel_seat_id is None or member_id is None:
        return await _hearing_page(hearing_id, [_("Choose the member who takes the seat.")], 422)
    return await _act(
        hearing_id,
        "swapped",
        lambda s: do_swap_member(
            s,
            actor=require_user(),
            settings=runtime().settings,
            hearing_id=hearing_id,
            panel_seat_id=panel_seat_id,
            member_id=member_id,
        ),
    )


@blueprint.post("/hearings/<int:hearing_id>/change")
@login_required(Role.SECRETARY, Role.ADMIN)
async def change(hearing_id: int) -> Any:
    """Postpone, reschedule (with a new date) or cancel, always with a reason."""
    form = await request.form
    action = form.get("action")
    reason = form.get("reason", "")
    actor, settings = require_user(), runtime().settings
    if action == "cancel":
        return await _act(
            hearing_id,
            "cancelled",
            lambda s: do_cancel_hearing(
                s, actor=actor, settings=settings, hearing_id=hearing_id, reason=reason
            ),
        )
    if action == "postpone" and not form.get("date"):
        return await _act(
            hearing_id,
            "postponed",
            lambda s: do_postpone_hearing(
                s, actor=actor, settings=settings, hearing_id=hearing_id, reason=reason
            ),
        )
    if action == "postpone":

        async def work(s: Any) -> Any:
            return await do_reschedule_hearing(
                s,
                actor=actor,
                settings=settings,
                hearing_id=hearing_id,
                day=parse_jalali(form.get("date", "")),
                start=parse_clock(form.get("time", "")),
                duration_minutes=_int(form.get("duration")),
                reason=reason,
            )

        return await _act(hearing_id, "rescheduled", work)
    return await _hearing_page(hearing_id, [_("Choose what to do with the hearing.")], 422)


@blueprint.post("/hearings/<int:hearing_id>/record")
@login_required(Role.SECRETARY, Role.ADMIN)
async def record(hearing_id: int) -> Any:
    form = await request.form
    attended: dict[int, bool] = {}
    for key, value in form.items():
        if key.startswith("present_"):
            user_id = _int(key[8:])
            if user_id is not None:
                attended[user_id] = value == "yes"
    return await _act(
        hearing_id,
        "recorded",
        lambda s: do_record_session(
            s, actor=require_user(), hearing_id=hearing_id, attended=attended
        ),
    )
