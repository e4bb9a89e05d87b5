from typing import Any

from sqlalchemy import func, select

from hearing_server.law.rules import BoardType
from hearing_server.scheduling.models import PanelSeat, Summons
from tests.factories import make_case, make_hearing


async def test_factories_build_a_hearing(db: Any) -> None:
    async with db.transaction() as session:
        case = await make_case(session)
        hearing = await make_hearing(session, cases=[case])
        s = await make_case(session, board_type=BoardType.SETTLEMENT)
        h2 = await make_hearing(session, cases=[s], board_type=BoardType.SETTLEMENT)
    async with db.transaction(write=False) as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(PanelSeat)
                .where(PanelSeat.hearing_id == hearing.id)
            )
            == 3
        )
        assert (
            await session.scalar(
                select(func.count()).select_from(PanelSeat).where(PanelSeat.hearing_id == h2.id)
            )
            == 9
        )
        assert (
            await session.scalar(
                select(func.count()).select_from(Summons).where(Summons.hearing_id == hearing.id)
            )
            == 2
        )
