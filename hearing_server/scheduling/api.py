"""/api/v1/hearings… and /api/v1/boards/<id>/calendar: scheduling for programs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint, request
from quart_schema import validate_request, validate_response

from hearing_server.accounts.models import Role
from hearing_server.errors import Invalid
from hearing_server.i18n import get_locale
from hearing_server.scheduling import calendar as jcal
from hearing_server.scheduling.changes import (
    do_cancel_hearing,
    do_postpone_hearing,
    do_record_session,
    do_reschedule_hearing,
    do_swap_member,
)
from hearing_server.scheduling.ics import room_url
from hearing_server.scheduling.models import Hearing
from hearing_server.scheduling.planning import (
    MAX_AGENDA,
    MAX_MINUTES,
    AgendaEntry,
    HearingPlan,
    PanelChoice,
    do_schedule_hearing,
)
from hearing_server.scheduling.queries import (
    HearingDetails,
    hearing_details,
    invitation_for,
    list_board_hearings,
    list_my_hearings,
)
from hearing_server.scheduling.summons import do_answer_summons
from hearing_server.scheduling.worktime import (
    days_off,
    do_add_holiday,
    holidays_of_years,
    parse_clock,
    parse_jalali,
)
from hearing_server.web.context import db_session, login_required, require_user, runtime
from hearing_server.web.inputs import DbId
from hearing_server.web.responses import file_download
from hearing_server.web.schemas import Out
from rulings.persian import TEHRAN

blueprint = Blueprint("api_scheduling", __name__, url_prefix="/api/v1")


class AgendaIn(BaseModel):
    case_id: DbId
    minutes: int | None = Field(default=None, ge=1, le=MAX_MINUTES)


class PanelIn(BaseModel):
    seat_id: DbId
    member_id: DbId


class ScheduleRequest(BaseModel):
    board_id: DbId
    date: str = Field(max_length=32, description="Jalali date, e.g. 1405/01/15")
    time: str = Field(max_length=16, description="Tehran time, e.g. 09:00")
    duration_minutes: int = Field(ge=1, le=24 * 60)
    agenda: list[AgendaIn] = Field(max_length=MAX_AGENDA + 1)
    panel: list[PanelIn] = Field(max_length=64)


class AnswerRequest(BaseModel):
    attending: bool


class SwapRequest(BaseModel):
    member_id: DbId


class ReasonRequest(BaseModel):
    reason: str = Field(max_length=1000)


class RescheduleRequest(BaseModel):
    date: str = Field(max_length=32)
    time: str = Field(max_length=16)
    duration_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    reason: str = Field(max_length=1000)


class AttendanceIn(BaseModel):
    user_id: DbId
    attended: bool


class RecordRequest(BaseModel):
    attendance: list[AttendanceIn] = Field(max_length=200)


class HolidayRequest(BaseModel):
    date: str = Field(max_length=32, description="Jalali date")
    name_fa: str = Field(max_length=200)
    name_en: str = Field(max_length=200)


class HearingSummaryOut(Out):
    id: int
    board_id: int
    starts_at: str
    starts_at_tehran: str
    jalali_date: str
    time: str
    duration_minutes: int
    status: str
    status_reason: str | None
    rescheduled_from_id: int | None


class HearingListOut(Out):
    hearings: list[HearingSummaryOut]


class BoardRefOut(Out):
    id: int
    name: str


class AgendaItemOut(Out):
    case_id: int
    number: str | None
    position: int
    starts_at: str
    minutes: int
    case_url: str


class PanelSeatOut(Out):
    id: int
    seat_id: int
    member_id: int
    name: str | None
    group: str
    is_chair: bool


class HearingOut(HearingSummaryOut):
    board: BoardRefOut
    room_url: str
    rules_version_id: int | None
    agenda: list[AgendaItemOut]
    panel: list[PanelSeatOut]


def _when(hearing: Hearing) -> dict[str, Any]:
    local = hearing.starts_at.astimezone(TEHRAN)
    j = jcal.to_jalali(local.date())
    return {
        "starts_at": hearing.starts_at.isoformat(),
        "starts_at_tehran": local.isoformat(),
        "jalali_date": f"{j.year:04d}/{j.month:02d}/{j.day:02d}",
        "time": local.strftime("%H:%M"),
        "duration_minutes": hearing.duration_minutes,
    }


def summary_json(hearing: Hearing) -> dict[str, Any]:
    return {
        "id": hearing.id,
        "board_id": hearing.board_id,
        **_when(hearing),
        "status": hearing.status.value,
        "status_reason": hearing.status_reason,
        "rescheduled_from_id": hearing.rescheduled_from_id,
    }


def details_json(details: HearingDetails) -> dict[str, Any]:
    hearing = details.hearing
    body = summary_json(hearing)
    body.update(
        board={"id": details.board.id, "name": details.board.name(get_locale())},
        room_url=room_url(runtime().settings.base_url, hearing.id),
        rules_version_id=hearing.rules_version_id,
        agenda=[
            {
                "case_id": case.id,
                "number": case.number,
                "position": item.position,
                "starts_at": item.starts_at.isoformat(),
                "minutes": item.minutes,
                "case_url": f"/cases/{case.id}",
            }
            for item, case in details.agenda
        ],
        panel=[
            {
                "id": seat.id,
                "seat_id": seat.seat_id,
                "member_id": member.id,
                "name": member.full_name,
                "group": seat.group.value,
                "is_chair": seat.is_chair,
                **({"answer": seat.answer.value} if details.standing.sees_all else {}),
            }
            for seat, member in details.panel
        ],
        summonses=[
            {
                "id": s.id,
                "user_id": s.user_id,
                "case_id": s.case_id,
                "role": s.role,
                "sent_at": s.sent_at.isoformat() if s.sent_at else None,
                "answered_at": s.answered_at.isoformat() if s.answered_at else None,
                "attended": s.attended,
            }
            for s in details.summonses
        ],
        forecast=details.forecast.to_dict() if details.forecast else None,
        my_answer=details.my_seat.answer.value if details.my_seat else None,
    )
    return body


async def _details(hearing_id: int) -> dict[str, Any]:
    details = await hearing_details(await db_session(), actor=require_user(), hearing_id=hearing_id)
    return details_json(details)


@blueprint.post("/hearings")
@login_required(Role.SECRETARY, Role.ADMIN)
@validate_request(ScheduleRequest)
async def api_schedule(data: ScheduleRequest) -> Any:
    """Schedule a session; 422 lists every broken rule, 409 ``double_booked`` names the clash."""
    plan = HearingPlan(
        board_id=data.board_id,
        day=parse_jalali(data.date),
        start=parse_clock(data.time),
        duration_minutes=data.duration_minutes,
        agenda=[AgendaEntry(a.case_id, a.minutes) for a in data.agenda],
        panel=[PanelChoice(p.seat_id, p.member_id) for p in data.panel],
    )
    session = await db_session()
    hearing = await do_schedule_hearing(
        session, actor=require_user(), settings=runtime().settings, plan=plan
    )
    return await _details(hearing.id), 201


@blueprint.get("/hearings")
@login_required()
@validate_response(HearingListOut)
async def api_my_hearings() -> Any:
    """Members: their panels; parties: their cases' hearings; secretary and admin: all."""
    hearings = await list_my_hearings(
        await db_session(),
        actor=require_user(),
        include_past=request.args.get("past") == "1",
    )
    return {"hearings": [summary_json(h) for h in hearings]}


