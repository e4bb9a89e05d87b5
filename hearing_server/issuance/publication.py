"""Publishing the anonymised copy of each final ruling (issue #16, transparency).

A ruling is published once it is final (``RulingState.FINAL``): on issue for a
settlement board, when the finality sweep marks it for a diagnosis board. Publication
is lazy and idempotent: :func:`publish_pending` asks which final rulings have no public
copy yet and publishes them, in three steps so no transaction is held while a PDF is
rendered or signed:

1. compose, in a read-only transaction: the redacted contents (``rulings.redact``)
   from the ruling's snapshot, the case's parties and the office's setting;
2. render and sign, outside any transaction (WeasyPrint in the render pool, pyHanko
   in a worker thread), with the board's certificate, as a derivative: the copy's own
   verification code, the original's in its text and in its metadata;
3. record, in a second transaction: the file, the ``public_rulings`` row and the audit
   event — unless the ruling stopped being final meanwhile or another process
   published it first (the unique ``ruling_id`` decides).

The finality loop calls it after each sweep (``finality.run_forever``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from persiantools.jdatetime import JalaliDate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hearing_server.audit.services import do_record
from hearing_server.boards.models import LabourOffice
from hearing_server.cases.files import (
    StoredBytes,
    discard_unrecorded,
    do_record_file,
    store_file_bytes,
)
from hearing_server.cases.models import Case, CaseParty
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.db import Database
from hearing_server.errors import Conflict
from hearing_server.issuance.codes import new_verification_code, verification_url
from hearing_server.issuance.compose import ruling_content
from hearing_server.issuance.models import PublicRuling, Ruling, RulingState
from hearing_server.issuance.signing import signer_config
from hearing_server.text import normalize_digits, normalize_persian
from rulings import compose as rc
from rulings.persian import to_tehran
from rulings.redact import (
    CaseIdentity,
    PartyIdentity,
    PublicRulingContent,
    public_text,
    redact_ruling,
)
from rulings.render import FontMissingError, RenderError, render_pdf_async
from rulings.sign import SigningError, sign_pdf

log = logging.getLogger(__name__)

BATCH = 10
PUBLIC_SIGNING_REASON = "Anonymised public copy of a ruling of the labour dispute board"


def search_fold(text: str) -> str:
    """Text as the public search compares it: ASCII digits, ی/ک for ي/ى/ك, lower case,
    single spaces, and no zero-width (non-)joiner («نیک‌نام» = «نیکنام»)."""
    plain = normalize_persian(normalize_digits(text)).lower()
    return plain.replace("\u200c", "").replace("\u200d", "")


def is_legal_entity(party: CaseParty) -> bool:
    """A company or other legal person: an 11-digit national ID or a registration number."""
    digits = normalize_digits(party.national_id or "").strip()
    return len(digits) == 11 or bool((party.registration_number or "").strip())


def case_identity(case: Case) -> CaseIdentity:
    """What identifies the case's parties and workshop (``case.parties`` loaded)."""
    return CaseIdentity(
        parties=tuple(
            PartyIdentity(
                role=rc.PartyRole(p.role.value),
                name=p.full_name,
                legal_entity=is_legal_entity(p),
                national_id=p.national_id,
                registration_number=p.registration_number,
                mobile=p.mobile,
                address=p.address,
                representative=p.representative_name,
            )
            for p in case.parties
        ),
        workshop_name=case.workshop_name,
        workshop_address=case.workshop_address,
    )


def outcome_of(content: rc.RulingContent) -> str:
    """accepted (every claim), rejected (every claim), else partly_accepted."""
    decisions = {c.decision for c in content.claims}
    if decisions == {rc.Decision.ACCEPTED}:
        return "accepted"
    if decisions == {rc.Decision.REJECTED}:
        return "rejected"
    return "partly_accepted"


def jalali_key(day: object) -> str:
    """``1405/09/11``: the Jalali date with ASCII digits, sorting as the dates do."""
    jdate = JalaliDate(day)  # type: ignore[no-untyped-call]  # persiantools is untyped
    return f"{jdate.year:04d}/{jdate.month:02d}/{jdate.day:02d}"


@dataclass(frozen=True)
class Composed:
    """Step 1's result for one ruling: what to render and the row's facets."""

    ruling_id: int
    content: PublicRulingContent
    office_id: int
    board_id: int


