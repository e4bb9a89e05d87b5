"""Sample content and helpers shared by the rulings tests (imported by conftest and tests)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from PIL import Image

from rulings.compose import (
    Attendance,
    BallotRecord,
    Board,
    BoardType,
    Claim,
    Decision,
    Member,
    MemberVote,
    MinorityOpinion,
    MinutesContent,
    MotionRecord,
    Party,
    PartyRole,
    Phase,
    PhaseRecord,
    RulingContent,
    SeatGroup,
    Statement,
    Vote,
    compose_ruling,
)
from rulings.persian import Locale

ISSUED_AT = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)  # 07 Azar 1405, 12:00 Tehran
CASE_NUMBER = "1405-000123"
WORKER = "علی رضایی"
EMPLOYER = "شرکت صنایع نمونه"
CHAIR = "حسن کریمی"
WORKER_MEMBER = "رضا موسوی"
EMPLOYER_MEMBER = "نرگس تهرانی"


def require_binary(name: str) -> str:
    """Path of an external tool; skip the test when it is missing, but fail in CI.

    CI (env ``CI=true``) installs poppler-utils, so a missing tool there is a
    broken environment, not a reason to skip.
    """
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed (apt-get install poppler-utils)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; it is required in CI")
    pytest.skip(message)


def make_ruling(locale: Locale = "fa", *, claim_title: str | None = None) -> RulingContent:
    """A diagnosis board ruling: wages accepted, severance partly, overtime rejected."""
    return compose_ruling(
        board=Board(
            "هیأت تشخیص شماره ۲ تهران",
            BoardType.DIAGNOSIS,
            "اداره تعاون، کار و رفاه اجتماعی شمال تهران",
        ),
        ruling_number="1405-R-000045",
        issued_at=ISSUED_AT,
        case_number=CASE_NUMBER,
        parties=[
            Party(WORKER, PartyRole.CLAIMANT),
            Party(EMPLOYER, PartyRole.RESPONDENT, "مریم احمدی (وکیل)"),
        ],
        claims=[
            Claim(
                "1",
                "unpaid_wages",
                claim_title or "مطالبات مزد معوق",
                12_500_000,
                Decision.ACCEPTED,
                None,
                "فیش‌های حقوقی پرداخت نشدن مزد سه ماه را نشان می‌دهد.",
                "مواد ۳۵ و ۳۷ قانون کار",
            ),
            Claim(
                "2",
                "severance",
                "حق سنوات",
                30_000_000,
                Decision.PARTLY_ACCEPTED,
                20_000_000,
                "سابقه‌ی کار دو سال ثابت شد، نه سه سال.",
                "ماده ۲۴ قانون کار",
            ),
            Claim(
                "3",
                "overtime",
                "اضافه‌کاری",
                5_000_000,
                Decision.REJECTED,
                None,
                "دلیلی بر انجام اضافه‌کاری ارائه نشد.",
                "ماده ۵۹ قانون کار",
            ),
        ],
        members=[
            Member(
                CHAIR,
                SeatGroup.GOVERNMENT,
                True,
                (
                    MemberVote("1", Vote.ACCEPT),
                    MemberVote("2", Vote.PARTLY_ACCEPT),
                    MemberVote("3", Vote.REJECT),
                ),
                ISSUED_AT + timedelta(minutes=20),
            ),
            Member(
                WORKER_MEMBER,
                SeatGroup.WORKER,
                False,
                (
                    MemberVote("1", Vote.ACCEPT),
                    MemberVote("2", Vote.ACCEPT),
                    MemberVote("3", Vote.ACCEPT),
                ),
                ISSUED_AT + timedelta(minutes=25),
            ),
            Member(
                EMPLOYER_MEMBER,
                SeatGroup.EMPLOYER,
                False,
                (
                    MemberVote("1", Vote.ACCEPT),
                    MemberVote("2", Vote.PARTLY_ACCEPT),
                    MemberVote("3", Vote.REJECT),
                ),
                None,
            ),
        ],
        minority_opinions=[
            MinorityOpinion(WORKER_MEMBER, "به نظر اینجانب اضافه‌کاری با گواهی همکاران ثابت است.")
        ],
        objection_days=15,
        audit_chain_head="9f" * 32,
        verification_code="K7QF-2MZP-9XTA",
        verification_url="https://heyat.example/verify/K7QF-2MZP-9XTA",
        locale=locale,
    )


def make_minutes(locale: Locale = "fa") -> MinutesContent:
    start = ISSUED_AT - timedelta(hours=2)
    ballots = (
        BallotRecord(CHAIR, SeatGroup.GOVERNMENT, Vote.ACCEPT),
        BallotRecord(WORKER_MEMBER, SeatGroup.WORKER, Vote.ACCEPT),
        BallotRecord(EMPLOYER_MEMBER, SeatGroup.EMPLOYER, Vote.REJECT),
    )
    return MinutesContent(
        board=Board("هیأت تشخیص شماره ۲ تهران", BoardType.DIAGNOSIS, "اداره کار شمال تهران"),
        hearing_ref="H-1405-0077",
        case_numbers=(CASE_NUMBER,),
        hearing_started_at=start,
        hearing_closed_at=start + timedelta(hours=1, minutes=40),
        attendance=(
            Attendance(CHAIR, "member", SeatGroup.GOVERNMENT, start),
            Attendance(WORKER_MEMBER, "member", SeatGroup.WORKER, start + timedelta(minutes=2)),
            Attendance(EMPLOYER_MEMBER, "member", SeatGroup.EMPLOYER, start),
            Attendance(
                WORKER,
                "claimant",
                None,
                start + timedelta(minutes=5),
                start + timedelta(minutes=50),
            ),
        ),
        phases=(
            PhaseRecord(Phase.LOBBY, start),
            PhaseRecord(Phase.HEARING, start + timedelta(minutes=5)),
            PhaseRecord(Phase.DELIBERATION, start + timedelta(minutes=50)),
            PhaseRecord(Phase.VOTING, start + timedelta(minutes=80)),
            PhaseRecord(Phase.CLOSED, start + timedelta(minutes=100)),
        ),
        statements=(
            Statement(start + timedelta(minutes=10), WORKER, "سه ماه است مزدم پرداخت نشده."),
        ),
        motions=(MotionRecord("مطالبات مزد معوق", Decision.ACCEPTED, ballots, 12_500_000),),
        dissents=(MinorityOpinion(EMPLOYER_MEMBER, "پرداخت بخشی از مزد ثابت است."),),
        audit_chain_head="ab" * 32,
        verification_code="M1N2-UTES-0001",
        verification_url="https://heyat.example/verify/M1N2-UTES-0001",
        locale=locale,
    )


_BIDI_CONTROLS = re.compile("[\u200c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def pdf_text(pdftotext: str, pdf: bytes) -> str:
    """Text of a PDF per poppler, without bidi controls and ZWNJ (pdftotext drops/adds them)."""
    out = subprocess.run([pdftotext, "-q", "-", "-"], input=pdf, capture_output=True, check=True)
    return _BIDI_CONTROLS.sub("", out.stdout.decode())


def non_white_pixels(pdftoppm: str, pdf: bytes) -> int:
    """Dark pixels on page 1 rendered at 50 dpi by poppler."""
    png = subprocess.run(
        [pdftoppm, "-r", "50", "-png", "-f", "1", "-l", "1", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    ).stdout
    image = Image.open(BytesIO(png)).convert("L")
    return sum(image.histogram()[:200])
