"""Seals: a detached CMS signature over a short message (an audit-chain checkpoint), made
with the board's certificate and, when a timestamp authority is configured, carrying an
RFC 3161 signature timestamp (pyHanko's general-data signing and its CMS validator).

Like PDF signing, sealing and checking run in a worker thread with their own event loop:
pyHanko's "async" calls still hash and build the CMS inline.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

from rulings.sign import SignerConfig, SigningError, load_signer
from rulings.verify import load_trust_roots


@dataclass(frozen=True)
class SealStatus:
    """What a seal says about ``message``: ``ok`` only when intact, valid and trusted."""

    intact: bool
    valid: bool
    trusted: bool
    signer_subject: str | None = None
    timestamp: datetime | None = None  # the TSA's time, when the seal carries a token
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.error is None


async def _seal_on_loop(message: bytes, config: SignerConfig) -> bytes:
    signer = load_signer(config)
    timestamper = (
        HTTPTimeStamper(config.tsa_url, timeout=config.tsa_timeout_seconds)
        if config.tsa_url
        else None
    )
    try:
        signed = await signer.async_sign_general_data(
            message, "sha256", detached=True, timestamper=timestamper
        )
    except Exception as exc:  # a TSA that does not answer, a key that cannot sign…
        raise SigningError(f"The seal could not be made: {exc}") from exc
    return bytes(signed.dump())


async def seal(message: bytes, config: SignerConfig) -> bytes:
    """The DER of a CMS ContentInfo (SignedData, detached) over ``message``."""
    return await asyncio.to_thread(asyncio.run, _seal_on_loop(message, config))


async def _check_on_loop(message: bytes, sealed: bytes, trust_roots_pem: bytes) -> SealStatus:
    try:
        roots = load_trust_roots(trust_roots_pem)
        info = cms.ContentInfo.load(sealed)
        signed_data = info["content"]
        context = ValidationContext(trust_roots=roots, allow_fetching=False)
        status = await async_validate_detached_cms(
            message, signed_data, signer_validation_context=context
        )
    except Exception as exc:  # an unparsable blob is a broken seal, never a crash
        return SealStatus(False, False, False, error=f"The seal could not be read: {exc}")
    timestamp = (
        status.timestamp_validity.timestamp if status.timestamp_validity is not None else None
    )
    subject: str | None
    try:
        subject = str(status.signing_cert.subject.human_friendly)
    except Exception:
        subject = None
    return SealStatus(
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        signer_subject=subject,
        timestamp=timestamp,
    )


async def check_seal(message: bytes, sealed: bytes, trust_roots_pem: bytes) -> SealStatus:
    """Does ``sealed`` seal exactly ``message``, with a certificate from ``trust_roots_pem``?"""
    return await asyncio.to_thread(asyncio.run, _check_on_loop(message, sealed, trust_roots_pem))
