import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from rulings_testkit import CASE_NUMBER, EMPLOYER, WORKER, non_white_pixels, pdf_text

from rulings import render
from rulings.compose import MinutesContent, RulingContent
from rulings.render import FontMissingError, render_html, render_pdf, render_pdf_async
from rulings.verify import extract_verification_code


def test_fa_html_is_rtl_persian(ruling_fa: RulingContent) -> None:
    html = render_html(ruling_fa)
    assert '<html dir="rtl" lang="fa">' in html
    assert "۱۴۰۵-۰۰۰۱۲۳" in html  # case number in Persian digits
    assert "۰۷ آذر ۱۴۰۵" in html
    assert "سی و دو میلیون و پانصد هزار ریال" in html  # the total in words
    assert "data:image/svg+xml" in html  # the QR code


def test_fa_pdf_text_shows_case_parties_and_amount_in_words(
    rendered_fa_pdf: bytes, pdftotext: str
) -> None:
    text = pdf_text(pdftotext, rendered_fa_pdf)
    assert "۱۴۰۵-۰۰۰۱۲۳" in text
    assert WORKER in text
    assert EMPLOYER in text
    assert "دوازده میلیون و پانصد هزار" in text
    assert "سی و دو میلیون و پانصد هزار" in text
    assert re.search(r"صفحه\s*۱\s*از\s*۲", text)  # Persian page numbers


def test_fa_pdf_first_page_is_not_blank(rendered_fa_pdf: bytes, pdftoppm: str) -> None:
    assert non_white_pixels(pdftoppm, rendered_fa_pdf) > 2000


def test_en_pdf(ruling_en: RulingContent, pdftotext: str, pdftoppm: str) -> None:
    pdf = render_pdf(ruling_en)
    text = pdf_text(pdftotext, pdf)
    assert CASE_NUMBER in text
    assert "twelve million five hundred thousand" in text
    assert "7 Azar 1405" in text
    assert "Page 1 of" in text
    assert non_white_pixels(pdftoppm, pdf) > 2000


@pytest.mark.parametrize("locale", ["fa", "en"])
def test_minutes_pdf(
    locale: str, minutes_factory: Callable[..., MinutesContent], pdftotext: str
) -> None:
    minutes = minutes_factory(locale)
    pdf = render_pdf(minutes)
    text = pdf_text(pdftotext, pdf)
    assert WORKER in text
    assert ("رأی‌گیری".replace("\u200c", "") if locale == "fa" else "Voting") in text
    assert extract_verification_code(pdf) == "M1N2-UTES-0001"


def test_same_snapshot_renders_the_same_bytes(
    ruling_fa: RulingContent, rendered_fa_pdf: bytes
) -> None:
    again = render_pdf(RulingContent.from_json(ruling_fa.to_json()))
    assert again == rendered_fa_pdf


def test_verification_code_is_in_the_pdf_metadata(rendered_fa_pdf: bytes) -> None:
    assert extract_verification_code(rendered_fa_pdf) == "K7QF-2MZP-9XTA"


def test_missing_font_names_make_vendor(
    ruling_fa: RulingContent, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(render, "FONT_FILES", (tmp_path / "Vazirmatn-Regular.ttf",))
    with pytest.raises(FontMissingError, match="make vendor"):
        render_pdf(ruling_fa)


async def test_async_render_in_the_process_pool(ruling_fa: RulingContent) -> None:
    try:
        pdf = await render_pdf_async(ruling_fa)
    finally:
        render.shutdown_pool()
    assert pdf.startswith(b"%PDF-")
    assert extract_verification_code(pdf) == "K7QF-2MZP-9XTA"


async def test_async_render_with_a_given_executor(ruling_en: RulingContent) -> None:
    with ThreadPoolExecutor(max_workers=1) as executor:
        pdfs = await asyncio.gather(
            render_pdf_async(ruling_en, executor), render_pdf_async(ruling_en, executor)
        )
    assert pdfs[0] == pdfs[1]
