"""Quorum before the session: the statute a hearing is held under, and whether its panel
will be quorate given the members' answers to their summonses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.boards.models import Board, BoardRulesVersion
from hearing_server.errors import Conflict, NotFound
from hearing_server.i18n import LazyText
from hearing_server.law.rules import BoardRules, SeatGroup, quorum_status
from hearing_server.scheduling.models import Hearing, PanelAnswer, PanelSeat
from hearing_server.scheduling.notices import text_in

FORECAST_GROUPS = {
    SeatGroup.GOVERNMENT: "Government",
    SeatGroup.WORKER: "Workers",
    SeatGroup.EMPLOYER: "Employers",
}


async def latest_rules(session: AsyncSession, board: Board) -> BoardRulesVersion:
    """The rules a new hearing of ``board`` is held under: its type's latest version."""
    version = await session.scalar(
        select(BoardRulesVersion)
        .where(BoardRulesVersion.board_type == board.type)
        .order_by(BoardRulesVersion.version.desc())
        .limit(1)
    )
    if version is None:
        raise Conflict("The rules of this board type are not set up yet. Ask the administrator.")
    return version


async def rules_of(session: AsyncSession, hearing: Hearing) -> BoardRules:
    """The rules ``hearing`` was scheduled under (later versions do not apply to it)."""
    version = await session.get(BoardRulesVersion, hearing.rules_version_id)
    if version is None:
        raise NotFound("No such hearing.")
    return version.rules


@dataclass(frozen=True)
class GroupForecast:
    group: SeatGroup
    seats: int
    on_panel: int
    confirmed: int
    declined: int
    pending: int
    at_risk: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group.value,
            "seats": self.seats,
            "on_panel": self.on_panel,
            "confirmed": self.confirmed,
            "declined": self.declined,
            "pending": self.pending,
            "at_risk": self.at_risk,
        }


@dataclass(frozen=True)
class Forecast:
    """``state``: ``met`` (enough members confirmed), ``at_risk`` (only if pending members
    come), ``cannot_meet`` (even if every pending member came)."""

    state: str
    confirmed: int
    quorum: int
    groups: list[GroupForecast]

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "confirmed": self.confirmed,
            "quorum": self.quorum,
            "groups": [g.to_dict() for g in self.groups],
        }


def quorum_forecast(rules: BoardRules, panel: Sequence[PanelSeat]) -> Forecast:
    confirmed = dict.fromkeys(SeatGroup, 0)
    possible = dict.fromkeys(SeatGroup, 0)
    groups: list[GroupForecast] = []
    for seat in panel:
        if seat.answer is PanelAnswer.ATTENDING:
            confirmed[seat.group] += 1
        if seat.answer is not PanelAnswer.NOT_ATTENDING:
            possible[seat.group] += 1
    cap = {g: min(n, rules.seats[g]) for g, n in confirmed.items()}
    now_met = quorum_status(rules, cap)
    best = quorum_status(rules, {g: min(n, rules.seats[g]) for g, n in possible.items()})
    state = "met" if now_met.met else ("at_risk" if best.met else "cannot_meet")
    for group in (SeatGroup.GOVERNMENT, SeatGroup.WORKER, SeatGroup.EMPLOYER):
        seats = [s for s in panel if s.group is group]
        declined = sum(1 for s in seats if s.answer is PanelAnswer.NOT_ATTENDING)
        groups.append(
            GroupForecast(
                group=group,
                seats=rules.seats[group],
                on_panel=len(seats),
                confirmed=confirmed[group],
                declined=declined,
                pending=len(seats) - confirmed[group] - declined,
                at_risk=state != "met" and confirmed[group] < rules.seats[group],
            )
        )
    return Forecast(state=state, confirmed=now_met.present, quorum=rules.quorum, groups=groups)


def forecast_text(forecast: Forecast, locale: str) -> str:
    """One line per seat group, as the secretary reads it in a notification."""
    lines = []
    for g in forecast.groups:
        if g.seats == 0:
            continue
        line = text_in(
            locale,
            "{group}: {confirmed} of {seats} confirmed",
            group=LazyText(FORECAST_GROUPS[g.group]),
            confirmed=g.confirmed,
            seats=g.seats,
        )
        if g.at_risk:
            line += " — " + text_in(locale, "quorum at risk")
        lines.append(line)
    return "\n".join(lines)
