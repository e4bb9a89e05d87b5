"""Sign with the board certificate; check with pyHanko's own validator and with ours."""

import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from rulings_testkit import require_binary

from rulings.pki import PkiPaths
from rulings.sign import SignerConfig, SigningError, sign_pdf, sign_pdf_sync
from rulings.verify import extract_verification_code, load_trust_roots, verify_pdf


@pytest.fixture(scope="session")
def board_signer(board_pki: PkiPaths) -> SignerConfig:
    return SignerConfig(board_pki.board_p12, b"board-secret")


@pytest.fixture(scope="session")
async def signed_pdf(rendered_fa_pdf: bytes, board_signer: SignerConfig) -> bytes:
    return await sign_pdf(rendered_fa_pdf, board_signer)


async def test_pyhanko_validator_says_intact_valid_trusted(
    signed_pdf: bytes, board_pki: PkiPaths
) -> None:
    reader = PdfFileReader(BytesIO(signed_pdf))
    (signature,) = reader.embedded_signatures
    assert signature.field_name == "HeyatBoard"
    context = ValidationContext(
        trust_roots=load_trust_roots(board_pki.ca_cert.read_bytes()), allow_fetching=False
    )
    status = await async_validate_pdf_signature(signature, signer_validation_context=context)
    assert status.intact
    assert status.valid
    assert status.trusted
    assert status.bottom_line


async def test_verify_pdf_says_authentic(signed_pdf: bytes, ca_pem: bytes) -> None:
    result = await verify_pdf(signed_pdf, ca_pem)
    assert result.authentic, result.error
    assert (result.signed, result.intact, result.valid, result.trusted) == (True,) * 4
    assert result.signer_subject is not None and "Heyat board signing" in result.signer_subject
    assert result.signed_at is not None and result.signed_at.tzinfo is not None
    assert result.verification_code == "K7QF-2MZP-9XTA"
    assert len(result.sha256) == 64


async def test_one_flipped_byte_is_detected(signed_pdf: bytes, ca_pem: bytes) -> None:
    # Flip a byte in the page content stream, well inside the signed byte range.
    index = signed_pdf.index(b"stream\n") + 40
    tampered = bytearray(signed_pdf)
    tampered[index] ^= 0x01
    result = await verify_pdf(bytes(tampered), ca_pem)
    assert not result.intact
    assert not result.authentic
    assert result.error


async def test_a_signature_from_another_ca_is_not_trusted(
    rendered_fa_pdf: bytes, other_pki: PkiPaths, ca_pem: bytes
) -> None:
    foreign = await sign_pdf(rendered_fa_pdf, SignerConfig(other_pki.board_p12, None))
    result = await verify_pdf(foreign, ca_pem)
    assert result.signed and result.intact and result.valid
    assert not result.trusted
    assert not result.authentic
    assert result.error is not None and "trusted" in result.error


async def test_content_appended_after_signing_is_not_intact(
    signed_pdf: bytes, board_signer: SignerConfig, ca_pem: bytes
) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(BytesIO(signed_pdf))
    writer.root["/HeyatForged"] = generic.NameObject("/Yes")
    writer.update_root()
    out = BytesIO()
    writer.write(out)
    result = await verify_pdf(out.getvalue(), ca_pem)
    assert not result.authentic
    assert not result.intact


@pytest.mark.parametrize(
    "data",
    [b"", b"not a pdf at all", bytes(range(256)) * 40, b"%PDF-1.7\n1 0 obj\n<<"],
    ids=["empty", "text", "random", "stub"],
)
async def test_garbage_is_not_authentic_and_does_not_raise(data: bytes, ca_pem: bytes) -> None:
    result = await verify_pdf(data, ca_pem)
    assert not result.authentic
    assert result.error


async def test_truncated_and_unsigned_pdfs(
    signed_pdf: bytes, rendered_fa_pdf: bytes, ca_pem: bytes
) -> None:
    truncated = await verify_pdf(signed_pdf[: len(signed_pdf) // 2], ca_pem)
    assert not truncated.authentic
    unsigned = await verify_pdf(rendered_fa_pdf, ca_pem)
    assert not unsigned.signed and not unsigned.authentic
    assert unsigned.verification_code == "K7QF-2MZP-9XTA"


async def test_bad_trust_roots_do_not_raise(signed_pdf: bytes) -> None:
    result = await verify_pdf(signed_pdf, b"no certificate here")
    assert not result.authentic
    assert result.error


def test_verification_code_survives_signing(signed_pdf: bytes) -> None:
    assert extract_verification_code(signed_pdf) == "K7QF-2MZP-9XTA"
    assert extract_verification_code(b"garbage") is None


async def test_inline_signing_and_the_sync_api(
    rendered_fa_pdf: bytes, board_pki: PkiPaths, ca_pem: bytes
) -> None:
    inline = SignerConfig(board_pki.board_p12, b"board-secret", offload=False)
    result = await verify_pdf(await sign_pdf(rendered_fa_pdf, inline), ca_pem)
    assert result.authentic


def test_sync_signing_outside_a_loop(rendered_fa_pdf: bytes, board_pki: PkiPaths) -> None:
    signed = sign_pdf_sync(rendered_fa_pdf, SignerConfig(board_pki.board_p12, b"board-secret"))
    assert signed.startswith(rendered_fa_pdf)  # an incremental update: the original is kept


async def test_signing_errors_are_clear(
    rendered_fa_pdf: bytes, board_pki: PkiPaths, tmp_path: Path
) -> None:
    with pytest.raises(SigningError, match="wrong password"):
        await sign_pdf(rendered_fa_pdf, SignerConfig(board_pki.board_p12, b"nope"))
    with pytest.raises(SigningError, match="Cannot read"):
        await sign_pdf(rendered_fa_pdf, SignerConfig(tmp_path / "missing.p12"))
    with pytest.raises(SigningError, match="not a readable PDF"):
        await sign_pdf(b"not a pdf", SignerConfig(board_pki.board_p12, b"board-secret"))


def test_poppler_pdfsig_accepts_the_signature(signed_pdf: bytes, tmp_path: Path) -> None:
    pdfsig = require_binary("pdfsig")
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed_pdf)
    out = subprocess.run([pdfsig, str(path)], capture_output=True, text=True, check=False).stdout
    assert "Signature is Valid" in out
    assert "Total document signed" in out
