"""Fixtures for the issuance tests: the installation's PKI and decided cases shaped as
the voting service leaves them (closed motions, named ballots, chain head at close)."""

from __future__ import annotations

import hashlib
import re
import secrets
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from io import BytesIO
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from hearing_server.audit.services import do_record, get_chain_head
from hearing_server.cases.models import Case, CaseStatus, Claim, ClaimKind
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.law.rules import BoardType
from hearing_server.scheduling.models import HearingStatus, PanelSeat
from hearing_server.voting.models import Ballot, Motion, MotionKind, MotionState
from rulings.pki import PkiPaths, init_pki
from tests.conftest import OtpSource, Person, api_login, tool
from tests.factories import make_case, make_hearing

DISSENT = "به نظر اینجانب بخشی از مزد نقدی پرداخت شده است."


@pytest.fixture
def pki(settings: Settings) -> PkiPaths:
    return init_pki(settings.pki_dir)


@dataclass
class Decided:
    case_id: int
    case_number: str
    hearing_id: int
    claim_ids: list[int]
    voters: list[int]


@dataclass
class MotionPlan:
    kind: MotionKind
    outcome: str
    amount: int | None = None
    reasoning: str = "فیش‌های حقوقی پرداخت نشدن مزد را نشان می‌دهد."
    legal_basis: str = "مواد ۳۵ و ۳۷ قانون کار"
    against: tuple[str, ...] = ()  # seat groups voting against (one member each)
    opinion: str | None = None  # given by the members voting against


async def make_decided_case(
    db: Any,
    *,
    board_type: BoardType = BoardType.DIAGNOSIS,
    claims: list[tuple[ClaimKind, int | None]] | None = None,
    plans: list[MotionPlan] | None = None,
    claim_titles: list[str | None] | None = None,
    case_id: int | None = None,
) -> Decided:
    """A case (``case_id``'s, or a new one) heard and voted on: one motion per claim as
    ``plans`` say, its hearing held, the case decided — ready for a ruling."""
    claims = claims or [(ClaimKind.UNPAID_WAGES, 450_000_000), (ClaimKind.SEVERANCE, 300_000_000)]
    plans = plans or [
        MotionPlan(MotionKind.ACCEPT, "passed", against=("employer",), opinion=DISSENT),
        MotionPlan(MotionKind.PARTLY_ACCEPT, "passed", amount=200_000_000),
    ]
    async with db.transaction() as session:
        if case_id is None:
            case = await make_case(session, board_type=board_type, claims=claims)
        else:
            found = await session.get(Case, case_id)
            assert found is not None
            case = found
        hearing = await make_hearing(
            session, cases=[case], board_type=board_type, starts_at=utcnow() - timedelta(hours=2)
        )
        hearing.status = HearingStatus.HELD
        panel = list(
            await session.scalars(
                select(PanelSeat).where(PanelSeat.hearing_id == hearing.id).order_by(PanelSeat.id)
            )
        )
        rows = list(
            await session.scalars(
                select(Claim).where(Claim.case_id == case.id).order_by(Claim.position)
            )
        )
        for row, title in zip(rows, claim_titles or [], strict=False):
            row.title = title
        chair = next(p.member_id for p in panel if p.is_chair)
        eligible = [{"member_id": p.member_id, "group": p.group.value} for p in panel]
        for claim, plan in zip(rows, plans, strict=True):
            motion = Motion(
                hearing_id=hearing.id,
                case_id=case.id,
                claim_id=claim.id,
                kind=plan.kind,
                text=f"پیشنهاد دربارهٔ خواستهٔ {claim.position}",
                amount=plan.amount,
                reasoning=plan.reasoning,
                legal_basis=plan.legal_basis,
                rules_version_id=hearing.rules_version_id,
                state=MotionState.OPEN,
                opened_by_id=chair,
                opened_at=utcnow() - timedelta(minutes=30),
                eligible=eligible,
            )
            session.add(motion)
            await session.flush()
            against_left = list(plan.against)
            for seat in panel:
                choice = "for"
                if seat.group.value in against_left:
                    against_left.remove(seat.group.value)
                    choice = "against"
                event = await do_record(
                    session,
                    actor_id=seat.member_id,
                    action="ballot.cast",
                    subject_type="motion",
                    subject_id=motion.id,
                    payload={"choice": choice},
                )
                session.add(
                    Ballot(
                        motion_id=motion.id,
                        member_id=seat.member_id,
                        choice=choice,
                        opinion=plan.opinion if choice == "against" else None,
                        otp_step=1,
                        audit_seq=event.seq,
                        receipt=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
                    )
                )
            motion.state = MotionState.CLOSED
            motion.closed_at = utcnow() - timedelta(minutes=20)
            motion.closed_by_id = chair
            motion.outcome = plan.outcome
            motion.result = {"outcome": plan.outcome}
            await do_record(
                session,
                actor_id=chair,
                action="motion.closed",
                subject_type="motion",
                subject_id=motion.id,
                payload={"outcome": plan.outcome},
            )
            motion.chain_head_at_close = await get_chain_head(session)
        case.status = CaseStatus.DECIDED
        await session.flush()
        return Decided(
            case.id,
            str(case.number),
            hearing.id,
            [c.id for c in rows],
            [p.member_id for p in panel],
        )


