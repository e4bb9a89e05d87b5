"""The room's HTTP side: the page and the case file's PDFs, to the right people only."""

from __future__ import annotations

from typing import Any

from tests.conftest import OtpSource, Person, api_login
from tests.rooms.conftest import Room, case_pdf


async def test_pdf_goes_only_to_people_who_may_read_it(
    quart_app: Any, room: Room, people: dict[str, Person], otp: OtpSource
) -> None:
    base = f"/hearings/{room.hearing_id}/room/documents"
    member = quart_app.test_client()
    await api_login(member, people["member.emp1"], otp)
    got = await member.get(f"{base}/{room.board_doc}.pdf")
    assert got.status_code == 200 and got.mimetype == "application/pdf"
    assert (await member.get(f"{base}/{room.public_doc}.pdf")).status_code == 200
    assert await (await member.get(f"{base}/{room.public_doc}.pdf")).get_data() == case_pdf()
    assert (await member.get(f"{base}/{room.other_case_doc}.pdf")).status_code == 404
    worker = quart_app.test_client()
    await api_login(worker, people["worker"], otp)
    assert (await worker.get(f"{base}/{room.public_doc}.pdf")).status_code == 200
    assert (await worker.get(f"{base}/{room.board_doc}.pdf")).status_code == 404  # board only
    outsider = quart_app.test_client()
    await api_login(outsider, people["member.gov2"], otp)
    assert (await outsider.get(f"{base}/{room.public_doc}.pdf")).status_code == 403
    anonymous = quart_app.test_client()
    assert (await anonymous.get(f"{base}/{room.public_doc}.pdf")).status_code == 302


async def test_room_page_in_both_languages_and_refused_to_outsiders(
    quart_app: Any, room: Room, people: dict[str, Person], otp: OtpSource
) -> None:
    chair = quart_app.test_client()
    await api_login(chair, people["member.gov1"], otp)
    page = await chair.get(f"/hearings/{room.hearing_id}/room")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert '<html lang="fa" dir="rtl">' in html and "اتاق جلسه" in html
    assert "socket.io.min.js" in html and "js/room.js" in html
    outsider = quart_app.test_client()
    await api_login(outsider, people["clerk"], otp)
    refused = await outsider.get(f"/hearings/{room.hearing_id}/room")
    assert refused.status_code == 403
    assert "شما به این جلسه دعوت نشده‌اید." in await refused.get_data(as_text=True)
    missing = await chair.get(f"/hearings/{room.hearing_id + 999}/room")
    assert missing.status_code == 404