async def compose_public(
    session: AsyncSession, settings: Settings, ruling: Ruling, *, code: str | None = None
) -> Composed:
    """The anonymised copy of a final ruling. Raises Conflict when it is not final or its
    parties no longer match the snapshot (the copy is then not made)."""
    if ruling.state != RulingState.FINAL:
        raise Conflict("Only a final ruling is published.")
    case = await session.scalar(
        select(Case).options(selectinload(Case.parties)).where(Case.id == ruling.case_id)
    )
    if case is None:
        raise Conflict("The record is missing.")
    office = await session.get(LabourOffice, case.office_id)
    publish_names = bool(office is not None and office.publish_entity_names)
    public_code = code or new_verification_code()
    try:
        content = redact_ruling(
            ruling_content(ruling),
            case_identity(case),
            publish_entity_names=publish_names,
            public_code=public_code,
            public_url=verification_url(settings, public_code),
        )
    except rc.CompositionError as exc:
        raise Conflict(
            "Ruling {number} cannot be published: {reason}", number=ruling.number, reason=str(exc)
        ) from exc
    return Composed(ruling.id, content, case.office_id, case.board_id)


async def render_public(settings: Settings, content: PublicRulingContent) -> bytes:
    """The signed PDF of the public copy (outside any transaction)."""
    config = replace(signer_config(settings), reason=PUBLIC_SIGNING_REASON)
    if not config.pkcs12_path.is_file():
        raise Conflict(
            "The board's signing certificate is not set up. Run `heyat pki init` or import one."
        )
    try:
        pdf = await render_pdf_async(content)
        return await sign_pdf(pdf, config)
    except FontMissingError as exc:
        raise Conflict(
            "PDF rendering is not available: the Vazirmatn font is not installed."
        ) from exc
    except (RenderError, SigningError) as exc:
        raise Conflict("The document could not be rendered: {reason}", reason=str(exc)) from exc


async def do_record_public(
    session: AsyncSession, settings: Settings, composed: Composed, stored: StoredBytes
) -> PublicRuling | None:
    """Record the signed copy (its file written already, :func:`store_file_bytes`) and its
    row; None when the ruling is no longer final or was published meanwhile."""
    ruling = await session.get(Ruling, composed.ruling_id)
    if ruling is None or ruling.state != RulingState.FINAL:
        return None
    exists = await session.scalar(
        select(PublicRuling.id).where(PublicRuling.ruling_id == composed.ruling_id)
    )
    if exists is not None:
        return None
    public = composed.content
    r = public.ruling
    day = to_tehran(r.issued_at).date()
    jalali = jalali_key(day)
    digest = await do_record_file(session, settings.files_dir, stored)
    row = PublicRuling(
        ruling_id=composed.ruling_id,
        code=public.verification_code,
        pdf_sha256=digest,
        published_at=utcnow(),
        office_id=composed.office_id,
        board_id=composed.board_id,
        claim_kinds="|" + "|".join(sorted({c.kind for c in r.claims})) + "|",
        outcome=outcome_of(r),
        ruled_on=day,
        jalali_date=jalali,
        title="، ".join(c.title for c in r.claims)[:300],
        content=public.to_dict(),
        search_text=search_fold(public_text(public) + " " + jalali),
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return None  # another process published it first
    await do_record(
        session,
        actor_id=None,
        action="ruling.published",
        subject_type="ruling",
        subject_id=composed.ruling_id,
        payload={
            "code": row.code,
            "pdf_sha256": digest,
            "derived_from": public.original_verification_code,
        },
    )
    return row


async def pending_ruling_ids(session: AsyncSession, limit: int = BATCH) -> list[int]:
    """Final rulings with no public copy yet, oldest first."""
    published = select(PublicRuling.ruling_id)
    return list(
        await session.scalars(
            select(Ruling.id)
            .where(Ruling.state == RulingState.FINAL, Ruling.id.not_in(published))
            .order_by(Ruling.id)
            .limit(limit)
        )
    )


async def publish_pending(db: Database, settings: Settings, limit: int = BATCH) -> int:
    """Publish up to ``limit`` final rulings without a public copy; returns how many.

    A ruling that cannot be published (no certificate, a render failure) is logged and
    left for the next pass; the others go on.
    """
    async with db.transaction(write=False) as session:
        composed: list[Composed] = []
        for ruling_id in await pending_ruling_ids(session, limit):
            ruling = await session.get(Ruling, ruling_id)
            if ruling is None:
                continue
            try:
                composed.append(await compose_public(session, settings, ruling))
            except Conflict:
                log.exception("ruling %s cannot be published", ruling.number)
    made = 0
    for item in composed:
        try:
            pdf = await render_public(settings, item.content)
        except Conflict:
            log.exception("the public copy of ruling %s was not rendered", item.ruling_id)
            continue
        stored = await store_file_bytes(settings.files_dir, pdf)  # fsynced before the transaction
        recorded = None
        try:
            async with db.transaction() as session:
                recorded = await do_record_public(session, settings, item, stored)
        finally:
            if recorded is None:
                await discard_unrecorded(db, settings.files_dir, stored)
        if recorded is not None:
            made += 1
    return made
