"""Check an uploaded ruling or minutes PDF: signed, intact, valid and trusted.

:func:`verify_pdf` never raises on bad input: a random file, a truncated PDF or
an unsigned one give ``authentic=False`` with the reason in ``error``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

log = logging.getLogger(__name__)

VERIFICATION_CODE_KEY = "/heyatverificationcode"
"""Info-dictionary key WeasyPrint writes for ``<meta name="HeyatVerificationCode">``.

WeasyPrint lowercases custom metadata names; lookups here ignore case.
"""


@dataclass(frozen=True)
class VerifyResult:
    """What a verifier says about a PDF. ``authentic`` is true only when all checks pass."""

    signed: bool
    intact: bool
    valid: bool
    trusted: bool
    sha256: str
    signer_subject: str | None = None
    signed_at: datetime | None = None
    error: str | None = None  # the technical reason, in English (for logs and programs)
    verification_code: str | None = None
    problem: str | None = None  # what is wrong, one of PROBLEMS, for a reader's message
    authentic: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "authentic",
            self.signed and self.intact and self.valid and self.trusted and self.error is None,
        )


PROBLEMS = (
    "no_trust_roots",
    "not_pdf",
    "unsigned",
    "unreadable_signature",
    "changed",
    "appended",
    "invalid",
    "untrusted",
)
"""The codes of ``VerifyResult.problem``; a reader's message is chosen by code."""


def load_trust_roots(trust_roots_pem: bytes | str) -> list[asn1_x509.Certificate]:
    """Parse one or more PEM certificates into the form pyHanko's validator takes."""
    data = trust_roots_pem.encode() if isinstance(trust_roots_pem, str) else trust_roots_pem
    certs = x509.load_pem_x509_certificates(data)
    return [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in certs]


def _info_value(reader: Any, key: str) -> str | None:
    """Case-insensitive look-up in the PDF info dictionary (latest revision)."""
    try:
        info = reader.trailer_view.get("/Info")
        if info is None:
            return None
        info = info.get_object()
        for name, value in info.items():
            if str(name).lower() == key.lower():
                return str(value.get_object())
    except Exception:  # a damaged info dictionary is just "no code"
        log.debug("cannot read the PDF info dictionary", exc_info=True)
    return None


def extract_verification_code(pdf_bytes: bytes) -> str | None:
    """The Heyat verification code stored in the PDF's metadata, or None.

    Never raises: a non-PDF or a PDF without the entry gives None. The code is
    not proof of anything by itself; match it to the record, then verify.
    """
    try:
        reader = PdfFileReader(BytesIO(pdf_bytes), strict=False)
    except Exception:
        return None
    return _info_value(reader, VERIFICATION_CODE_KEY)


DERIVED_FROM_KEY = "/heyatderivativeof"
"""Info-dictionary key of an anonymised public copy: the original ruling's code."""


def extract_derived_from(pdf_bytes: bytes) -> str | None:
    """The verification code of the ruling an anonymised public copy derives from, or
    None (not a public copy, or not a readable PDF). Never raises."""
    try:
        reader = PdfFileReader(BytesIO(pdf_bytes), strict=False)
    except Exception:
        return None
    return _info_value(reader, DERIVED_FROM_KEY)


def _subject(cert: Any) -> str | None:
    try:
        return str(cert.subject.human_friendly)
    except Exception:
        return None


async def verify_pdf(
    pdf_bytes: bytes, trust_roots_pem: bytes | str, executor: Executor | None = None
) -> VerifyResult:
    """:func:`verify_pdf_sync` off the event loop: parsing and hashing a large PDF is
    CPU-bound pure Python, so by default it runs in :mod:`rulings.render`'s process pool
    (a thread would still hold the GIL against the loop)."""
    if executor is None:
        from rulings.render import worker_pool

        executor = worker_pool()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, verify_pdf_sync, pdf_bytes, trust_roots_pem)


def verify_pdf_sync(pdf_bytes: bytes, trust_roots_pem: bytes | str) -> VerifyResult:
    """Validate the last signature in ``pdf_bytes`` against ``trust_roots_pem``.

    ``intact`` here also requires the signature to cover the whole file: a PDF
    changed by an update appended after signing is not intact. No network
    access is made (no CRL/OCSP/AIA fetching); revocation is soft-fail.
    """
    digest = hashlib.sha256(pdf_bytes).hexdigest()

    def failed(problem: str, reason: str, **kwargs: Any) -> VerifyResult:
        base: dict[str, Any] = {"signed": False, "intact": False, "valid": False, "trusted": False}
        base.update(kwargs)
        return VerifyResult(sha256=digest, error=reason, problem=problem, **base)

    try:
        roots = load_trust_roots(trust_roots_pem)
    except ValueError as exc:
        return failed("no_trust_roots", f"The trust roots could not be read: {exc}")
    if not roots:
        return failed("no_trust_roots", "No trust root was given.")

    try:
        reader = PdfFileReader(BytesIO(pdf_bytes), strict=False)
        signatures = list(reader.embedded_signatures)
    except Exception as exc:
        return failed("not_pdf", f"The file is not a readable PDF: {exc}")
    code = _info_value(reader, VERIFICATION_CODE_KEY)
    if not signatures:
        return failed("unsigned", "The PDF carries no signature.", verification_code=code)

    embedded = signatures[-1]
    context = ValidationContext(trust_roots=roots, allow_fetching=False)
    try:
        status = validate_pdf_signature(embedded, signer_validation_context=context)
    except Exception as exc:
        # A byte flipped in the signature itself, an unparsable CMS blob…
        return failed(
            "unreadable_signature",
            f"The signature could not be validated: {exc}",
            signed=True,
            verification_code=code,
        )

    covers_all = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    intact = bool(status.intact) and covers_all
    valid = bool(status.valid)
    trusted = bool(status.trusted)
    error: str | None = None
    problem: str | None = None
    if not status.intact:
        problem = "changed"
        error = "The document was changed after it was signed (the signed digest does not match)."
    elif not covers_all:
        problem = "appended"
        error = "Content was added to the document after it was signed."
    elif not valid:
        problem = "invalid"
        error = "The signature is not cryptographically valid."
    elif not trusted:
        problem = "untrusted"
        error = "The signing certificate is not issued by a trusted Heyat authority."
    signed_at = status.signer_reported_dt
    if status.timestamp_validity is not None:
        signed_at = status.timestamp_validity.timestamp
    return VerifyResult(
        signed=True,
        intact=intact,
        valid=valid,
        trusted=trusted,
        sha256=digest,
        signer_subject=_subject(status.signing_cert),
        signed_at=signed_at,
        error=error,
        verification_code=code,
        problem=problem,
    )
