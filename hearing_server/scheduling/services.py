# TEMPORARY shim: the lead rewrites importers and deletes this file after the merge.
"""The scheduling services as they were imported before the split into modules by concern
(access, worktime, planning, summons, changes, forecast, queries); new code imports those."""

from __future__ import annotations

from hearing_server.scheduling.access import SCHEDULERS as SCHEDULERS
from hearing_server.scheduling.access import require_board as require_board
from hearing_server.scheduling.access import require_hearing as require_hearing
from hearing_server.scheduling.changes import do_cancel_hearing as do_cancel_hearing
from hearing_server.scheduling.changes import do_postpone_hearing as do_postpone_hearing
from hearing_server.scheduling.changes import do_record_session as do_record_session
from hearing_server.scheduling.changes import do_reschedule_hearing as do_reschedule_hearing
from hearing_server.scheduling.changes import do_swap_member as do_swap_member
from hearing_server.scheduling.forecast import FORECAST_GROUPS as FORECAST_GROUPS
from hearing_server.scheduling.forecast import Forecast as Forecast
from hearing_server.scheduling.forecast import GroupForecast as GroupForecast
from hearing_server.scheduling.forecast import forecast_text as forecast_text
from hearing_server.scheduling.forecast import latest_rules as latest_rules
from hearing_server.scheduling.forecast import quorum_forecast as quorum_forecast
from hearing_server.scheduling.forecast import rules_of as rules_of
from hearing_server.scheduling.models import ACTIVE as ACTIVE
from hearing_server.scheduling.planning import GROUP_LABELS as GROUP_LABELS
from hearing_server.scheduling.planning import MAX_AGENDA as MAX_AGENDA
from hearing_server.scheduling.planning import MAX_MINUTES as MAX_MINUTES
from hearing_server.scheduling.planning import MIN_MINUTES as MIN_MINUTES
from hearing_server.scheduling.planning import MIN_SLOT as MIN_SLOT
from hearing_server.scheduling.planning import AgendaEntry as AgendaEntry
from hearing_server.scheduling.planning import HearingPlan as HearingPlan
from hearing_server.scheduling.planning import PanelChoice as PanelChoice
from hearing_server.scheduling.planning import do_schedule_hearing as do_schedule_hearing
from hearing_server.scheduling.presentation import LABELS as LABELS
from hearing_server.scheduling.queries import HearingDetails as HearingDetails
from hearing_server.scheduling.queries import SeatOption as SeatOption
from hearing_server.scheduling.queries import accepted_cases as accepted_cases
from hearing_server.scheduling.queries import boards_for as boards_for
from hearing_server.scheduling.queries import hearing_details as hearing_details
from hearing_server.scheduling.queries import invitation_for as invitation_for
from hearing_server.scheduling.queries import list_board_hearings as list_board_hearings
from hearing_server.scheduling.queries import list_my_hearings as list_my_hearings
from hearing_server.scheduling.queries import schedulable as schedulable
from hearing_server.scheduling.summons import REMINDERS as REMINDERS
from hearing_server.scheduling.summons import do_answer_summons as do_answer_summons
from hearing_server.scheduling.worktime import SOLAR_HOLIDAYS as SOLAR_HOLIDAYS
from hearing_server.scheduling.worktime import Problems as Problems
from hearing_server.scheduling.worktime import WorkingHours as WorkingHours
from hearing_server.scheduling.worktime import check_working_time as check_working_time
from hearing_server.scheduling.worktime import do_add_holiday as do_add_holiday
from hearing_server.scheduling.worktime import do_seed_solar_holidays as do_seed_solar_holidays
from hearing_server.scheduling.worktime import holidays_between as holidays_between
from hearing_server.scheduling.worktime import parse_clock as parse_clock
from hearing_server.scheduling.worktime import parse_jalali as parse_jalali
from hearing_server.scheduling.worktime import tehran_to_utc as tehran_to_utc
