"""How scheduling's values read on a page: hearing statuses, panel answers, seat groups
and summons roles as msgids (translated by the page's ``sched_label`` filter)."""

from __future__ import annotations

from typing import Any

from hearing_server.law.rules import SeatGroup
from hearing_server.scheduling.models import HearingStatus, PanelAnswer

LABELS: dict[str, str] = {
    HearingStatus.SCHEDULED: "Scheduled",
    HearingStatus.IN_PROGRESS: "In progress",
    HearingStatus.HELD: "Held",
    HearingStatus.FAILED_QUORUM: "Failed for lack of quorum",
    HearingStatus.POSTPONED: "Postponed",
    HearingStatus.CANCELLED: "Cancelled",
    HearingStatus.MISSED: "Missed (not opened)",
    PanelAnswer.PENDING: "No answer yet",
    PanelAnswer.ATTENDING: "Attending",
    PanelAnswer.NOT_ATTENDING: "Not attending",
    SeatGroup.GOVERNMENT: "Government representative",
    SeatGroup.WORKER: "Workers' representative",
    SeatGroup.EMPLOYER: "Employers' representative",
    "claimant": "Claimant",
    "respondent": "Respondent",
    "representative": "Representative",
    "member": "Board member",
}


def label_msgid(value: Any) -> str:
    """The msgid naming ``value`` (the value itself, as text, when it has none)."""
    return LABELS.get(value, str(value))