async def login_as(quart_app: Any, person: Person, otp: OtpSource) -> tuple[Any, str]:
    client = quart_app.test_client()
    csrf = await api_login(client, person, otp)
    return client, csrf


async def draft_and_approve(
    quart_app: Any,
    people: dict[str, Person],
    otp: OtpSource,
    decided: Decided,
    *,
    approvers: list[str],
) -> tuple[Any, str, int]:
    """The secretary drafts; each of ``approvers`` approves with a fresh code.
    Returns the secretary's client, CSRF token and the ruling id."""
    secretary, csrf = await login_as(quart_app, people["secretary"], otp)
    made = await secretary.post(
        f"/api/v1/cases/{decided.case_id}/rulings", headers={"X-CSRF-Token": csrf}
    )
    body = await made.get_json()
    assert made.status_code == 201, body
    ruling_id = int(body["id"])
    for username in approvers:
        member, member_csrf = await login_as(quart_app, people[username], otp)
        answer = await member.post(
            f"/api/v1/rulings/{ruling_id}/approvals",
            json={"otp": otp.code(people[username].totp_secret)},
            headers={"X-CSRF-Token": member_csrf},
        )
        assert answer.status_code == 201, await answer.get_json()
    return secretary, csrf, ruling_id


_BIDI_CONTROLS = re.compile("[\u200c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def pdf_text(pdf: bytes) -> str:
    """Text of a PDF per poppler's pdftotext, without bidi controls and ZWNJ."""
    out = subprocess.run(
        [tool("pdftotext"), "-q", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return _BIDI_CONTROLS.sub("", out.stdout.decode())


def dark_pixels(pdf: bytes) -> int:
    """Dark pixels of page 1 rendered at 50 dpi by poppler's pdftoppm."""
    png = subprocess.run(
        [tool("pdftoppm"), "-r", "50", "-png", "-f", "1", "-l", "1", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    ).stdout
    image = Image.open(BytesIO(png)).convert("L")
    return sum(image.histogram()[:200])


async def pyhanko_status(pdf: bytes, ca_pem: bytes) -> Any:
    """pyHanko's own validator, used directly (not through rulings.verify)."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    roots = [asn1_x509.Certificate.load(der) for _t, _h, der in pem.unarmor(ca_pem, multiple=True)]
    reader = PdfFileReader(BytesIO(pdf))
    signature = reader.embedded_signatures[0]
    context = ValidationContext(trust_roots=roots, allow_fetching=False)
    return await async_validate_pdf_signature(signature, signer_validation_context=context)


def flip_byte(pdf: bytes) -> bytes:
    """One byte changed inside the signed content (the middle of the first content stream)."""
    at = pdf.index(b"stream", len(pdf) // 4) + 200
    return pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1 :]
