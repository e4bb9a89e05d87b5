"""Calendar invitations (.ics) for a hearing, built with the ``icalendar`` package.

Times are written in Asia/Tehran with a VTIMEZONE generated from this machine's
zoneinfo (Iran has had no daylight saving since 2022: +03:30 all year), so a
calendar program shows the session at the local hour the secretary chose.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlparse

import icalendar

from hearing_server.clock import utcnow
from rulings.persian import TEHRAN

PRODID = "-//Heyat//Labour dispute boards//FA"


def room_url(base_url: str, hearing_id: int) -> str:
    return f"{base_url.rstrip('/')}/hearings/{hearing_id}/room"


def hearing_uid(base_url: str, hearing_id: int) -> str:
    host = urlparse(base_url).hostname or "heyat"
    return f"hearing-{hearing_id}@{host}"


def build_ics(
    *,
    base_url: str,
    hearing_id: int,
    starts_at: datetime,
    duration_minutes: int,
    summary: str,
    description: str,
    case_numbers: Sequence[str],
    cancelled: bool = False,
    sequence: int = 0,
) -> str:
    """One VEVENT (METHOD:REQUEST, or METHOD:CANCEL when ``cancelled``) as .ics text."""
    if starts_at.tzinfo is None:
        raise ValueError("starts_at must be aware")
    start = starts_at.astimezone(TEHRAN)
    link = room_url(base_url, hearing_id)
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "CANCEL" if cancelled else "REQUEST")
    event = icalendar.Event()
    event.add("uid", hearing_uid(base_url, hearing_id))
    event.add("sequence", sequence)
    event.add("dtstamp", utcnow())
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=duration_minutes))
    event.add("summary", summary)
    numbers = ", ".join(case_numbers)
    event.add("description", f"{description}\n{numbers}\n{link}")
    event.add("location", link)
    event.add("url", link)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if case_numbers:
        event.add("categories", list(case_numbers))
    cal.add_component(event)
    cal.add_missing_timezones()
    return str(cal.to_ical().decode("utf-8"))
