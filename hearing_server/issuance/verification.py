"""Is this PDF, or this verification code, a ruling or minutes issued here? Anyone may
ask: the signature must be intact, valid and trusted by this installation's CA, the file
exactly the one issued, and a ruling the latest of its case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.cases.models import Case
from hearing_server.config import Settings
from hearing_server.errors import Conflict, NotFound
from hearing_server.issuance.codes import normalize_code
from hearing_server.issuance.files import load_blob
from hearing_server.issuance.models import Minutes, PublicRuling, Ruling, RulingState
from hearing_server.text import normalize_digits
from rulings.verify import VerifyResult, verify_pdf


@dataclass(frozen=True)
class Verdict:
    """What the verifier says. ``problems`` are msgids, shown translated."""

    authentic: bool
    kind: str | None = None  # "ruling" | "minutes"
    problems: tuple[str, ...] = ()
    sha256: str | None = None
    number: str | None = None
    case_number: str | None = None
    state: str | None = None
    issued_at: datetime | None = None
    final_at: datetime | None = None
    objection_deadline: datetime | None = None
    board: str | None = None
    signature: VerifyResult | None = None
    details: dict[str, Any] = field(default_factory=dict)


# The problems a verdict lists (msgids).
NOT_SIGNED = "The signature is missing, broken, or not made with this installation's certificate."
UNKNOWN_FILE = "The file's fingerprint matches no ruling or minutes issued here."
SUPERSEDED = "This ruling was replaced by a later ruling of the same case."
UNKNOWN_CODE = "No ruling or minutes has this verification code."
NOT_ISSUED = "This ruling has not been issued."
NOT_FINAL_NOW = "The ruling this anonymised copy was made from is no longer final."


async def latest_issued_id(session: AsyncSession, case_id: int) -> int | None:
    """The case's newest ruling past draft, whatever became of it since."""
    latest: int | None = await session.scalar(
        select(Ruling.id)
        .where(Ruling.case_id == case_id, Ruling.state != RulingState.DRAFT)
        .order_by(Ruling.version.desc())
        .limit(1)
    )
    return latest


async def _verdict_for_ruling(
    session: AsyncSession, ruling: Ruling, problems: list[str], signature: VerifyResult | None
) -> Verdict:
    case = await session.get(Case, ruling.case_id)
    if case is None:
        raise NotFound("The record is missing.")
    if ruling.state == RulingState.DRAFT:
        problems.append(NOT_ISSUED)
    elif (
        ruling.state == RulingState.SUPERSEDED
        or await latest_issued_id(session, case.id) != ruling.id
    ):
        problems.append(SUPERSEDED)
    return Verdict(
        authentic=not problems,
        kind="ruling",
        problems=tuple(problems),
        sha256=ruling.pdf_sha256,
        number=ruling.number,
        case_number=case.number,
        state=ruling.state.value,
        issued_at=ruling.issued_at,
        final_at=ruling.final_at,
        objection_deadline=ruling.objection_deadline,
        board=str(ruling.content.get("board", {}).get("name", "")),
        signature=signature,
    )


async def _verdict_for_public(
    session: AsyncSession, public: PublicRuling, problems: list[str], signature: VerifyResult | None
) -> Verdict:
    """An anonymised public copy: authentic while its ruling is final and the case's
    latest; ``details["original_code"]`` is the code of the ruling it derives from."""
    ruling = await session.get(Ruling, public.ruling_id)
    if ruling is None:
        raise NotFound("The record is missing.")
    case = await session.get(Case, ruling.case_id)
    if case is None:
        raise NotFound("The record is missing.")
    if ruling.state != RulingState.FINAL or await latest_issued_id(session, case.id) != ruling.id:
        problems.append(NOT_FINAL_NOW)
    return Verdict(
        authentic=not problems,
        kind="public_ruling",
        problems=tuple(problems),
        sha256=public.pdf_sha256,
        number=ruling.number,
        case_number=case.number,
        state=ruling.state.value,
        issued_at=ruling.issued_at,
        final_at=ruling.final_at,
        board=str(ruling.content.get("board", {}).get("name", "")),
        signature=signature,
        details={"original_code": ruling.verification_code, "public_code": public.code},
    )


def _verdict_for_minutes(
    minutes: Minutes, problems: list[str], signature: VerifyResult | None
) -> Verdict:
    return Verdict(
        authentic=not problems,
        kind="minutes",
        problems=tuple(problems),
        sha256=minutes.pdf_sha256,
        number=str(minutes.content.get("hearing_ref", "")),
        case_number="، ".join(minutes.content.get("case_numbers", [])) or None,
        state="signed",
        issued_at=minutes.signed_at,
        board=str(minutes.content.get("board", {}).get("name", "")),
        signature=signature,
    )


async def check_pdf(session: AsyncSession, settings: Settings, data: bytes) -> Verdict:
    """Authentic = the signature is intact, valid and trusted by this installation's CA,
    the file is exactly an issued ruling (or minutes), and it is the case's latest ruling."""
    ca = settings.pki_dir / "ca.pem"
    if not ca.is_file():
        raise Conflict("This installation has no certificate authority set up yet.")
    signature = await verify_pdf(data, ca.read_bytes())
    problems: list[str] = [] if signature.authentic else [NOT_SIGNED]
    digest = signature.sha256  # hashed in the worker with the rest, not on the loop
    ruling = await session.scalar(select(Ruling).where(Ruling.pdf_sha256 == digest))
    if ruling is not None:
        return await _verdict_for_ruling(session, ruling, problems, signature)
    minutes = await session.scalar(select(Minutes).where(Minutes.pdf_sha256 == digest))
    if minutes is not None:
        return _verdict_for_minutes(minutes, problems, signature)
    public = await session.scalar(select(PublicRuling).where(PublicRuling.pdf_sha256 == digest))
    if public is not None:
        return await _verdict_for_public(session, public, problems, signature)
    problems.append(UNKNOWN_FILE)
    return Verdict(authentic=False, problems=tuple(problems), sha256=digest, signature=signature)


async def check_code(session: AsyncSession, code: str) -> Verdict:
    """What the record behind a verification code says (the QR code leads here)."""
    normal = normalize_code(code)
    if normal is None:
        return Verdict(authentic=False, problems=(UNKNOWN_CODE,))
    ruling = await session.scalar(select(Ruling).where(Ruling.verification_code == normal))
    if ruling is not None:
        return await _verdict_for_ruling(session, ruling, [], None)
    minutes = await session.scalar(select(Minutes).where(Minutes.verification_code == normal))
    if minutes is not None:
        return _verdict_for_minutes(minutes, [], None)
    public = await session.scalar(select(PublicRuling).where(PublicRuling.code == normal))
    if public is not None:
        return await _verdict_for_public(session, public, [], None)
    return Verdict(authentic=False, problems=(UNKNOWN_CODE,))


async def latest_issued_pdf(
    session: AsyncSession, settings: Settings, case_number: str
) -> tuple[Ruling, bytes]:
    """The case's latest issued ruling and its signed PDF (for ``heyat ruling export``)."""
    case = await session.scalar(
        select(Case).where(Case.number == normalize_digits(case_number.strip()))
    )
    if case is None:
        raise NotFound("No case has the number {number}.", number=case_number)
    ruling_id = await latest_issued_id(session, case.id)
    ruling = await session.get(Ruling, ruling_id) if ruling_id else None
    if ruling is None or ruling.pdf_sha256 is None:
        raise NotFound("Case {number} has no issued ruling.", number=case_number)
    return ruling, await load_blob(settings.files_dir, ruling.pdf_sha256)