@blueprint.get("/hearings/<int:hearing_id>")
@login_required()
@validate_response(HearingOut)
async def api_hearing(hearing_id: int) -> Any:
    return await _details(hearing_id)


@blueprint.get("/hearings/<int:hearing_id>/invitation.ics")
@login_required()
async def api_invitation(hearing_id: int) -> Any:
    text = await invitation_for(
        await db_session(), actor=require_user(), settings=runtime().settings, hearing_id=hearing_id
    )
    name = f"hearing-{hearing_id}.ics"
    return file_download(text, mimetype="text/calendar", filename=name, fallback=name)


@blueprint.post("/hearings/<int:hearing_id>/answer")
@login_required(Role.MEMBER)
@validate_request(AnswerRequest)
async def api_answer(hearing_id: int, data: AnswerRequest) -> Any:
    await do_answer_summons(
        await db_session(),
        actor=require_user(),
        settings=runtime().settings,
        hearing_id=hearing_id,
        attending=data.attending,
    )
    return await _details(hearing_id)


@blueprint.post("/hearings/<int:hearing_id>/panel/<int:panel_seat_id>/swap")
@login_required(Role.SECRETARY, Role.ADMIN)
@validate_request(SwapRequest)
async def api_swap(hearing_id: int, panel_seat_id: int, data: SwapRequest) -> Any:
    await do_swap_member(
        await db_session(),
        actor=require_user(),
        settings=runtime().settings,
        hearing_id=hearing_id,
        panel_seat_id=panel_seat_id,
        member_id=data.member_id,
    )
    return await _details(hearing_id)


@blueprint.post("/hearings/<int:hearing_id>/postpone")
@login_required(Role.SECRETARY, Role.ADMIN)
@validate_request(ReasonRequest)
async def api_postpone(hearing_id: int, data: ReasonRequest) -> Any:
    await do_postpone_hearing(
        await db_session(),
        actor=require_user(),
        settings=runtime().settings,
        hearing_id=hearing_id,
        reason=data.reason,
    )
    return await _details(hearing_id)


