"""A signed PDF whose file the store has lost: the ruling and minutes downloads answer a
clear 404 ``file_missing`` in the caller's language and log an error, not a 500. (The
default ``settings`` of the tests have an empty file store, so the demo's ruling and
minutes PDFs are missing there.)"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select, update

from hearing_server.accounts.models import User
from hearing_server.issuance.models import Minutes, Ruling
from tests.conftest import OtpSource, Person, api_login

MESSAGES = {
    "en": "The signed PDF of this document is missing from the file store; "
    "the board's office must restore it.",
    "fa": "فایل PDF امضاشده‌ی این سند در بایگانی فایل‌ها پیدا نشد؛ "
    "دبیرخانه‌ی هیأت باید آن را بازگرداند.",
}


async def _demo_pdfs(db: Any) -> tuple[int, int]:
    async with db.transaction(write=False) as session:
        ruling = await session.scalar(select(Ruling.id).where(Ruling.pdf_sha256.is_not(None)))
        minutes = await session.scalar(select(Minutes.id).where(Minutes.pdf_sha256.is_not(None)))
    assert ruling is not None and minutes is not None
    return int(ruling), int(minutes)


@pytest.mark.parametrize("language", ["fa", "en"])
async def test_a_lost_pdf_is_a_404_that_says_so_and_is_logged(
    quart_app: Any,
    db: Any,
    people: dict[str, Person],
    otp: OtpSource,
    caplog: pytest.LogCaptureFixture,
    language: str,
) -> None:
    ruling_id, minutes_id = await _demo_pdfs(db)
    person = people["secretary"]
    async with db.transaction() as session:  # a signed-in user's own language wins
        await session.execute(
            update(User).where(User.username == person.username).values(locale=language)
        )
    client = quart_app.test_client()
    await api_login(client, person, otp)
    for path in (
        f"/api/v1/rulings/{ruling_id}/pdf",
        f"/api/v1/minutes/{minutes_id}/pdf",
    ):
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            response = await client.get(path, headers={"Accept-Language": language})
        assert response.status_code == 404, await response.get_data(as_text=True)
        error = (await response.get_json())["error"]
        assert error["code"] == "file_missing"
        assert error["message"] == MESSAGES[language]
        logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert any("missing from the file store" in r.getMessage() for r in logged), logged
    # The pages' download links answer the same (not a 500).
    page = await client.get(f"/rulings/{ruling_id}/pdf", headers={"Accept-Language": language})
    assert page.status_code == 404
