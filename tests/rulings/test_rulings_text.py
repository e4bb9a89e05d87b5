"""The ruling's text extracts as written: copy, search and indexing read the words the
board wrote, including those with the lam-alef ligature («اختلاف», «ابلاغ»), and the
PDF still signs and verifies."""

import re
from collections.abc import Callable
from io import BytesIO

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from rulings_testkit import pdf_text

from rulings.compose import RulingContent
from rulings.pki import PkiPaths
from rulings.render import render_pdf, rtl_ligatures_in_visual_order
from rulings.sign import SignerConfig, sign_pdf
from rulings.verify import load_trust_roots

# Each lam-alef form (isolated, final, with hamza above), the Allah ligature, words
# beside a digit and beside Latin text: what pdftotext gets must be these words.
WORDS = ("اختلاف", "ابلاغ", "لازم", "کلاس", "تلألؤ", "لیلا", "الله", "ملاحظه")
TITLE = "اختلاف در ابلاغ لازم کلاس تلألؤ لیلا الله ملاحظه ۱۲ ABC"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\u0600-\u06ff]+", text))


@pytest.fixture(scope="module")
def lam_alef_pdf() -> bytes:
    from rulings_testkit import make_ruling

    return render_pdf(make_ruling("fa", claim_title=TITLE))


def test_pdftotext_extracts_lam_alef_words_as_written(lam_alef_pdf: bytes, pdftotext: str) -> None:
    words = _words(pdf_text(pdftotext, lam_alef_pdf))
    for word in WORDS:
        assert word in words, word
    # The reversed forms the PDF used to yield are nowhere.
    assert not {"اختالف", "ابالغ", "الزم", "کالس", "لیال"} & words


def test_latin_text_and_names_are_untouched(
    ruling_factory: Callable[..., RulingContent], pdftotext: str
) -> None:
    """Only right-to-left ligatures change: English words (fi, ff…) extract as before."""
    pdf = render_pdf(ruling_factory("en", claim_title="Office staff: final affidavit, fluffy"))
    text = pdf_text(pdftotext, pdf)
    for word in ("Office", "final", "affidavit", "fluffy"):
        assert word in text


def test_the_finisher_reverses_only_strong_rtl_multi_character_mappings() -> None:
    class Stream:
        def __init__(self, lines: list[bytes]) -> None:
            self.stream = lines

    class Pdf:
        def __init__(self, objects: list[object]) -> None:
            self.objects = objects

    cmap = Stream(
        [
            b"begincmap",
            b"5 beginbfchar",
            b"<0516> <06440627>",  # lam-alef -> drawn order alef, lam
            b"<0517> <06440623>",  # lam-alef with hamza
            b"<0020> <00660069>",  # "fi": left to right, unchanged
            b"<0021> <0644064e>",  # lam with fatha (a mark): unchanged
            b"<0022> <0627>",  # one character: unchanged
            b"endbfchar",
        ]
    )
    content = Stream([b"<0516> <06440627>"])  # a content stream, not a CMap: untouched
    rtl_ligatures_in_visual_order(None, Pdf([cmap, content, None]))
    assert cmap.stream[2:7] == [
        b"<0516> <06270644>",
        b"<0517> <06230644>",
        b"<0020> <00660069>",
        b"<0021> <0644064e>",
        b"<0022> <0627>",
    ]
    assert content.stream == [b"<0516> <06440627>"]


async def test_the_signed_ruling_verifies_and_still_extracts(
    lam_alef_pdf: bytes, board_pki: PkiPaths, pdftotext: str
) -> None:
    signed = await sign_pdf(lam_alef_pdf, SignerConfig(board_pki.board_p12, b"board-secret"))
    reader = PdfFileReader(BytesIO(signed))
    (signature,) = reader.embedded_signatures
    context = ValidationContext(
        trust_roots=load_trust_roots(board_pki.ca_cert.read_bytes()), allow_fetching=False
    )
    status = await async_validate_pdf_signature(signature, signer_validation_context=context)
    assert status.intact and status.valid and status.trusted
    words = _words(pdf_text(pdftotext, signed))
    assert "اختلاف" in words and "ابلاغ" in words