@blueprint.post("/hearings/<int:hearing_id>/cancel")
@login_required(Role.SECRETARY, Role.ADMIN)
@validate_request(ReasonRequest)
async def api_cancel(hearing_id: int, data: ReasonRequest) -> Any:
    await do_cancel_hearing(
        await db_session(),
        actor=require_user(),
        settings=runtime().settings,
        hearing_id=hearing_id,
        reason=data.reason,
    )
    return await _details(hearing_id)


@blueprint.post("/hearings/<int:hearing_id>/reschedule")
@login_required(Role.SECRETARY, Role.ADMIN)
@validate_request(RescheduleRequest)
async def api_reschedule(hearing_id: int, data: RescheduleRequest) -> Any:
    new = await do_reschedule_hearing(
        await db_session(),
        actor=require_user(),
        settings=runtime().settings,
        hearing_id=hearing_id,
        day=parse_jalali(data.date),
        start=parse_clock(data.time),
        duration_minutes=data.duration_minutes,
        reason=data.reason,
    )
    return await _details(new.id), 201


@blueprint.post("/hearings/<int:hearing_id>/record")
@login_required(Role.SECRETARY, Role.ADMIN)
@validate_request(RecordRequest)
async def api_record(hearing_id: int, data: RecordRequest) -> Any:
    """After the session: who came. Quorum decides ``held`` or ``failed_quorum``."""
    await do_record_session(
        await db_session(),
        actor=require_user(),
        hearing_id=hearing_id,
        attended={a.user_id: a.attended for a in data.attendance},
    )
    return await _details(hearing_id)


def _calendar_range() -> tuple[str, date, date]:
    view = request.args.get("view", "week")
    if view not in ("week", "month"):
        raise Invalid("The calendar view is week or month.", field="view")
    raw = request.args.get("date")
    from hearing_server.clock import utcnow

    day = parse_jalali(raw) if raw else jcal.local_date(utcnow())
    if view == "week":
        first = jcal.week_start(day)
        return view, first, first + timedelta(days=6)
    year, month = jcal.month_of(day)
    weeks = jcal.month_weeks(year, month)
    return view, weeks[0][0].day, weeks[-1][-1].day


@blueprint.get("/boards/<int:board_id>/calendar")
@login_required(Role.SECRETARY, Role.ADMIN, Role.MEMBER)
async def api_board_calendar(board_id: int) -> Any:
    """``?view=week|month&date=1405/01/05`` (Jalali). Days run Saturday first."""
    view, first, last = _calendar_range()
    session = await db_session()
    board, hearings = await list_board_hearings(
        session, actor=require_user(), board_id=board_id, first=first, last=last
    )
    lookup = await days_off(session, first, last)
    days = []
    cursor = first
    while cursor <= last:
        j = jcal.to_jalali(cursor)
        holiday = lookup(cursor)
        if holiday is not None and holiday.kind == "friday":
            holiday = None
        days.append(
            {
                "date": cursor.isoformat(),
                "jalali_date": f"{j.year:04d}/{j.month:02d}/{j.day:02d}",
                "weekday": jcal.WEEKDAY_NAMES_EN[(cursor.weekday() - jcal.SATURDAY) % 7],
                "holiday": (
                    {"name_fa": holiday.name_fa, "name_en": holiday.name_en} if holiday else None
                ),
                "hearings": [
                    summary_json(h) for h in hearings if jcal.local_date(h.starts_at) == cursor
                ],
            }
        )
        cursor += timedelta(days=1)
    return {"board": {"id": board.id, "name": board.name(get_locale())}, "view": view, "days": days}


@blueprint.get("/holidays")
@login_required()
async def api_holidays() -> Any:
    """The days off of the current and the next Jalali year: the official calendar (lunar
    days ``estimated`` until the office's table confirms them) and the office's own days."""
    from hearing_server.clock import utcnow

    year = jcal.to_jalali(jcal.local_date(utcnow())).year
    rows = await holidays_of_years(await db_session(), [year, year + 1])
    return {
        "holidays": [
            {
                "date": h.day.isoformat(),
                "jalali_date": "{:04d}/{:02d}/{:02d}".format(*_jalali_parts(h.day)),
                "name_fa": h.name_fa,
                "name_en": h.name_en,
                "source": h.kind,
                "estimated": h.estimated,
            }
            for h in rows
        ]
    }


def _jalali_parts(day: date) -> tuple[int, int, int]:
    j = jcal.to_jalali(day)
    return int(j.year), int(j.month), int(j.day)


@blueprint.post("/holidays")
@login_required(Role.SECRETARY, Role.ADMIN)
@validate_request(HolidayRequest)
async def api_add_holiday(data: HolidayRequest) -> Any:
    holiday = await do_add_holiday(
        await db_session(),
        actor=require_user(),
        day=parse_jalali(data.date),
        name_fa=data.name_fa,
        name_en=data.name_en,
    )
    return {
        "date": holiday.day.isoformat(),
        "name_fa": holiday.name_fa,
        "name_en": holiday.name_en,
    }, 201
